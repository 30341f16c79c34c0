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
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from rnnlm.data.buckets import pad_batch
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

    def total(self, units: list[torch.Tensor]) -> float:
        """Σ nats over every unit of the pass, given each unit's nats (empty outside this
        part): the same float whatever the parts (each unit's float64 sum, then an exactly
        rounded sum of those)."""
        totals = torch.tensor([float(u.double().sum()) for u in units], dtype=torch.float64)
        return math.fsum(self.combine(totals).tolist())  # (units,): zeros outside each part


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
    return torch.cat(column_nats(model, ids, precision, columns, burn_in, window))


@torch.no_grad()
def column_nats(model: LanguageModelNet, ids: torch.Tensor, precision: str = "fp32",
                columns: int = 32, burn_in: int = 256, window: int = 512,
                share: Share = WHOLE) -> list[torch.Tensor]:
    """Per column of the pass, -ln p of its scored tokens (nats, float32 on the CPU; empty
    outside the share): all columns in order are ids[1:]'s N-1 values. A column's numbers
    are the same whichever other columns share its batch."""
    was_training = model.training
    model.eval()
    n = len(ids)
    if n < 2:
        raise RnnlmError("the text is too short to score: it needs at least 2 tokens")
    scored = n - 1
    k = max(1, min(columns, scored // max(1, 4 * burn_in)))  # columns worth their burn-in
    length = math.ceil(scored / k)
    mine = share.block(k)
    found = [torch.empty(0)] * k
    if not mine:
        return found
    # Column c predicts positions 1 + c*length ... ; its inputs start one position earlier.
    starts = [c * length for c in mine]
    warm_starts = [s for s in starts if s > 0]  # s >= 4*burn_in; column 0 starts cold
    state = None
    if warm_starts:
        warm = torch.stack([ids[s - burn_in: s] for s in warm_starts])  # (K', burn_in)
        _, warm_state = _forward(model, warm, None, precision)
        if len(warm_starts) < len(starts):
            state = map_state(lambda h: torch.cat([torch.zeros_like(h[:, :1]), h], dim=1),
                              warm_state)  # (L, K, H): column 0 starts cold at the text's start
        else:
            state = warm_state
    pad = k * length + 1 - n
    padded = torch.cat([ids, ids.new_zeros(pad)]) if pad > 0 else ids
    inputs = torch.stack([padded[s: s + length] for s in starts])  # (K, length)
    targets = torch.stack([padded[s + 1: s + 1 + length] for s in starts])  # (K, length)
    vocab = model.cfg.vocab_size
    window = max(16, min(window, (1 << 24) // (k * vocab)))  # bound the logits' memory
    out = torch.empty(len(starts), length, device=ids.device)
    for t in range(0, length, window):
        logits, state = _forward(model, inputs[:, t: t + window], state, precision)
        logp = F.log_softmax(logits, dim=-1)  # (K, w, V)
        out[:, t: t + window] = -logp.gather(-1, targets[:, t: t + window, None]).squeeze(-1)
    model.train(was_training)
    out = out.cpu()
    for row, (c, s) in enumerate(zip(mine, starts, strict=True)):
        found[c] = out[row, : min(length, scored - s)]
    return found


@torch.no_grad()
def document_nats(model: LanguageModelNet, seqs: list[np.ndarray], device: torch.device,
                  precision: str = "fp32", budget: int = 1 << 24, share: Share = WHOLE
                  ) -> list[torch.Tensor]:
    """Per document (ids BOD .. EOD), -ln p of each predicted token from a zero state (nats,
    float32 on the CPU; empty outside the share: the share scores every size-th by length).

    Documents of similar length are batched and right-padded: a left-to-right RNN's outputs
    at real positions do not depend on the padding after them, so no packing is needed.
    """
    was_training = model.training
    model.eval()
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))[share.rank::share.size]
    per_batch = max(1, budget // model.cfg.vocab_size)  # logits cells per forward call
    out: list[torch.Tensor] = [torch.empty(0)] * len(seqs)
    start = 0
    while start < len(order):
        end = start + 1
        while end < len(order) and (end + 1 - start) * len(seqs[order[end]]) <= per_batch:
            end += 1
        rows = order[start:end]
        inputs, targets, lengths = pad_batch([seqs[i] for i in rows], device)  # (B, T) each
        logits, _ = _forward(model, inputs, None, precision)  # (B, T, V)
        nats = F.cross_entropy(logits.transpose(1, 2), targets.clamp_min(0),
                               reduction="none")  # (B, T)
        for row, i in enumerate(rows):
            out[i] = nats[row, : lengths[row]].cpu()
        start = end
    model.train(was_training)
    return out


def summarize(total_nats: float, tokens: int, scored_text: str, unknown_tokens: int
              ) -> EvalResult:
    """Totals for a scored text."""
    return EvalResult(total_nats=total_nats, tokens=tokens, characters=len(scored_text),
                      bytes=len(scored_text.encode("utf-8")), unknown_tokens=unknown_tokens)


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
