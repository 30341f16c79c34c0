"""`rnnlm eval`: score a run on held-out text, its own validation split by default."""

from __future__ import annotations

import dataclasses
import json as jsonlib
from pathlib import Path
from typing import Annotated

from rnnlm.captioning import CaptionResult, ImageCaptioner
from rnnlm.checkpoint import resolve
from rnnlm.config import PRECISIONS
from rnnlm.configfile import load_json
from rnnlm.data.pairs import parse_pairs
from rnnlm.data.text import read_text
from rnnlm.errors import RnnlmError
from rnnlm.inference.dynamic import RULES, Dynamic, DynamicResult, evaluate_dynamic
from rnnlm.inference.fusion import load_fusion
from rnnlm.inference.metrics import PairsResult
from rnnlm.inference.mixture import MixResult, load_other
from rnnlm.inference.mixture import mix as mixture
from rnnlm.inference.scoring import EvalResult
from rnnlm.inference.splits import held_out, reading
from rnnlm.language_model import LanguageModel
from rnnlm.options import Arg
from rnnlm.train.captions import captions_of
from rnnlm.train.pairs import pairs_of
from rnnlm.translation import Translator
from rnnlm.verbs import Checkpoint, CorpusName, Device, Documents, Run, Split, TextFile


def evaluate(run: Run, *, corpus: CorpusName = None, text: TextFile = None, split: Split = None,
             documents: Documents = None,
             per_token: Annotated[str | Path | None, Arg(
                 "write every token's log-probability (with --mix: the mixture's, then "
                 "columns run_nats and mix_nats; with --dynamic: the dynamic one, then "
                 "static_nats)", metavar="OUT.tsv")] = None,
             checkpoint: Checkpoint = "best", device: Device = "auto",
             precision: Annotated[str | None, Arg(
                 "default: the run's training precision", choices=PRECISIONS)] = None,
             beam: Annotated[int, Arg("pairs runs: beam size (1: greedy)")] = 5,
             alpha: Annotated[float, Arg("pairs runs: GNMT length penalty α")] = 0.6,
             lm: Annotated[str | None, Arg("pairs runs: shallow fusion with this language model",
                                           metavar="RUN")] = None,
             lm_weight: Annotated[float, Arg("pairs runs: λ of --lm")] = 0.2,
             rouge: Annotated[bool | None, Arg(
                 "pairs runs: ROUGE-1/2/L too (default: when targets are under half their "
                 "sources' length, as summaries are)")] = None,
             outputs: Annotated[str | None, Arg("pairs runs: write the outputs, one per line",
                                                metavar="OUT.txt")] = None,
             baselines: Annotated[bool, Arg(
                 "captioning runs: score the most frequent training caption and nearest-"
                 "neighbour retrieval too")] = False,
             mix: Annotated[str | None, Arg(
                 "interpolate per token with this n-gram model (from `rnnlm ngram train`) or "
                 "run, which must have the run's tokenizer and mode: p = λ·p_run + (1−λ)·"
                 "p_MODEL (across tokenizers a mixture would need character probabilities "
                 "from both, which rnnlm does not compute)",
                 metavar="MODEL.arpa|RUN")] = None,
             mix_weight: Annotated[float | None, Arg(
                 "λ of --mix, the run's share (default: tuned by EM on the run's "
                 "validation split)")] = None,
             dynamic: Annotated[bool, Arg(
                 "dynamic evaluation (Krause et al. 2018): after scoring each segment, one "
                 "gradient step on it; reported beside the static score of the same "
                 "segments (the run on disk is unchanged)")] = False,
             dynamic_rule: Annotated[str, Arg(
                 "sgd: θ ← θ − η∇ + λ(θ₀ − θ); rms: Krause's step divided by each weight's "
                 "RMS gradient on the first 65,536 training tokens, decay scaled by it",
                 choices=RULES)] = "rms",
             dynamic_lr: Annotated[float | None, Arg(
                 "η of --dynamic (default: rms 5e-5 for words, 2e-4 for char/byte, from "
                 "Krause's code; sgd 1e-2)")] = None,
             dynamic_decay: Annotated[float | None, Arg(
                 "λ of --dynamic, the pull back to the trained weights (default: rms 2e-3 "
                 "for words, 8e-3 for char/byte; sgd 0)")] = None,
             dynamic_segment: Annotated[int | None, Arg(
                 "tokens per --dynamic step (default: 5 for words, 20 for char/byte)")] = None,
             ) -> EvalResult | PairsResult | CaptionResult | MixResult | DynamicResult:
    """Score held-out text (full pass): the run's own validation split by default.

    The split is cut as the run cut it (inference/splits.py), so `--split val` is exactly the
    text it validated on; a documents-mode run scores each document from a zero state. A
    pairs run (an encoder–decoder) is scored on its test split by default: sacreBLEU BLEU and
    chrF of its search's outputs, perplexity per target token, ROUGE for summaries. A
    captioning run likewise: BLEU-1..4 and CIDEr-D of its captions of the test images.
    With --mix, a language model is scored beside its per-token mixture with an n-gram or
    another run (inference/mixture.py); with --dynamic, dynamic beside static evaluation
    (inference/dynamic.py).
    """
    config = load_json(resolve(run, checkpoint) / "config.json")
    if config.captions:
        if corpus or text:
            raise RnnlmError("a captioning run is scored on its own images; give --split "
                             "(val or test), not --corpus or --text")
        return evaluate_captions(run, split or "test", checkpoint, device, beam, baselines)
    if config.pairs:
        return evaluate_pairs(run, corpus, text, split, checkpoint, device, beam, alpha, lm,
                              lm_weight, rouge, outputs)
    lm = LanguageModel.load(run, device=device, which=checkpoint, precision=precision)
    data = reading(lm.config.data, documents, run)
    body, source = held_out(data, text, corpus, split)
    if mix and dynamic:
        raise RnnlmError("give --mix or --dynamic, not both")
    if mix:
        own_val = not (text or corpus) and split in (None, "val")
        tune_on = None if own_val or mix_weight is not None else held_out(data)
        return mixture(lm, load_other(mix, lm, device), (str(run), str(mix)), body, source,
                       mix_weight, tune_on, per_token)
    if dynamic:
        settings = Dynamic(dynamic_rule, dynamic_lr, dynamic_decay, dynamic_segment)
        result = evaluate_dynamic(lm, body, settings, per_token)
        result.static.source = result.dynamic.source = source
        return result
    result = lm.score(body, per_token=per_token)
    result.source = source
    return result


