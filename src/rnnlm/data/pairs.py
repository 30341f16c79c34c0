"""Parallel pairs (a source text and its target: a translation, a summary): the two formats,
`tsv` (source TAB target, extra columns ignored) and `jsonl:SRC,TGT`, and the split that
never puts one source sentence in two parts.

Tatoeba has several translations of many English sentences; a random split of pairs would
test on sentences the model trained on. Pairs are grouped by their source text and whole
groups go to test, val or train, in a seeded order that depends on nothing but the pairs.
A JSONL test file may hold several references per source (DialogSum's `summary1`,
`summary2`, ... when `summary` is missing): they are kept for scoring.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field

import numpy as np
import torch

from rnnlm.data.buckets import DocumentBatches
from rnnlm.data.corpora import Corpus
from rnnlm.data.documents import Boundaries, cut_documents
from rnnlm.errors import RnnlmError
from rnnlm.options import PAIRS_FORMATS, check_pairs
from rnnlm.tokenizers import Tokenizer

SPLIT_SEED = 16  # the split's order: fixed, so every run of one corpus holds out the same pairs


@dataclass
class Pairs:
    """Sources and their targets; references[i] lists every reference of source i (the
    target first), for scoring against several."""

    sources: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    references: list[list[str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.sources)

    def add(self, source: str, refs: list[str]) -> None:
        """One pair (its first reference is the training target)."""
        self.sources.append(source)
        self.targets.append(refs[0])
        self.references.append(refs)

    def take(self, rows: list[int] | np.ndarray) -> Pairs:
        """The pairs at the given rows, in that order."""
        out = Pairs()
        for i in rows:
            out.add(self.sources[i], self.references[i])
        return out


def parse_pairs(text: str, fmt: str, source: str) -> Pairs:
    """The pairs of a text in format fmt; a bad line is a one-line error naming it."""
    check_pairs(fmt)
    pairs = Pairs()
    for number, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        if fmt == "tsv":
            columns = line.split("\t")
            if len(columns) < 2:
                raise RnnlmError(f"{source} line {number} has one column; a tsv pairs file "
                                 f"needs source TAB target on every line")
            src, refs = columns[0], [columns[1]]
        else:
            src, refs = _jsonl_pair(line, fmt, source, number)
        side = "source" if not src.strip() else "target" if not refs[0].strip() else None
        if side:
            raise RnnlmError(f"{source} line {number} has an empty {side} side; remove the "
                             f"line or fill it in")
        pairs.add(src, [r for r in refs if r.strip()])
    if not pairs:
        raise RnnlmError(f"{source} holds no pairs (format {fmt}); give {PAIRS_FORMATS}")
    return pairs


def _jsonl_pair(line: str, fmt: str, source: str, number: int) -> tuple[str, list[str]]:
    """(source, references) of one JSON line: the target field, or, where it is missing, the
    numbered fields TGT1, TGT2, ... (several references)."""
    src_field, tgt_field = (f.strip() for f in fmt[len("jsonl:"):].split(","))
    try:
        obj = json.loads(line)
    except ValueError as e:
        raise RnnlmError(f"{source} line {number} is not JSON ({e}); fix the line") from None
    if not isinstance(obj, dict):
        raise RnnlmError(f"{source} line {number} is not a JSON object")
    numbered = sorted((k for k in obj if k.startswith(tgt_field) and k[len(tgt_field):].isdigit()),
                      key=lambda k: int(k[len(tgt_field):]))  # summary1, summary2, ...
    refs = [obj[tgt_field]] if tgt_field in obj else [obj[k] for k in numbered]
    for name, value in ((src_field, obj.get(src_field)), (tgt_field, refs[0] if refs else None)):
        if value is None:
            raise RnnlmError(f"{source} line {number} has no field {name!r}; name the fields "
                             f"that hold the texts: --pairs jsonl:SOURCE,TARGET")
        if not isinstance(value, str):
            raise RnnlmError(f"{source} line {number}: field {name!r} is "
                             f"{type(value).__name__}, not text")
    return obj[src_field], [str(r) for r in refs]


def corpus_pairs(corpus: Corpus, fmt: str, val_fraction: float, test_pairs: int
                 ) -> dict[str, Pairs]:
    """Train/val/test pairs of a corpus: its official split files as they are (a missing
    part is cut from train), else split_pairs of the whole."""
    if "all" in corpus.texts:
        return split_pairs(parse_pairs(corpus.texts["all"], fmt, corpus.name), val_fraction,
                           test_pairs)
    parts = {s: parse_pairs(corpus.texts[s], fmt, f"{corpus.name}:{s}")
             for s in ("train", "val", "test") if corpus.texts.get(s)}
    if "train" not in parts:
        raise RnnlmError(f"{corpus.name} has no train split here; train on one of its files "
                         f"by path")
    if "val" not in parts or "test" not in parts:
        cut = split_pairs(parts["train"], 0.0 if "val" in parts else val_fraction,
                          0 if "test" in parts else test_pairs)
        parts = {**cut, **parts, "train": cut["train"]}
    return parts


def split_pairs(pairs: Pairs, val_fraction: float, test_pairs: int) -> dict[str, Pairs]:
    """Test (test_pairs pairs), val (val_fraction of the pairs) and train, by whole groups of
    one source text in a seeded order: no source is in two splits. A group that would
    overflow a split is passed over for later, smaller ones, so the sizes are exact when the
    corpus has groups of one."""
    groups: dict[str, list[int]] = {}
    for i, src in enumerate(pairs.sources):
        groups.setdefault(src.strip(), []).append(i)
    members = list(groups.values())  # in first-appearance order
    order = np.random.default_rng(SPLIT_SEED).permutation(len(members))
    wanted = {"test": test_pairs, "val": round(val_fraction * len(pairs))}
    if sum(wanted.values()) >= len(pairs):
        raise RnnlmError(f"{len(pairs):,} pairs are too few to hold out {wanted['test']:,} for "
                         f"testing and {wanted['val']:,} for validation; lower --test-pairs "
                         f"or --val-fraction")
    rows: dict[str, list[int]] = {"test": [], "val": [], "train": []}
    for g in order:
        group = members[g]
        name = next((s for s in ("test", "val") if len(rows[s]) + len(group) <= wanted[s]),
                    "train")
        rows[name] += group
    return {name: pairs.take(sorted(r)) for name, r in rows.items()}


def describe_pairs(parts: dict[str, Pairs]) -> str:
    """The split's sizes, in words."""
    return ", ".join(f"{name} {len(p):,} pairs" for name, p in parts.items())


