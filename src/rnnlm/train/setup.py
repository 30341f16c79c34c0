"""What a training run starts from, built from its config in one pass: corpus → prepared
splits (data.prepared: token ids on disk, reused by later runs) → tokenizer → model (fresh,
fine-tuned from a checkpoint, or resumed) → batches read from the prepared ids.

`prepare` returns the config as the run will use it (resolved, with the tokenizer's vocabulary
size, the corpus's sha256 and the precision chosen for the device) rather than changing the
one it was given.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch

from rnnlm.checkpoint import MODEL, load_model_dir, load_weights, resolve
from rnnlm.config import RunConfig
from rnnlm.data.batching import StreamBatches
from rnnlm.data.buckets import DocumentBatches
from rnnlm.data.corpora import load_corpus
from rnnlm.data.documents import Boundaries, cut_documents
from rnnlm.data.prepared import Prepared, PreparedSplit, prepare_corpus
from rnnlm.errors import RnnlmError
from rnnlm.inference.splits import describe, select, text_of
from rnnlm.models import LanguageModelNet, build_model
from rnnlm.models.rnn import grow_vocab
from rnnlm.runtime import pick_device, pick_precision, reuse_freed_memory
from rnnlm.tokenizers import Tokenizer, load_tokenizer
from rnnlm.train.distributed import ALONE, World

Weights = dict[str, torch.Tensor]
HINT = "give more text, or change --val-fraction"


@dataclass
class Start:
    """A run ready to train: its config as used, model, tokenizer, batches and val split."""

    config: RunConfig
    device: torch.device
    tokenizer: Tokenizer
    model: LanguageModelNet  # on the device, with its starting weights
    batches: StreamBatches | DocumentBatches
    val: PreparedSplit  # the validation split's ids: a stream, or documents
    split: str  # how the corpus was split, in words


def prepare(config: RunConfig, run_dir: Path, resuming: bool, world: World = ALONE
            ) -> Start:
    """Everything a run needs before its first step (a resumed run's tokenizer and weights
    come from run_dir; its optimizer and position are the trainer's to restore), for this
    rank of the world: its device and its block of the batch's columns."""
    config = config.resolve()
    t = config.train
    device = world.place(pick_device(t.device))
    if device.type == "cpu":
        reuse_freed_memory()  # no fresh pages for every large tensor of every step
    torch.manual_seed(t.seed)
    weights, tokenizer = None, None
    if resuming:
        tokenizer = load_tokenizer(run_dir / "tokenizer.json")
    elif config.init_from:
        train_text = text_of(select(load_corpus(config.data.corpus), config.data, "train", HINT))
        config, tokenizer, weights = fine_tune_start(config, train_text)
    elif config.data.tokenizer_from:
        tokenizer = load_tokenizer(resolve(config.data.tokenizer_from) / "tokenizer.json")
        config = dataclasses.replace(config, data=dataclasses.replace(
            config.data, tokenizer=tokenizer.kind))
    expect = config.data.corpus_sha256 if resuming else ""
    prepared = prepare_corpus(config.data, tokenizer, expect) if world.main else None
    # fitted on the training split only (unless given), once: the other ranks take rank 0's
    tokenizer = world.broadcast(prepared.tokenizer if prepared else None)
    prepared = prepared or prepare_corpus(config.data, tokenizer, expect)
    train_split, val = split(prepared, config)
    d = config.data
    extra = 2 if d.mode == "documents" else 0  # the BOD and EOD ids
    config = dataclasses.replace(
        config, model=dataclasses.replace(config.model, vocab_size=tokenizer.vocab_size + extra),
        data=dataclasses.replace(d, corpus_sha256=prepared.sha256),
        train=dataclasses.replace(t, precision=pick_precision(t.precision, device)))
    model = build_model(config.model, device)
    if resuming:  # weights load on the CPU, before the move (see checkpoint.load_weights)
        load_weights(model, run_dir / "last" / MODEL)
    elif weights is not None:
        model.load_state_dict(weights)
    model.to(device)
    return Start(config, device, tokenizer, model,
                 batches(config, tokenizer, train_split, device, world.block(d.batch_size)),
                 val, f"{prepared.name}: {describe(prepared, d)}")


def split(prepared: Prepared, config: RunConfig) -> tuple[PreparedSplit, PreparedSplit]:
    """The train and validation splits, or a one-line error when the corpus is too small."""
    for name in ("train", "val"):
        if not len(prepared.splits[name]):
            raise RnnlmError(f"{prepared.name} has no {name} split here "
                             f"({describe(prepared, config.data)}); {HINT}")
    val = prepared.splits["val"]
    if val.offsets is None and len(val) < 2:
        raise RnnlmError(f"corpus {prepared.name!r} is too small to split into training and "
                         f"validation text; {HINT}")
    return prepared.splits["train"], val


def batches(config: RunConfig, tokenizer: Tokenizer, train: PreparedSplit, device: torch.device,
            block: slice = slice(None)) -> StreamBatches | DocumentBatches:
    """The training batches, or the block of their columns (rows) one rank trains: stream
    columns, or document batches (pieces with --chunk)."""
    d, seed = config.data, config.train.seed
    if d.mode == "documents":
        docs = train.documents(Boundaries.after(tokenizer))
        return DocumentBatches(cut_documents(docs, d.max_length, d.chunk), d.batch_size, seed,
                               d.bucket, device, block)
    return StreamBatches(train.tokens, d.batch_size, d.seq_len, seed, device, block,
                         d.variable_bptt)


def fine_tune_start(config: RunConfig, train_text: str
                    ) -> tuple[RunConfig, Tokenizer, Weights]:
    """The config, tokenizer and weights to start from --init-from: its architecture and
    tokenizer. A char vocabulary gains the new text's unseen characters (added after its old
    ids, before any document boundaries; a stream model fine-tuned on documents gains those);
    the other tokenizers stay as they are, and the share of the new text they lack whole is
    reported (word: the OOV rate; mikolov/hybrid: words spelled out; bpe/unigram: bytes)."""
    src = resolve(config.init_from)
    old_model, tokenizer, old_config = load_model_dir(src)
    was_docs, docs = old_config.data.mode == "documents", config.data.mode == "documents"
    if was_docs and not docs:
        raise RnnlmError(f"{src} is a documents-mode model; fine-tune it with --documents "
                         f"(its vocabulary holds document boundaries)")
    weights = old_model.state_dict()
    known = tokenizer.vocab_size
    added = tokenizer.unknown(train_text)
    grown = tokenizer.extend(train_text)
    model_cfg = old_config.model
    if grown:  # new ids go right after the tokenizer's old ones (before BOD/EOD, if any)
        weights = grow_vocab(weights, model_cfg, model_cfg.vocab_size + grown, at=known)
        model_cfg = dataclasses.replace(model_cfg, vocab_size=model_cfg.vocab_size + grown)
    if docs and not was_docs:
        weights = grow_vocab(weights, model_cfg, model_cfg.vocab_size + 2)
    shown = "".join(added[:20]).encode("unicode_escape").decode("ascii")
    note = (f", adding {grown} new character(s): {shown}" if grown else
            f"; {tokenizer.fallback_rate(train_text):.2%} of the new text is outside it"
            if tokenizer.kind != "char" else "")
    print(f"fine-tuning from {src}: keeping its architecture and {old_config.model.vocab_size}-id "
          f"{tokenizer.kind} vocabulary{note}")
    old = old_config.data
    config = dataclasses.replace(
        config, model=dataclasses.replace(old_config.model, dropout=config.model.dropout),
        data=dataclasses.replace(config.data, tokenizer=old.tokenizer, vocab_size=old.vocab_size,
                                 syllables=old.syllables, word_split=old.word_split))
    return config, tokenizer, weights