def evaluate_pairs(run: Run, corpus: str | None, text: str | Path | None, split: str | None,
                   checkpoint: str, device: str, beam: int, alpha: float, lm: str | None,
                   lm_weight: float, with_rouge: bool | None, outputs: str | None
                   ) -> PairsResult:
    """An encoder–decoder's scores on held-out pairs: its own test split by default, or a
    split of another pairs corpus, or a whole pairs file (in the run's --pairs format)."""
    translator = Translator.load(run, device=device, which=checkpoint)
    config = translator.config
    if corpus and text:
        raise RnnlmError("give either --corpus or --text, not both")
    if text:
        pairs = parse_pairs(read_text(Path(text)), config.seq2seq.pairs or "tsv", str(text))
        name = f"{text}:all"
    else:
        source = dataclasses.replace(config, data=dataclasses.replace(
            config.data, corpus=[corpus] if corpus else config.data.corpus))
        split = split or "test"
        parts = pairs_of(source)
        if split == "all":
            raise RnnlmError("--split all is for text; give train, val or test")
        pairs = parts[split]
        if not len(pairs):
            raise RnnlmError(f"{source.data.corpus[0]} has no {split} pairs here; choose "
                             f"another --split")
        name = f"{source.data.corpus[0]}:{split} ({len(pairs):,} pairs)"
    fusion = load_fusion(lm, lm_weight, translator) if lm else None
    if with_rouge is None:
        short = sum(map(len, pairs.targets)) < 0.5 * sum(map(len, pairs.sources))
        with_rouge = short
    return translator.evaluate(pairs, name, beam, alpha, lm=fusion, with_rouge=with_rouge,
                               outputs=outputs)


def evaluate_captions(run: Run, split: str, checkpoint: str, device: str, beam: int,
                      baselines: bool) -> CaptionResult:
    """A captioner's scores on its held-out images (its test split by default)."""
    captioner = ImageCaptioner.load(run, device=device, which=checkpoint)
    if split not in ("val", "test", "train"):
        raise RnnlmError(f"--split {split} is for text; give train, val or test")
    parts = captions_of(captioner.config)
    if not len(parts[split]):
        raise RnnlmError(f"the run holds out no {split} images; choose another --split")
    captions = Path(captioner.config.caption.captions or "")
    name = f"{captions.parent.name}/{captions.name}:{split} ({len(parts[split]):,} images)"
    return captioner.evaluate(parts[split], name, beam, parts["train"] if baselines else None)


