"""A trained model with its tokenizer and config: the object users load to generate and score."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

from rnnlm.checkpoint import load_model_dir, resolve
from rnnlm.config import RunConfig
from rnnlm.data.documents import Boundaries, document_characters, encode_documents
from rnnlm.data.prepared import PreparedSplit
from rnnlm.data.tokens import DocumentIds, TokenArray
from rnnlm.errors import RnnlmError
from rnnlm.inference.sampling import Sampling, generate_ids
from rnnlm.inference.scoring import (
    WHOLE,
    EvalResult,
    Share,
    column_totals,
    document_nats,
    document_totals,
    token_nats,
    write_per_token,
)
from rnnlm.models import LanguageModelNet
from rnnlm.runtime import (
    bf16_is_fast,
    memory_guard,
    pick_device,
    pick_precision,
    reuse_freed_memory,
)
from rnnlm.tokenizers import Tokenizer


class LanguageModel:
    """Generate text from a prime, or score text, with a trained rnnlm model."""

    def __init__(self, model: LanguageModelNet, tokenizer: Tokenizer, config: RunConfig,
                 device: torch.device, precision: str, path: Path | None = None) -> None:
        self.model, self.tokenizer, self.config = model, tokenizer, config
        self.device, self.precision, self.path = device, precision, path
        if device.type == "cpu":
            reuse_freed_memory()  # priming and batched sampling allocate large tensors

    @classmethod
    def load(cls, path: str | Path, device: str = "auto", which: str = "best",
             precision: str | None = None) -> LanguageModel:
        """Load a run directory (its best/ or last/ checkpoint) or a checkpoint directory."""
        ckpt = resolve(path, which)
        dev = pick_device(device)
        model, tokenizer, config = load_model_dir(ckpt, dev)
        trained = config.train.precision  # the same numbers as in training, where possible
        prec = pick_precision(precision or (trained if bf16_is_fast(dev) else "fp32"), dev)
        return cls(model, tokenizer, config, dev, prec, ckpt)

    @property
    def boundaries(self) -> Boundaries | None:
        """The begin/end-of-document ids of a documents-mode model (None in stream mode)."""
        return Boundaries.after(self.tokenizer) if self.config.data.mode == "documents" else None

    @cached_property
    def line_break_ids(self) -> list[int]:
        """Ids whose text holds a newline (never sampled inside a `--documents lines` document)."""
        return [i for i in range(self.tokenizer.vocab_size)
                if "\n" in self.tokenizer.decode([i])]

    def encode_prime(self, prime: str) -> torch.Tensor:
        """Prime text → ids (1, P), after BOD for a documents model. Lossless tokenizers have
        no unknown symbols; a char model refuses characters it has never seen (its <unk> never
        occurred in training); a word model maps unknown words to <unk>, which it was trained
        on as context."""
        unknown = self.tokenizer.unknown(prime)
        if unknown and not self.tokenizer.trains_unk:
            shown = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in unknown[:5])
            raise RnnlmError(f"the prime has {len(unknown)} character(s) outside the model's "
                             f"vocabulary: {shown}; remove them, or train on text that has them")
        ids = torch.as_tensor(self.tokenizer.encode(prime), dtype=torch.int64)
        if self.boundaries:  # a document starts after BOD
            ids = torch.cat([torch.tensor([self.boundaries.bod]), ids])
        elif not prime:  # start from a newline, as after the end of a paragraph
            start = "\n" if not self.tokenizer.unknown("\n") else self.tokenizer.decode([1])
            ids = torch.as_tensor(self.tokenizer.encode(start), dtype=torch.int64)
        return ids.to(self.device)[None]

    def generate(self, prime: str = "", length: int = 500, num: int = 1,
                 sampling: Sampling | None = None, seed: int | None = None,
                 stop: str | None = None) -> Iterator[list[str]]:
        """Yield, per step, the new text of each of `num` streams ('' once a stream stopped:
        at `stop`, or, for a documents model, at the end of the document)."""
        s = (sampling or Sampling()).validate()
        if length < 1 or num < 1:
            raise RnnlmError(f"--length and --num must be 1 or more (got {length} and {num})")
        prime_ids = self.encode_prime(prime)  # (1, P): absorbed once for all streams
        gen = torch.Generator(device=self.device)
        if seed is None:
            gen.seed()  # fresh entropy for this generator only; the global RNG is untouched
        else:
            gen.manual_seed(seed)
        tails = [""] * num  # the last len(stop) characters of each stream, for the stop check
        done = [False] * num
        b = self.boundaries
        eod = b.eod if b else None
        banned = self.tokenizer.special_ids() + ([b.bod] if b else [])
        if b and self.config.data.documents == "lines":
            banned += self.line_break_ids  # a line document holds no newline: EOD ends it
        decoders = [self.tokenizer.decoder() for _ in range(num)]  # a character may span ids
        steps = generate_ids(self.model, prime_ids, length, s, banned, gen, self.precision,
                             streams=num)
        try:
            for ids in steps:
                pieces = [""] * num
                for i, token in enumerate(ids.tolist()):  # the one host sync per step
                    if done[i]:
                        continue
                    if token == eod:
                        done[i] = True
                        continue
                    pieces[i] = piece = decoders[i](token)
                    if stop:
                        tails[i] = (tails[i] + piece)[-len(stop):]
                        done[i] = tails[i] == stop
                yield pieces
                if all(done):
                    return
        finally:
            memory_guard().check()  # primes and batches of other sizes leave freed blocks

    def sample(self, prime: str = "", length: int = 500, num: int = 1,
               sampling: Sampling | None = None, seed: int | None = None,
               stop: str | None = None) -> list[str]:
        """The whole generated continuations (prime not included)."""
        parts: list[list[str]] = [[] for _ in range(num)]
        for pieces in self.generate(prime, length, num, sampling, seed, stop):
            for part, piece in zip(parts, pieces, strict=True):
                part.append(piece)
        return ["".join(part) for part in parts]

    def score(self, text: str | list[str], per_token: str | Path | None = None) -> EvalResult:
        """Full-pass scores of a text, or of documents (a list, each scored from a zero state
        after BOD, its EOD included and counted as one character, the way a documents model is
        used); the first token of a text is context only. Characters and bytes are those of
        the original text, so bits per character compare across tokenizers, except for the
        word tokenizer (comparable=False): its unknown words cost one <unk>."""
        seqs, counts = self.encoded(text)
        if isinstance(text, list):
            totals = document_totals(self.model, DocumentIds.from_seqs(seqs), self.device,
                                     self.precision)
        else:
            totals = column_totals(self.model, TokenArray(seqs[0]), self.device, self.precision)
        if per_token:
            write_per_token(Path(per_token), self.pieces(text), self.token_nats(text))
        memory_guard().check()
        return dataclasses.replace(counts, total_nats=WHOLE.total(totals))

    def encoded(self, body: str | list[str]) -> tuple[list[np.ndarray], EvalResult]:
        """The id sequences a body is scored as (a text's ids, or each document's BOD .. EOD;
        the first id of each is context only) and its counts: tokens scored, characters,
        bytes, unknown tokens (no nats yet)."""
        unk = self.tokenizer.unk_id
        if isinstance(body, list):
            b = self.boundaries
            if b is None:
                raise RnnlmError("this model was trained in stream mode and has no document "
                                 "boundary tokens; score the text without --documents")
            seqs = encode_documents(self.tokenizer, body, b)
            characters, nbytes = document_characters(body)
        else:
            seqs = [np.asarray(self.tokenizer.encode(body), dtype=np.int64)]
            if len(seqs[0]) < 2:
                raise RnnlmError("the text is too short to score: it needs at least 2 tokens")
            scored = body[self.tokenizer.context_chars(body, seqs[0]):]
            characters, nbytes = len(scored), len(scored.encode("utf-8"))
        unknown = sum(int((s[1:] == unk).sum()) for s in seqs) if unk is not None else 0
        counts = EvalResult(total_nats=0.0, tokens=sum(len(s) - 1 for s in seqs),
                            characters=characters, bytes=nbytes, unknown_tokens=unknown)
        return seqs, self._flag_lossy(counts, "\n".join(body) if isinstance(body, list) else body)

    def token_nats(self, body: str | list[str]) -> torch.Tensor:
        """-ln p of every token score() scores, in order: (N,) float32 nats."""
        seqs, _ = self.encoded(body)
        if isinstance(body, list):
            return torch.cat(document_nats(self.model, seqs, self.device, self.precision))
        return token_nats(self.model, torch.as_tensor(seqs[0], device=self.device),
                          self.precision)

    def pieces(self, body: str | list[str]) -> list[str]:
        """The text of every token score() scores, in order (an EOD reads as a newline)."""
        seqs, _ = self.encoded(body)
        eod = self.boundaries.eod if isinstance(body, list) and self.boundaries else None
        return [self.tokenizer.decode([i]) if i != eod else "\n"
                for s in seqs for i in s[1:].tolist()]

    def score_prepared(self, split: PreparedSplit, share: Share = WHOLE) -> EvalResult:
        """The same scores as score() of a prepared split's text or documents, read from its
        ids a window at a time (memory independent of the split's size). With a share (a
        torchrun rank's part of the pass), the scores are still the whole split's, the same
        to the last bit."""
        if split.offsets is None:
            totals = column_totals(self.model, split.tokens, self.device, self.precision,
                                   share=share)
            tokens = len(split.tokens) - 1
        else:
            b = self.boundaries
            if b is None:
                raise RnnlmError("this model was trained in stream mode and has no document "
                                 "boundary tokens; score the split as text")
            docs = split.documents(b)
            totals = document_totals(self.model, docs, self.device, self.precision,
                                     share=share)
            tokens = sum(int((n - 1).sum()) for n in docs.scan())
        memory_guard().check()
        result = EvalResult(total_nats=share.total(totals), tokens=tokens,
                            characters=split.characters,
                            bytes=split.bytes, unknown_tokens=split.unknown)
        if not self.tokenizer.lossless:  # the share of scored tokens that are <unk>
            result.oov_rate, result.comparable = split.unknown / tokens, False
        return result

    def _flag_lossy(self, result: EvalResult, text: str) -> EvalResult:
        """Mark scores of a lossy (word) tokenizer: its OOV rate, and not comparable."""
        if not self.tokenizer.lossless:
            result.oov_rate = self.tokenizer.fallback_rate(text)
            result.comparable = False
        return result
