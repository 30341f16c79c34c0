"""Full-pass scoring: every token of a text scored once → nats, bits per character and per
byte, perplexity, and optionally every token's log-probability.

The first token is context only (nothing precedes it), so a text of N tokens scores N − 1.
For speed the text is cut into contiguous columns scored in parallel; each column first
reads the `burn_in` tokens before it (not scored), so no scored token starts from a cold
state except those at the very start of the text.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from rnnlm.data.buckets import pad_batch
from rnnlm.data.tokens import DocumentIds, TokenArray, Tokens
from rnnlm.errors import RnnlmError
from rnnlm.fileio import write_atomic
from rnnlm.models import LanguageModelNet
from rnnlm.models.state import State, map_state
from rnnlm.runtime import autocast

LN2 = math.log(2)


@dataclass
class EvalResult:
    """Scores of one text; totals in nats, rates derived from them."""

    total_nats: float
    tokens: int
    characters: int
    bytes: int
    unknown_tokens: int
    source: str = ""
    oov_rate: float | None = None  # word tokenizer: fraction of words that are <unk>
    comparable: bool = True  # False when unknown words cost only one <unk> (word tokenizer)

    @property
    def nats_per_token(self) -> float:
        """Mean negative log-likelihood per scored token (nats)."""
        return self.total_nats / self.tokens

    @property
    def bits_per_char(self) -> float:
        """Total bits over the scored characters of the original text."""
        return self.total_nats / LN2 / self.characters

    @property
    def bits_per_byte(self) -> float:
        """Total bits over the UTF-8 bytes of the scored text."""
        return self.total_nats / LN2 / self.bytes

    @property
    def perplexity(self) -> float:
        """exp(nats per token)."""
        return math.exp(self.nats_per_token)

    def to_dict(self) -> dict[str, float | int | str | bool | None]:
        """The JSON of `rnnlm eval --json`."""
        d = asdict(self)
        d.update(total_bits=self.total_nats / LN2, nats_per_token=self.nats_per_token,
                 bits_per_char=self.bits_per_char, bits_per_byte=self.bits_per_byte,
                 perplexity=self.perplexity)
        return d


def _forward(model: LanguageModelNet, ids: torch.Tensor, state: State | None, precision: str
             ) -> tuple[torch.Tensor, State]:
    with autocast(ids.device, precision):
        logits, state = model(ids, state)  # (B, T, V)
    return logits.float(), state


@torch.no_grad()
def token_nats(model: LanguageModelNet, ids: torch.Tensor, precision: str = "fp32",
               columns: int = 32, burn_in: int = 256, window: int = 512) -> torch.Tensor:
    """-ln p(ids[i] | ids[:i]) for i = 1 .. N-1, as a float32 tensor of N-1 values (nats)."""
    tokens = TokenArray(ids.cpu().numpy())
    out = [nats for _, nats in column_nats(model, tokens, ids.device, precision, columns,
                                           burn_in, window)]  # (K, w) each
    return torch.cat(out, dim=1).reshape(-1)[: len(ids) - 1].cpu()


@torch.no_grad()
def total_nats(model: LanguageModelNet, tokens: Tokens, device: torch.device,
               precision: str = "fp32") -> tuple[float, int]:
    """The summed nats and the count of ids[1:], the same numbers as token_nats, read from
    `tokens` a window at a time (memory independent of the text's length)."""
    total, scored = 0.0, len(tokens) - 1
    for valid, nats in column_nats(model, tokens, device, precision):
        total += float(nats[valid].double().sum())
    return total, scored


def column_nats(model: LanguageModelNet, tokens: Tokens, device: torch.device,
                precision: str = "fp32", columns: int = 32, burn_in: int = 256,
                window: int = 512) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Per window of the column layout (module docstring): which entries are real tokens
    (K, w) and their nats (K, w); column c holds positions 1 + c*length ...."""
    was_training = model.training
    model.eval()
    n = len(tokens)
    if n < 2:
        raise RnnlmError("the text is too short to score: it needs at least 2 tokens")
    scored = n - 1
    k = max(1, min(columns, scored // max(1, 4 * burn_in)))  # columns worth their burn-in
    length = math.ceil(scored / k)
    starts = [c * length for c in range(k)]  # column c's inputs start one position earlier
    state = None
    if k > 1:
        warm = torch.from_numpy(np.stack([tokens.read(s - burn_in, s) for s in starts[1:]]))
        _, warm_state = _forward(model, warm.to(device), None, precision)  # (K-1, burn_in)
        state = map_state(lambda h: torch.cat([torch.zeros_like(h[:, :1]), h], dim=1),
                          warm_state)  # (L, K, H): column 0 starts cold at the text's start
    window = max(16, min(window, (1 << 24) // (k * model.cfg.vocab_size)))  # logits' memory
    position = torch.arange(window)
    for t in range(0, length, window):
        w = min(window, length - t)
        rows = np.zeros((k, w + 1), dtype=np.int64)  # (K, w+1): inputs, then one more target
        for c, s in enumerate(starts):
            got = tokens.read(s + t, s + t + w + 1)
            rows[c, : len(got)] = got
        rows_t = torch.from_numpy(rows).to(device)
        logits, state = _forward(model, rows_t[:, :-1], state, precision)
        nats = -F.log_softmax(logits, dim=-1).gather(-1, rows_t[:, 1:, None]).squeeze(-1)
        target = torch.tensor(starts)[:, None] + t + position[None, :w]  # (K, w) 0-based
        yield (target < scored).to(device), nats
    model.train(was_training)


@torch.no_grad()
def document_nats(model: LanguageModelNet, seqs: list[np.ndarray], device: torch.device,
                  precision: str = "fp32") -> list[torch.Tensor]:
    """Per document (ids BOD .. EOD), -ln p of each predicted token from a zero state (nats)."""
    out: list[torch.Tensor] = [torch.empty(0)] * len(seqs)
    for rows, nats, lengths in batch_nats(model, DocumentIds.from_seqs(seqs), device,
                                          precision):
        for row, i in enumerate(rows):
            out[i] = nats[row, : lengths[row]].cpu()
    return out


@torch.no_grad()
def document_total(model: LanguageModelNet, docs: DocumentIds, device: torch.device,
                   precision: str = "fp32", budget: int = 1 << 24) -> tuple[float, int]:
    """The summed nats and count of every document's predicted tokens (as document_nats),
    reading the documents a batch at a time."""
    total = 0.0
    for _, nats, lengths in batch_nats(model, docs, device, precision, budget):
        real = torch.arange(nats.shape[1])[None, :] < lengths[:, None]  # (B, T)
        total += float(nats[real.to(nats.device)].double().sum())
    return total, sum(int((n - 1).sum()) for n in docs.scan())


def batch_nats(model: LanguageModelNet, docs: DocumentIds, device: torch.device,
               precision: str = "fp32", budget: int = 1 << 24
               ) -> Iterator[tuple[list[int], torch.Tensor, torch.Tensor]]:
    """Documents of similar length batched and right-padded (a left-to-right RNN's outputs
    at real positions do not depend on the padding after them, so no packing is needed):
    per batch, its documents, their nats (B, T) and their predicted lengths (B,)."""
    was_training = model.training
    model.eval()
    sizes = docs.lengths  # (D,) ids per document
    order = np.argsort(sizes, kind="stable")
    per_batch = max(1, budget // model.cfg.vocab_size)  # logits cells per forward call
    start = 0
    while start < len(order):
        end = start + 1
        while end < len(order) and (end + 1 - start) * int(sizes[order[end]]) <= per_batch:
            end += 1
        rows = order[start:end].tolist()
        inputs, targets, lengths = pad_batch([docs.read(i) for i in rows], device)  # (B, T)
        logits, _ = _forward(model, inputs, None, precision)  # (B, T, V)
        nats = F.cross_entropy(logits.transpose(1, 2), targets.clamp_min(0),
                               reduction="none")  # (B, T)
        yield rows, nats, lengths
        start = end
    model.train(was_training)


def summarize(nats: torch.Tensor, scored_text: str, unknown_tokens: int) -> EvalResult:
    """Totals for a scored text."""
    return EvalResult(total_nats=float(nats.double().sum()), tokens=len(nats),
                      characters=len(scored_text), bytes=len(scored_text.encode("utf-8")),
                      unknown_tokens=unknown_tokens)


def write_per_token(path: Path, pieces: list[str], nats: torch.Tensor) -> None:
    """TSV: character offset, token (escaped), nats, bits — one scored token per row."""
    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("offset\ttoken\tnats\tbits\n")
            offset = 0
            for piece, v in zip(pieces, nats.tolist(), strict=True):
                token = piece.encode("unicode_escape").decode("ascii")
                f.write(f"{offset}\t{token}\t{v:.6f}\t{v / LN2:.6f}\n")
                offset += len(piece)

    write_atomic(path, write)