def encode_sources(tokenizer: Tokenizer, sources: list[str], max_length: int,
                   what: str = "source") -> list[np.ndarray]:
    """Each source as int64 ids, cut to max_length tokens (--max-source-length); how many
    were cut is printed (a longer source is truncated, never refused)."""
    ids = [np.asarray(s, dtype=np.int64) for s in tokenizer.encode_batch(sources)]
    long = sum(len(s) > max_length for s in ids)
    if long:
        print(f"warning: {long:,} of {len(ids):,} {what}s are longer than --max-source-length "
              f"{max_length} tokens and were truncated to it", file=sys.stderr)
    return [s[:max_length] for s in ids]


def encode_targets(tokenizer: Tokenizer, targets: list[str]) -> list[np.ndarray]:
    """Each target as BOD t1 .. tn EOD (documents mode's boundaries: ids V and V + 1)."""
    b = Boundaries.after(tokenizer)
    return [np.concatenate([[b.bod], t, [b.eod]]).astype(np.int64)
            for t in tokenizer.encode_batch(targets)]


def pad_sources(seqs: list[np.ndarray], device: torch.device | str = "cpu"
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Source ids → (B, S) padded with 0 (masked by the lengths) and lengths (B,)."""
    lengths = np.array([len(s) for s in seqs])
    out = np.zeros((len(seqs), lengths.max()), dtype=np.int64)  # (B, S)
    for row, s in enumerate(seqs):
        out[row, : len(s)] = s
    return torch.from_numpy(out).to(device), torch.from_numpy(lengths)


@dataclass
class PairBatch:
    """Sources (B, S) with lengths (B,) (on the CPU), decoder inputs BOD t1 .. tn and targets
    t1 .. tn EOD (B, T) padded with IGNORE, and the batch's real target tokens."""

    src: torch.Tensor
    src_lengths: torch.Tensor
    inputs: torch.Tensor
    targets: torch.Tensor
    tokens: int


class PairBatches(DocumentBatches):
    """Documents mode's batches of targets (similar lengths together, shuffled every epoch,
    the same resumable position), each with its sources."""

    def __init__(self, sources: list[np.ndarray], targets: list[np.ndarray], batch_size: int,
                 seed: int, max_length: int | None = None,
                 device: torch.device | str = "cpu") -> None:
        super().__init__(cut_documents(targets, max_length, 0), batch_size, seed, True, device)
        self.sources = sources

    def next(self) -> tuple[PairBatch, bool]:  # type: ignore[override]
        """The next batch of pairs, and whether it starts an epoch."""
        batch, epoch_start = super().next()
        src, lengths = pad_sources([self.sources[d] for d, _ in batch.keys], self.device)
        return PairBatch(src, lengths, batch.inputs, batch.targets, batch.tokens), epoch_start
