"""The recurrent states of every active stream, one row each, advanced as one batch.

Streams join (a primed state copied into new rows at the end) and leave (the rows kept are
moved to the front, in order) between steps; `step` feeds one id per row and returns every
row's next-token logits. A recurrent model's state is a few fixed-size tensors per row, so
this is all a server needs to run many requests as one batch.
"""

from __future__ import annotations

import torch

from rnnlm.inference.stepper import Stepper, supports
from rnnlm.models import LanguageModelNet
from rnnlm.models.state import State, map_state, parts
from rnnlm.runtime import autocast


def prime(model: LanguageModelNet, ids: torch.Tensor, precision: str
          ) -> tuple[torch.Tensor, State]:
    """The logits (P, V) fp32 after each id of one prompt (1, P), and the state after it."""
    with autocast(ids.device, precision):
        logits, state = model(ids)  # (1, P, V)
    return logits[0].float(), state


def prime_many(model: LanguageModelNet, prompts: list[torch.Tensor], precision: str,
               budget: int = 1 << 24) -> list[tuple[torch.Tensor, State]]:
    """prime() of several prompts (each (1, P)): for a recurrent model, as many as fit
    `budget` logits in one forward call, right-padded with their true lengths (each row's
    state is the one after its last real id); other models one call each."""
    if not supports(model):
        return [prime(model, ids, precision) for ids in prompts]
    out: list[tuple[torch.Tensor, State]] = []
    vocab, start = model.cfg.vocab_size, 0
    while start < len(prompts):
        end = start + 1
        while end < len(prompts) and (end + 1 - start) * vocab * max(
                p.shape[1] for p in prompts[start: end + 1]) <= budget:
            end += 1
        group = prompts[start:end]
        lengths = torch.tensor([p.shape[1] for p in group])  # (B,)
        ids = torch.zeros(len(group), int(lengths.max()), dtype=torch.int64,
                          device=group[0].device)  # (B, P) padded with 0
        for row, p in enumerate(group):
            ids[row, : p.shape[1]] = p[0]
        ragged = bool((lengths != lengths[0]).any())
        with autocast(ids.device, precision):
            logits, state = model(ids, lengths=lengths if ragged else None)  # (B, P, V)
        for row, n in enumerate(lengths.tolist()):
            out.append((logits[row, :n].float(),
                        map_state(lambda t, r=row: t[:, r: r + 1], state)))  # (L, 1, H)
        start = end
    return out


class StepperRows:
    """Rows on Steppers: a batch of size a power of two ≥ the rows (rows past them are
    idle), moved to a Stepper of another size when the rows outgrow it or fall under a
    quarter of it; every size shares one copy of the prepared weights."""

    def __init__(self, model: LanguageModelNet, precision: str) -> None:
        self.model, self.precision, self.n = model, precision, 0
        self.first = Stepper(model, 1, precision)
        self.steppers = {1: self.first}
        self.st = self.first
        self.first.load_state(None)
        self.ids = torch.zeros(1, dtype=torch.int64, device=self.first.S.device)  # (C,)

    @property
    def capacity(self) -> int:
        """Rows the current Stepper computes per step."""
        return self.st.S.shape[0]

    def _fit(self, rows: int) -> None:
        """Move the first `self.n` rows to a Stepper sized for `rows` rows, if needed."""
        size = 1 << max(0, rows - 1).bit_length()  # the power of two ≥ rows
        if size <= self.capacity and rows > self.capacity // 4:
            return
        if size not in self.steppers:
            self.steppers[size] = Stepper(self.model, size, self.precision, share=self.first)
        new, n = self.steppers[size], self.n
        new.S[:n] = self.st.S[:n]  # (n, [E] + L·H)
        if new.c is not None:
            new.c[:, :n] = self.st.c[:, :n]  # (L, n, H)
        self.st = new
        self.ids = torch.zeros(size, dtype=torch.int64, device=new.S.device)

    def add(self, state: State, copies: int) -> None:
        """Append `copies` rows, each holding a primed state (the model's, one row)."""
        self._fit(self.n + copies)
        h, c = state if isinstance(state, tuple) else (state, None)  # (L, 1, H)
        rows = slice(self.n, self.n + copies)
        for k, hk in enumerate(self.st.hs):
            hk[rows] = h[k, 0]  # (copies, H) from (H,)
        if c is not None:
            self.st.c[:, rows] = c[:, :1]  # (L, copies, H)
        self.n += copies

    def keep(self, rows: list[int]) -> None:
        """Keep only these rows (ascending), moved to the front in order."""
        if rows == list(range(self.n)):
            return
        index = torch.tensor(rows, dtype=torch.int64, device=self.st.S.device)
        self.st.S[: len(rows)] = self.st.S[index]
        if self.st.c is not None:
            self.st.c[:, : len(rows)] = self.st.c[:, index]
        self.n = len(rows)
        self._fit(self.n)

    def step(self, ids: torch.Tensor) -> torch.Tensor:
        """Feed one id per row (n,); the next-token logits (n, V) fp32, a new tensor."""
        self.ids[: self.n] = ids
        return self.st.step(self.ids)[: self.n].clone()


class ModelRows:
    """Rows of any other model (the transformer): its state in the model's own format,
    batch on dimension 1, and one model call per step."""

    def __init__(self, model: LanguageModelNet, precision: str) -> None:
        self.model, self.precision, self.n = model, precision, 0
        self.state: State | None = None

    def add(self, state: State, copies: int) -> None:
        """Append `copies` rows, each holding a primed state (one row)."""
        new = map_state(lambda t: t.repeat_interleave(copies, dim=1), state)  # (., copies, .)
        if self.state is None:
            self.state = new
        else:
            joined = tuple(torch.cat([a, b], dim=1)
                           for a, b in zip(parts(self.state), parts(new), strict=True))
            self.state = joined if isinstance(new, tuple) else joined[0]
        self.n += copies

    def keep(self, rows: list[int]) -> None:
        """Keep only these rows, in order."""
        if rows == list(range(self.n)):
            return
        self.n = len(rows)
        if not rows:
            self.state = None
            return
        index = torch.tensor(rows, dtype=torch.int64)
        self.state = map_state(lambda t: t.index_select(1, index.to(t.device)), self.state)

    def step(self, ids: torch.Tensor) -> torch.Tensor:
        """Feed one id per row (n,); the next-token logits (n, V) fp32."""
        with autocast(ids.device, self.precision):
            logits, self.state = self.model(ids[:, None], self.state)  # (n, 1, V)
        return logits[:, -1].float()


def rows_for(model: LanguageModelNet, precision: str) -> StepperRows | ModelRows:
    """Stepper rows where the Stepper runs the model, else one model call per step."""
    return StepperRows(model, precision) if supports(model) else ModelRows(model, precision)
