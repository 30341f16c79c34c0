"""`rnnlm train`: a run from a corpus, a TOML config and options, or a resumed run."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any

from rnnlm.config import (
    WORD_SPLITS,
    CaptionConfig,
    DataConfig,
    ModelConfig,
    RunConfig,
    Seq2SeqConfig,
    TrainConfig,
)
from rnnlm.configfile import from_dict, load_toml
from rnnlm.data.registry import REGISTRY, corpus_documents
from rnnlm.errors import RnnlmError
from rnnlm.options import Arg, Fields
from rnnlm.train.rundir import run_config
from rnnlm.train.trainer import train as run

Options = dict[str, Any]  # config fields given on the command line: {field: value}
# A captioner's defaults where they differ from a language model's (Xu et al. 2015's size,
# words of the captions, dropout for a few thousand captions)
CAPTION_DEFAULTS = {"data": {"tokenizer": "word", "batch_size": 32},
                    "model": {"layers": 1, "hidden": 512, "embedding": 256, "dropout": 0.5},
                    "train": {"lr": 1e-3, "eval_every": 250}}


def train(corpus: Annotated[list[str] | None,
                            Arg("a registered corpus name, or text files/folders "
                                "(with --captions: the images folder)")] = None, *,
          out: Annotated[str | None, Arg("run directory (default: runs/<corpus>)")] = None,
          resume: Annotated[str | None, Arg("continue a run from its last/ checkpoint",
                                            metavar="RUN")] = None,
          init_from: Annotated[str | None, Arg(
              "fine-tune: start from a trained model (its architecture and tokenizer; a char "
              "vocabulary gains the new characters)", metavar="CHECKPOINT")] = None,
          config: Annotated[str | None, Arg("[model], [data], [train] tables",
                                            metavar="FILE.toml")] = None,
          restart_schedule: Annotated[bool, Arg(
              "with --resume: a new learning-rate cycle (warmup, decay) over the budget still "
              "ahead (default: keep the run's schedule, whose horizon is its first budget)")
          ] = False,
          split: Annotated[str | None, Arg("the old spelling of --word-split",
                                           choices=WORD_SPLITS)] = None,
          model: Annotated[Options | None, Fields(ModelConfig)] = None,
          data: Annotated[Options | None, Fields(DataConfig)] = None,
          training: Annotated[Options | None, Fields(TrainConfig)] = None,
          seq2seq: Annotated[Options | None, Fields(Seq2SeqConfig)] = None,
          caption: Annotated[Options | None, Fields(CaptionConfig)] = None) -> Path:
    """Train a model on a corpus, or continue a run.

    The config is the defaults, then --config's tables, then the options given; a resumed
    run is its config.json with only its budget, evaluation and device options changed.
    Returns the run directory.
    """
    options = {"model": model or {}, "data": data or {}, "train": training or {},
               "seq2seq": seq2seq or {}, "caption": caption or {}}
    if split:
        options["data"].setdefault("word_split", split)
    if resume:
        if corpus or init_from or config:
            raise RnnlmError("a resumed run keeps its corpus and config; give only --resume "
                             "RUN and budget options (--max-steps, --max-time)")
        resumed = run_config(Path(resume)).with_options(options, resuming=True)
        return run(resumed, resume=resume, restart_schedule=restart_schedule)
    base = from_dict(load_toml(config), config) if config else RunConfig()
    base = dataclasses.replace(base, init_from=init_from or base.init_from)
    if corpus:
        base = dataclasses.replace(base, data=dataclasses.replace(base.data, corpus=corpus))
    if not base.data.corpus:
        raise RnnlmError("no corpus given; name one (`rnnlm corpus list`) or give a text "
                         "file: rnnlm train FILE")
    pairs = options["seq2seq"].get("pairs", base.seq2seq.pairs)
    registered = REGISTRY.get(base.data.corpus[0]) if len(base.data.corpus) == 1 else None
    if registered and registered.pairs and not pairs:
        raise RnnlmError(f"{registered.name} is a corpus of parallel pairs; train an "
                         f"encoder–decoder on it with --pairs {registered.pairs}")
    implied = corpus_documents(base.data.corpus)  # arxiv: one abstract per line
    if implied and not ({"mode", "documents"} & options["data"].keys()) and not config:
        options["data"]["documents"] = implied
    if pairs and "tokenizer" not in options["data"] and not config:
        options["data"]["tokenizer"] = "bpe"  # subwords by default on pairs
    if options["caption"].get("captions", base.caption.captions) and not config:
        for group, defaults in CAPTION_DEFAULTS.items():
            options[group] = {**defaults, **options[group]}
    return run(base.with_options(options), out=out, restart_schedule=restart_schedule)