def show(result: EvalResult | PairsResult | CaptionResult, *,
         json: Annotated[bool, Arg("print one JSON object")] = False) -> None:
    """The scores of `rnnlm eval` and `rnnlm ngram eval`: a table, or one JSON object."""
    if json:
        print(jsonlib.dumps(result.to_dict()))
        return
    if isinstance(result, PairsResult):
        show_pairs(result)
        return
    if isinstance(result, CaptionResult):
        show_captions(result)
        return
    if isinstance(result, MixResult | DynamicResult):
        show_beside(result)
        return
    rows = [("text", result.source), ("tokens scored", f"{result.tokens:,}"),
            ("characters", f"{result.characters:,}"), ("bytes (UTF-8)", f"{result.bytes:,}"),
            ("bits per character", f"{result.bits_per_char:.4f}"),
            ("bits per byte", f"{result.bits_per_byte:.4f}"),
            ("nats per token", f"{result.nats_per_token:.4f}"),
            ("perplexity (per token)", f"{result.perplexity:.3f}"),
            ("unknown tokens", f"{result.unknown_tokens:,}")]
    if result.oov_rate is not None:
        rows.append(("OOV rate (words)", f"{result.oov_rate:.2%}"))
    if not result.comparable:
        rows.append(("comparable", "no: unknown words cost one <unk>, so bits per "
                                   "character are not comparable across tokenizers"))
    for name, value in rows:
        print(f"{name:<24}{value}")


def show_beside(result: MixResult | DynamicResult) -> None:
    """A mixture beside its two models, or dynamic beside static scores, as a table."""
    if isinstance(result, MixResult):
        head = [("text", result.mixture.source),
                ("λ (run's share)", f"{result.weight:.4f} ({result.tuning})")]
        rows = [(result.names[0], result.run), (result.names[1], result.other),
                ("mixture", result.mixture)]
    else:
        head = [("text", result.dynamic.source),
                ("dynamic evaluation", f"{result.settings.describe()} ({result.seconds:.1f} s)")]
        rows = [("static (same segments)", result.static), ("dynamic", result.dynamic)]
    for name, value in [*head, ("tokens scored", f"{rows[0][1].tokens:,}")]:
        print(f"{name:<24}{value}")
    width = max(24, *(len(n) + 2 for n, _ in rows))
    print(f"{'':<{width}}{'nats/token':>12}{'bits/char':>12}{'ppl/token':>12}")
    for name, r in rows:
        star = "" if r.comparable else "*"
        print(f"{name:<{width}}{r.nats_per_token:>12.4f}{r.bits_per_char:>11.4f}{star:1}"
              f"{r.perplexity:>12.3f}")
    if not all(r.comparable for _, r in rows):
        print("* not comparable: unknown words cost one <unk> token each")


def show_pairs(result: PairsResult) -> None:
    """An encoder–decoder's scores as a table."""
    rows = [("pairs", result.source), ("search", result.search),
            ("BLEU", f"{result.bleu:.2f}  ({result.bleu_signature})"),
            ("chrF", f"{result.chrf:.2f}  ({result.chrf_signature})"),
            *((f"{k.upper().replace('ROUGE', 'ROUGE-')} F1", f"{v:.2f}")
              for k, v in result.rouge.items()),
            ("perplexity (per token)", f"{result.perplexity:.3f} (teacher-forced, "
                                       f"{result.tokens:,} target tokens, EOD included)"),
            ("search time", f"{result.seconds:.1f} s ({result.pairs / result.seconds:.1f} "
                            f"sentences/s)")]
    for name, value in rows:
        print(f"{name:<24}{value}")


def show_captions(result: CaptionResult) -> None:
    """A captioner's scores (and its baselines') as a table."""
    b = result.bleu
    print(f"{'images':<24}{result.source}\n{'search':<24}{result.search}\n"
          f"{'scored as':<24}lowercased, punctuation removed; BLEU: {b['bleu_signature']}")
    print(f"{'':<24}{'BLEU-1':>8}{'BLEU-2':>8}{'BLEU-3':>8}{'BLEU-4':>8}{'CIDEr-D':>9}")
    rows = {"model": {**b, "cider": result.cider}, **result.baselines}
    for name, s in rows.items():
        print(f"{name:<24}" + "".join(f"{s[f'bleu{n}']:>8.2f}" for n in range(1, 5))
              + f"{s['cider']:>9.2f}")
    print(f"{'perplexity (per token)':<24}{result.perplexity:.3f} (teacher-forced, every "
          f"reference, {result.tokens:,} tokens, EOD included)\n{'search time':<24}"
          f"{result.seconds:.1f} s ({result.images / result.seconds:.1f} images/s)")
