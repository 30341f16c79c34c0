"""An n-gram language model with the shape of rnnlm's LanguageModel: built on a corpus's train
split, saved, loaded, scored and sampled, in stream or documents mode like a recurrent run.

A model is three files: MODEL.arpa (the n-gram tables, readable by KenLM and SRILM),
MODEL.arpa.tokenizer.json (the tokenizer that maps text to the ARPA file's words) and
MODEL.arpa.config.json (its order and data options: tokenizer, mode, document format,
held-out fractions). A model written before the config file existed still loads: its ARPA
file has the words <s> and </s> exactly when it reads one document per line.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlm.config import DataConfig, RunConfig
from rnnlm.configfile import group_from_dict, read_json
from rnnlm.data.corpora import load_corpus
from rnnlm.data.documents import Boundaries, document_characters, encode_documents
from rnnlm.errors import RnnlmError
from rnnlm.fileio import write_text_atomic
from rnnlm.inference.scoring import EvalResult
from rnnlm.inference.splits import Body, describe, select, text_of
from rnnlm.ngram.arpa import read_arpa, write_arpa
from rnnlm.ngram.backoff import NgramModel
from rnnlm.ngram.counting import count_ngrams
from rnnlm.ngram.kneser_ney import Discounts, interpolate
from rnnlm.ngram.names import token_names
from rnnlm.tokenizers import Tokenizer, fit_tokenizer, load_tokenizer, save_tokenizer


@dataclass
class TrainReport:
    """What `rnnlm ngram train` built."""

    path: Path
    ngrams: list[int]
    discounts: list[Discounts]
    seconds: float
    split: str  # the corpus and how it was split, in words


def sidecar(model_path: str | Path, what: str) -> Path:
    """MODEL.arpa → MODEL.arpa.tokenizer.json or MODEL.arpa.config.json."""
    return Path(f"{model_path}.{what}.json")


@dataclass
class NgramLM:
    """Interpolated modified Kneser–Ney tables, their tokenizer and the data options."""

    model: NgramModel
    tokenizer: Tokenizer
    data: DataConfig  # resolved: mode, document format, tokenizer options, fractions

    @property
    def boundaries(self) -> Boundaries | None:
        """The <s> and </s> ids of a documents-mode model (None in stream mode)."""
        return Boundaries.after(self.tokenizer) if self.data.mode == "documents" else None

    @classmethod
    def build(cls, body: Body, order: int, data: DataConfig) -> tuple[NgramLM, list[Discounts]]:
        """Fit the tokenizer and the model of `order` on a train split (text or documents)."""
        if order < 1:
            raise RnnlmError(f"--order must be 1 or more (got {order})")
        if not text_of(body).strip("\n"):
            raise RnnlmError("the training text is empty; give a corpus with text")
        tok = fit_tokenizer(data, text_of(body))
        b = Boundaries.after(tok) if data.mode == "documents" else None
        seq, _ = encode(tok, b, body)
        if b is None and len(seq) < 2:
            raise RnnlmError("the training text has fewer than 2 tokens; give more text")
        bos, eos = (b.bod, b.eod) if b else (None, None)
        vocab = tok.vocab_size + (2 if b else 0)
        model, discounts = interpolate(count_ngrams(seq, order, vocab, bos), bos, eos)
        return cls(model, tok, data), discounts

    def encode(self, body: Body) -> tuple[np.ndarray, np.ndarray]:
        """The id sequence of body and the positions scored in it (see encode)."""
        return encode(self.tokenizer, self.boundaries, body)

    def save(self, path: str | Path) -> None:
        """Write MODEL.arpa and its tokenizer and config files beside it."""
        path = Path(path)
        save_tokenizer(self.tokenizer, sidecar(path, "tokenizer"))
        write_text_atomic(sidecar(path, "config"), json.dumps(
            {"order": self.model.order, "data": dataclasses.asdict(self.data)}, indent=1) + "\n")
        write_arpa(path, self.model, token_names(self.tokenizer, self.boundaries is not None))

    @classmethod
    def load(cls, path: str | Path) -> NgramLM:
        """Read MODEL.arpa with the files written beside it."""
        path = Path(path)
        if not path.is_file():
            raise RnnlmError(f"no such n-gram model: {path}; build one with `rnnlm ngram train`")
        tok_path = sidecar(path, "tokenizer")
        if not tok_path.is_file():
            raise RnnlmError(f"no tokenizer file {tok_path}; an n-gram model needs the one "
                             f"`rnnlm ngram train` wrote beside it")
        tok = load_tokenizer(tok_path)
        model = read_arpa(path, token_names(tok, False), str(tok_path))
        config = sidecar(path, "config")
        if config.is_file():
            data = group_from_dict(DataConfig, read_json(config)["data"], str(config))
        else:  # written before config files: <s> and </s> meant one document per line
            lines = model.bos is not None
            data = DataConfig(tokenizer=tok.kind, mode="documents" if lines else "stream",
                              documents="lines" if lines else None)
        return cls(model, tok, data)

    def score(self, body: Body) -> EvalResult:
        """Score every token once (see encode). Characters and bytes are those of the text
        scored (each </s> counts as one, like the newline it stands for), so bits per
        character compare with `rnnlm eval`."""
        seq, positions = self.encode(body)
        if not len(positions):
            raise RnnlmError("the text is too short to score: it needs at least 2 tokens"
                             if self.boundaries is None else "the text has no documents to score")
        if self.boundaries is None:
            text = text_of(body)
            scored = text[self.tokenizer.context_chars(text, seq):]
            characters, nbytes = len(scored), len(scored.encode("utf-8"))
        else:
            characters, nbytes = document_characters([body] if isinstance(body, str) else body)
        unk = self.tokenizer.unk_id
        unknown = int((seq[positions] == unk).sum()) if unk is not None else 0
        log10 = self.model.log10_probs(seq, positions)
        result = EvalResult(total_nats=float(-log10.sum() * math.log(10)), tokens=len(positions),
                            characters=characters, bytes=nbytes, unknown_tokens=unknown)
        if not self.tokenizer.lossless:  # unknown words cost one <unk> each
            result.oov_rate = self.tokenizer.fallback_rate(text_of(body))
            result.comparable = False
        return result

    def token_nats(self, body: Body) -> np.ndarray:
        """-ln p of every token score() scores, in order (float64 nats): what a per-token
        mixture with a recurrent run of the same tokenizer and mode combines."""
        seq, positions = self.encode(body)
        return self.model.log10_probs(seq, positions) * -math.log(10)

    def sample(self, prime: str = "", length: int = 500, temperature: float = 1.0,
               seed: int | None = None) -> str:
        """Prime + `length` sampled tokens; a documents model's </s> ends a document and the
        next starts from <s> on a new line. Specials (<unk>) are never sampled."""
        if length < 1:
            raise RnnlmError(f"--length must be 1 or more (got {length})")
        if not temperature > 0:
            raise RnnlmError(f"--temperature must be greater than 0 (got {temperature})")
        tok, m, b = self.tokenizer, self.model, self.boundaries
        lines = b is not None and self.data.documents == "lines"
        unknown = [s for part in (prime.split("\n") if lines else [prime])
                   for s in tok.unknown(part)]  # each line of a lines prime is a document
        if unknown:
            raise RnnlmError(f"the prime has {len(unknown)} symbol(s) outside the model's "
                             f"vocabulary, e.g. {unknown[0]!r}; remove them")
        current = prime.rsplit("\n", 1)[-1] if lines else prime
        context = ([b.bod] if b else []) + tok.encode(current).tolist()
        newline = [i for i in tok.encode("\n").tolist() if i != tok.unk_id] if lines else []
        banned = [*tok.special_ids(), *newline, *([b.bod] if b else [])]
        rng = np.random.default_rng(seed)
        text, new, doc_start = prime, [], b is not None and not current
        gap = "\n\n" if self.data.documents == "blank" else "\n"

        def decoded() -> str:
            """The new tokens' text; a word's leading space is dropped at a document's start."""
            piece = tok.decode(new)
            return piece.removeprefix(" ") if doc_start and tok.kind == "word" else piece

        for _ in range(length):
            p = m.distribution(np.array(context, dtype=np.int64))
            p[banned] = 0.0
            p = p ** (1.0 / temperature)
            token = int(rng.choice(len(p), p=p / p.sum()))
            if b is not None and token == b.eod:
                text += decoded() + gap
                new, context, doc_start = [], [b.bod], True
            else:
                new.append(token)
                context.append(token)
            context = context[max(len(context) - m.order + 1, 0):] if m.order > 1 else []
        return text + decoded()


