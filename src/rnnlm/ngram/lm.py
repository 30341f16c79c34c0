"""`rnnlm ngram train | eval | sample`: files in, files and scores out.

A model is two files: MODEL.arpa (the n-gram tables, readable by KenLM and SRILM) and
MODEL.arpa.tokenizer.json beside it (the tokenizer that maps text to the ARPA file's words).
Whether the model reads text as a stream or as one sentence per line is in the ARPA file
itself: a lines model has the words <s> and </s>.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlm.data.corpora import load_corpus
from rnnlm.errors import RnnlmError
from rnnlm.inference.scoring import EvalResult
from rnnlm.ngram.arpa import read_arpa, write_arpa
from rnnlm.ngram.backoff import NgramModel
from rnnlm.ngram.counting import count_ngrams
from rnnlm.ngram.documents import (
    DOCUMENTS,
    encode_documents,
    fit_tokenizer,
    load_tokenizer_file,
    token_names,
)
from rnnlm.ngram.kneser_ney import Discounts, interpolate
from rnnlm.tokenizers import Tokenizer, save_tokenizer


@dataclass
class LoadedNgram:
    """A model with its tokenizer and the way it reads documents."""

    model: NgramModel
    tokenizer: Tokenizer
    documents: str


@dataclass
class TrainReport:
    """What `rnnlm ngram train` built."""

    path: Path
    ngrams: list[int]
    discounts: list[Discounts]
    seconds: float


def tokenizer_path(model_path: Path) -> Path:
    """MODEL.arpa → MODEL.arpa.tokenizer.json."""
    return Path(f"{model_path}.tokenizer.json")


def build(text: str, order: int, tokenizer: str = "char", documents: str = "stream"
          ) -> tuple[LoadedNgram, list[Discounts]]:
    """Fit a tokenizer and an interpolated modified Kneser–Ney model of `order` on text."""
    if order < 1:
        raise RnnlmError(f"--order must be 1 or more (got {order})")
    if documents not in DOCUMENTS:
        raise RnnlmError(f"--documents must be one of {', '.join(DOCUMENTS)} (got {documents})")
    if not text.strip("\n"):
        raise RnnlmError("the training text is empty; give a corpus with text")
    tok = fit_tokenizer(tokenizer, text, documents)
    seq = encode_documents(tok, text, documents)
    bos, eos = (tok.vocab_size, tok.vocab_size + 1) if documents == "lines" else (None, None)
    if documents == "stream" and len(seq) < 2:
        raise RnnlmError("the training text has fewer than 2 tokens; give more text")
    vocab = tok.vocab_size + (2 if documents == "lines" else 0)
    model, discounts = interpolate(count_ngrams(seq, order, vocab, bos), bos, eos)
    return LoadedNgram(model, tok, documents), discounts


def train(corpus: list[str] | str, order: int, out: str | Path, tokenizer: str = "char",
          documents: str = "stream", val_fraction: float = 0.1) -> TrainReport:
    """Build a model on the corpus's train split and write MODEL.arpa + its tokenizer file."""
    start = time.perf_counter()
    text = load_corpus(corpus).splits(val_fraction)["train"]
    lm, discounts = build(text, order, tokenizer, documents)
    out = Path(out)
    save_tokenizer(lm.tokenizer, tokenizer_path(out))
    write_arpa(out, lm.model, token_names(lm.tokenizer, documents))
    return TrainReport(out, [len(k) for k in lm.model.keys], discounts,
                       time.perf_counter() - start)


def load(path: str | Path) -> LoadedNgram:
    """Read MODEL.arpa with the tokenizer file written beside it."""
    path = Path(path)
    if not path.is_file():
        raise RnnlmError(f"no such n-gram model: {path}; build one with `rnnlm ngram train`")
    tok_path = tokenizer_path(path)
    tok = load_tokenizer_file(tok_path)
    model = read_arpa(path, token_names(tok, "stream"), str(tok_path))
    return LoadedNgram(model, tok, "lines" if model.bos is not None else "stream")


