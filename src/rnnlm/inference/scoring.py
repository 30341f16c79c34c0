"""Full-pass scoring: every token of a text scored once → nats, bits per character and per
byte, perplexity, and optionally every token's log-probability.

The first token is context only (nothing precedes it), so a text of N tokens scores N − 1.
For speed the text is cut into contiguous columns scored in parallel; each column first
reads the `burn_in` tokens before it (not scored), so no scored token starts from a cold
state except those at the very start of the text.

A pass can be shared out (a `Share`: one rank of a torchrun job scores its block of columns,
or its documents): totals are kept per column or document, in float64, and summed exactly
rounded (math.fsum), so the shared pass equals the single-process one to the last bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
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
from rnnlm.runtime import autocast, memory_guard

LN2 = math.log(2)
DOCUMENT_WINDOW = 512  # tokens of a batch of documents per forward call


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


def _whole(totals: torch.Tensor) -> torch.Tensor:
    return totals


@dataclass(frozen=True)
class Share:
    """The part of a full pass this process scores: part `rank` of `size` (default: all of
    it); `combine` adds the parts' per-unit totals (zeros outside each part) over the ranks."""

    rank: int = 0
    size: int = 1
    combine: Callable[[torch.Tensor], torch.Tensor] = _whole

    def block(self, n: int) -> range:
        """This part's contiguous block of n units (columns)."""
        return range(n * self.rank // self.size, n * (self.rank + 1) // self.size)

    def total(self, totals: torch.Tensor) -> float:
        """Σ nats over every unit of the pass, given this part's per-unit float64 totals
        (zeros outside it): the same float whatever the parts (an exactly rounded sum)."""
        return math.fsum(self.combine(totals).tolist())


WHOLE = Share()


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
    out = [nats for _, _, nats in column_windows(model, tokens, ids.device, precision,
                                                 columns, burn_in, window)]  # (K, w) each
    return torch.cat(out, dim=1).reshape(-1)[: len(ids) - 1].cpu()


@torch.no_grad()
def column_totals(model: LanguageModelNet, tokens: Tokens, device: torch.device,
                  precision: str = "fp32", share: Share = WHOLE) -> torch.Tensor:
    """Per column of the pass, its scored tokens' summed nats (float64; zeros outside the
    share), read from `tokens` a window at a time: memory independent of the text's length.
    A column's total is the same whichever other columns share its batch."""
    totals = torch.zeros(column_count(len(tokens)), dtype=torch.float64)
    for mine, valid, nats in column_windows(model, tokens, device, precision, share=share):
        totals[mine.start: mine.stop] += (nats * valid).double().sum(1).cpu()  # (K',)
    return totals


def column_count(n: int, columns: int = 32, burn_in: int = 256) -> int:
    """How many columns a pass over n ids uses (each worth its burn-in)."""
    if n < 2:
        raise RnnlmError("the text is too short to score: it needs at least 2 tokens")
    return max(1, min(columns, (n - 1) // max(1, 4 * burn_in)))


def column_windows(model: LanguageModelNet, tokens: Tokens, device: torch.device,
                   precision: str = "fp32", columns: int = 32, burn_in: int = 256,
                   window: int = 512, share: Share = WHOLE
                   ) -> Iterator[tuple[range, torch.Tensor, torch.Tensor]]:
    """Per window of the pass over the share's columns (module docstring): those columns,
    which entries are real tokens (K', w) and their nats (K', w); column c holds positions
    1 + c*length .... A column's numbers do not depend on which columns share its batch."""
    was_training = model.training
    model.eval()
    n = len(tokens)
    k = column_count(n, columns, burn_in)
    scored = n - 1
    length = math.ceil(scored / k)
    mine = share.block(k)
    starts = [c * length for c in mine]  # column c's inputs start one position earlier
    if not starts:
        return
    state = None
    warm_starts = [s for s in starts if s > 0]  # s >= 4*burn_in; column 0 starts cold
    if warm_starts:
        warm = torch.from_numpy(np.stack([tokens.read(s - burn_in, s) for s in warm_starts]))
        _, state = _forward(model, warm.to(device), None, precision)  # (K', burn_in)
        if len(warm_starts) < len(starts):
            state = map_state(lambda h: torch.cat([torch.zeros_like(h[:, :1]), h], dim=1),
                              state)  # (L, K', H): column 0 starts cold at the text's start
    window = max(16, min(window, (1 << 24) // (k * model.cfg.vocab_size)))  # logits' memory
    position = torch.arange(window)
    for t in range(0, length, window):
        w = min(window, length - t)
        rows = np.zeros((len(starts), w + 1), dtype=np.int64)  # (K', w+1): inputs, one more
        for c, s in enumerate(starts):
            got = tokens.read(s + t, s + t + w + 1)
            rows[c, : len(got)] = got
        rows_t = torch.from_numpy(rows).to(device)
        logits, state = _forward(model, rows_t[:, :-1], state, precision)
        nats = -F.log_softmax(logits, dim=-1).gather(-1, rows_t[:, 1:, None]).squeeze(-1)
        target = torch.tensor(starts)[:, None] + t + position[None, :w]  # (K', w) 0-based
        yield mine, (target < scored).to(device), nats
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
def document_totals(model: LanguageModelNet, docs: DocumentIds, device: torch.device,
                    precision: str = "fp32", budget: int = 1 << 25, share: Share = WHOLE
                    ) -> torch.Tensor:
    """Per document, its predicted tokens' summed nats (float64; zeros outside the share,
    which scores every size-th document by length), a batch of documents at a time."""
    totals = torch.zeros(len(docs), dtype=torch.float64)
    for rows, nats, lengths in batch_nats(model, docs, device, precision, budget, share):
        real = torch.arange(nats.shape[1])[None, :] < lengths[:, None]  # (B, T)
        totals[rows] = (nats.cpu() * real).double().sum(1)
    return totals


def batch_nats(model: LanguageModelNet, docs: DocumentIds, device: torch.device,
               precision: str = "fp32", budget: int = 1 << 25, share: Share = WHOLE
               ) -> Iterator[tuple[list[int], torch.Tensor, torch.Tensor]]:
    """Documents of similar length batched and right-padded (a left-to-right RNN's outputs
    at real positions do not depend on the padding after them, so no packing is needed), a
    batch read in windows of DOCUMENT_WINDOW tokens carrying the state, so no forward call
    outgrows `budget` cells whatever the documents' lengths: per batch, its documents, their
    nats (B, T) and their predicted lengths (B,)."""
    was_training = model.training
    model.eval()
    sizes = docs.lengths  # (D,) ids per document
    order = np.argsort(sizes, kind="stable")[share.rank::share.size]
    cfg = model.cfg  # a token's logits and gates: what bounds a forward call's memory
    per_batch = max(1, budget // (cfg.vocab_size + 4 * cfg.hidden))  # tokens per batch
    start = 0
    while start < len(order):
        end = start + 1
        while end < len(order) and (end + 1 - start) * int(sizes[order[end]]) <= per_batch:
            end += 1
        rows = order[start:end].tolist()
        inputs, targets, lengths = pad_batch([docs.read(i) for i in rows], device)  # (B, T)
        state, parts = None, []
        for t in range(0, inputs.shape[1], DOCUMENT_WINDOW):  # long documents: in windows
            logits, state = _forward(model, inputs[:, t: t + DOCUMENT_WINDOW], state,
                                     precision)  # (B, w, V), the state carried
            parts.append(F.cross_entropy(logits.transpose(1, 2),
                                         targets[:, t: t + DOCUMENT_WINDOW].clamp_min(0),
                                         reduction="none"))  # (B, w)
        yield rows, torch.cat(parts, dim=1), lengths  # nats (B, T)
        memory_guard().check()  # batches of every shape leave freed blocks behind
        start = end
    model.train(was_training)


def write_per_token(path: Path, pieces: list[str], nats: torch.Tensor,
                    extra: dict[str, torch.Tensor] | None = None) -> None:
    """TSV: character offset, token (escaped), nats, bits — one scored token per row — then
    a column of nats per `extra` entry (what other models or passes gave the same token)."""
    more = extra or {}
    columns = [nats.tolist(), *(v.tolist() for v in more.values())]

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write("\t".join(["offset", "token", "nats", "bits", *more]) + "\n")
            offset = 0
            for piece, v, *others in zip(pieces, *columns, strict=True):
                token = piece.encode("unicode_escape").decode("ascii")
                tail = "".join(f"\t{o:.6f}" for o in others)
                f.write(f"{offset}\t{token}\t{v:.6f}\t{v / LN2:.6f}{tail}\n")
                offset += len(piece)

    write_atomic(path, write)