def encode(tok: Tokenizer, b: Boundaries | None, body: Body) -> tuple[np.ndarray, np.ndarray]:
    """The id sequence of body and the positions scored in it: a stream's every token but the
    first; with document boundaries, each document's tokens and its </s> (<s> is context)."""
    if b is None:
        seq = np.asarray(tok.encode(text_of(body)), dtype=np.int64)
        return seq, np.arange(1, len(seq))
    seqs = encode_documents(tok, [body] if isinstance(body, str) else body, b)
    seq = np.concatenate(seqs) if seqs else np.zeros(0, dtype=np.int64)
    return seq, np.flatnonzero(seq != b.bod)


def train(corpus: list[str] | str, order: int, out: str | Path, data: DataConfig | None = None
          ) -> TrainReport:
    """Build a model on the corpus's train split (cut as `rnnlm train` cuts it with the same
    data options) and write MODEL.arpa with its tokenizer and config files."""
    start = time.perf_counter()
    loaded = load_corpus(corpus)
    sources = [corpus] if isinstance(corpus, str) else list(corpus)
    data = dataclasses.replace(resolved(data or DataConfig()), corpus=sources,
                               corpus_sha256=loaded.sha256())  # eval's default: its own val
    lm, discounts = NgramLM.build(select(loaded, data, "train"), order, data)
    lm.save(out)
    return TrainReport(Path(out), [len(k) for k in lm.model.keys], discounts,
                       time.perf_counter() - start, f"{loaded.name}: {describe(loaded, data)}")


def resolved(data: DataConfig) -> DataConfig:
    """The data options with the mode and document format filled in and checked, as a run's."""
    return RunConfig(data=data).resolve().data