def score(lm: LoadedNgram, text: str) -> EvalResult:
    """Score every token of text once: in lines mode every token and each </s> (<s> is
    context); in a stream every token but the first. Characters and bytes are those of the
    text that was scored, so bits per character compare with `rnnlm eval`."""
    seq = encode_documents(lm.tokenizer, text, lm.documents)
    if lm.documents == "lines":
        positions = np.flatnonzero(seq != lm.model.bos)
        scored = text
    else:
        positions = np.arange(1, len(seq))
        scored = text[len(lm.tokenizer.decode(seq[:1])):]
    if not len(positions):
        raise RnnlmError("the text is too short to score: it needs at least 2 tokens"
                         if lm.documents == "stream" else "the text has no lines to score")
    log10 = lm.model.log10_probs(seq, positions)
    unk = lm.tokenizer.unk_id
    unknown = int((seq[positions] == unk).sum()) if unk is not None else 0
    result = EvalResult(total_nats=float(-log10.sum() * math.log(10)), tokens=len(positions),
                        characters=len(scored), bytes=len(scored.encode("utf-8")),
                        unknown_tokens=unknown)
    if not lm.tokenizer.lossless:  # unknown words cost one <unk> each
        result.oov_rate, result.comparable = lm.tokenizer.fallback_rate(text), False
    return result


def evaluate(model: str | Path, text: str | Path | None = None, corpus: str | None = None,
             split: str | None = None, val_fraction: float = 0.1) -> EvalResult:
    """Score a text file (whole, or --split), or a corpus split (val by default)."""
    if bool(text) == bool(corpus):
        raise RnnlmError("give either --text FILE or --corpus NAME to score")
    lm = load(model)
    loaded = load_corpus([str(text)] if text else [corpus])
    split = split or ("all" if text else "val")
    parts = loaded.splits(val_fraction)
    body = "".join(parts.values()) if split == "all" else parts[split]
    if not body:
        raise RnnlmError(f"{loaded.name} has no {split} split; choose another --split")
    result = score(lm, body)
    result.source = f"{loaded.name}:{split}"
    return result


def sample(model: str | Path, prime: str = "", length: int = 500, temperature: float = 1.0,
           seed: int | None = None) -> str:
    """Prime + `length` sampled tokens; in lines mode </s> ends a line and the next starts
    from <s>. Specials (<unk>) are never sampled."""
    if length < 1:
        raise RnnlmError(f"--length must be 1 or more (got {length})")
    if not temperature > 0:
        raise RnnlmError(f"--temperature must be greater than 0 (got {temperature})")
    lm = load(model)
    tok, m = lm.tokenizer, lm.model
    lines = lm.documents == "lines"
    unknown = tok.unknown(prime.replace("\n", " ") if lines else prime)
    if unknown:
        raise RnnlmError(f"the prime has {len(unknown)} symbol(s) outside the model's "
                         f"vocabulary, e.g. {unknown[0]!r}; remove them")
    current = prime.rsplit("\n", 1)[-1] if lines else prime
    context = [m.bos] * lines + tok.encode(current).tolist()
    newline = [i for i in tok.encode("\n").tolist() if i != tok.unk_id] if lines else []
    banned = [*tok.special_ids(), *newline, *([m.bos] if lines else [])]
    rng = np.random.default_rng(seed)
    text, new, line_start = prime, [], lines and not current

    def decoded() -> str:
        """The new tokens' text; a word's leading space is dropped at the start of a line."""
        piece = tok.decode(new)
        return piece.removeprefix(" ") if line_start and tok.kind == "word" else piece

    for _ in range(length):
        p = m.distribution(np.array(context, dtype=np.int64))
        p[banned] = 0.0
        p = p ** (1.0 / temperature)
        token = int(rng.choice(len(p), p=p / p.sum()))
        if token == m.eos:
            text += decoded() + "\n"
            new, context, line_start = [], [m.bos], True
        else:
            new.append(token)
            context.append(token)
        context = context[max(len(context) - m.order + 1, 0):] if m.order > 1 else []
    return text + decoded()


def describe(report: TrainReport) -> str:
    """Summary lines for the train command."""
    rows = [f"wrote {report.path} and {tokenizer_path(report.path)} "
            f"({report.seconds:.1f} s)"]
    for n, (count, d) in enumerate(zip(report.ngrams, report.discounts, strict=True), 1):
        rows.append(f"{n}-grams {count:>10,}   D1 {d.d1:.3f}  D2 {d.d2:.3f}  D3+ {d.d3:.3f}"
                    f"  ({d.source})")
    return "\n".join(rows)

