"""Document batches for training from a zero state, padded on the right.

Whole documents: documents of similar length are batched together (length buckets) and
the batch order is shuffled every epoch. With --chunk, a long document is several pieces:
each batch row (a slot) reads one document piece by piece and then the next document of a
shuffled queue, so every batch mixes beginnings, middles and ends as stream mode does, and a
piece starts from the state its document's previous piece ended in (detached: truncated
BPTT across pieces).

Under torchrun every rank plans the same batches and trains its own `block` of their rows
(slots, whose documents and carried states stay with it), so the position is the same on
every rank and does not depend on their number.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from rnnlm.data.documents import DocumentPieces
from rnnlm.models.state import IGNORE, State, map_state


@dataclass
class DocBatch:
    """One padded batch: inputs and targets (B, T), real lengths (B,), which (document,
    piece) each row is, and the real tokens of the whole batch (every rank's rows)."""

    inputs: torch.Tensor
    targets: torch.Tensor
    lengths: torch.Tensor  # on the CPU, as pack_padded_sequence wants
    keys: list[tuple[int, int]]
    tokens: int


Key = tuple[int, int] | None  # (document, piece), or None: an empty slot at an epoch's end
NOTHING = np.array([0, IGNORE])  # the one row of a rank whose block is empty this step: no loss


def pad_batch(seqs: list[np.ndarray], device: torch.device | str = "cpu"
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sequences of ids (each n + 1 long) → inputs (B, T) padded with 0, targets (B, T)
    padded with IGNORE, lengths (B,) = n, where T is the longest n."""
    lengths = np.array([len(s) - 1 for s in seqs])
    inputs = np.zeros((len(seqs), lengths.max()), dtype=np.int64)  # (B, T)
    targets = np.full_like(inputs, IGNORE)  # (B, T)
    for row, s in enumerate(seqs):
        inputs[row, : len(s) - 1] = s[:-1]
        targets[row, : len(s) - 1] = s[1:]
    return (torch.from_numpy(inputs).to(device), torch.from_numpy(targets).to(device),
            torch.from_numpy(lengths))


POOL = 1 << 16  # documents sorted by length together: length buckets without a corpus-wide sort


def _permutation(rng: np.random.Generator, n: int) -> np.ndarray:
    """rng.permutation(n) (the same numbers) in 4-byte integers: a few bytes per document."""
    order = np.arange(n, dtype=np.int32 if n < 2**31 else np.int64)
    rng.shuffle(order)
    return order


class DocumentBatches:
    """Epochs of DocBatch; the position is (epoch, step) plus the states carried by --chunk.

    An epoch's order is a document permutation (4 bytes per document), never a list per
    piece; length buckets sort POOL documents of it at a time, so no corpus-wide array of
    lengths is built.
    """

    def __init__(self, pieces: DocumentPieces, batch_size: int, seed: int,
                 bucketed: bool = True, device: torch.device | str = "cpu",
                 block: slice = slice(None)) -> None:
        self.pieces, self.batch_size, self.seed = pieces, batch_size, seed
        self.bucketed, self.device, self.block = bucketed, device, block
        self.max_pieces = pieces.max_count
        self.carried: dict[int, State] = {}  # document → state after its last piece
        self.seek(0, 0)

    def plan(self, epoch: int) -> Iterator[list[Key]]:
        """The epoch's batches as (document, piece) keys, a function of (seed, epoch)."""
        rng = np.random.default_rng([self.seed, epoch])
        order = _permutation(rng, len(self.pieces))
        if self.max_pieces > 1:
            yield from self._slot_plan(order)
            return
        b = self.batch_size
        size = max(POOL // b, 1) * b  # whole batches per pool: only the last batch is short
        for start in range(0, len(order), size):
            pool = order[start: start + size]
            if self.bucketed:  # stable sort: random order among documents of equal length
                lengths = np.array([self.pieces.length(d, 0) for d in pool.tolist()])
                pool = pool[np.argsort(lengths, kind="stable")]
            for i in _permutation(rng, -(-len(pool) // b)):
                yield [(d, 0) for d in pool[i * b: (i + 1) * b].tolist()]

    def _slot_plan(self, order: np.ndarray) -> Iterator[list[Key]]:
        """Chunked documents: each slot (row) reads its document's pieces in order, then
        takes the next document of the shuffled order; the epoch ends when the order and
        slots are empty. Every batch lists all batch_size slots, None where a slot is empty."""
        queue = (d for start in range(0, len(order), 4096)
                 for d in order[start: start + 4096].tolist())
        slots: list[tuple[int, int] | None] = [None] * self.batch_size  # (document, piece)
        while True:
            keys: list[Key] = []
            for i, slot in enumerate(slots):
                if slot is None or slot[1] == self.pieces.count(slot[0]):
                    d = next(queue, None)
                    slot = None if d is None else (d, 0)
                keys.append(slot)
                if slot is not None:
                    slot = (slot[0], slot[1] + 1)
                slots[i] = slot
            if not any(keys):
                return
            yield keys

    def padding_fraction(self, epoch: int = 0) -> float:
        """Share of the batch cells of an epoch that are padding."""
        real = cells = 0
        for keys in self.plan(epoch):
            lengths = [self.pieces.length(*k) - 1 for k in keys if k is not None]
            real, cells = real + sum(lengths), cells + len(keys) * max(lengths)
        return 1 - real / cells

    def next(self) -> tuple[DocBatch, bool]:
        """The next batch (this block of its rows), and whether it starts an epoch."""
        if self._upcoming is None:
            self.seek(self.epoch + 1, 0)
        every = self._upcoming
        self._upcoming = next(self._plan, None)
        self.step += 1
        tokens = sum(self.pieces.length(*k) - 1 for k in every if k is not None)
        keys = [k for k in every[self.block] if k is not None]
        seqs = [self.pieces.piece(d, r) for d, r in keys] or [NOTHING]
        inputs, targets, lengths = pad_batch(seqs, self.device)
        return DocBatch(inputs, targets, lengths, keys, tokens), self.step == 1

    def initial_state(self, batch: DocBatch) -> State | None:
        """Zeros, except rows that continue a document: the state its last piece ended in."""
        rows = [(i, d) for i, (d, r) in enumerate(batch.keys) if r > 0]
        if not rows:
            return None
        like = self.carried[rows[0][1]]  # (L, H) parts

        def assemble(part: int) -> torch.Tensor:
            first = like[part] if isinstance(like, tuple) else like
            h = first.new_zeros(first.shape[0], len(batch.keys), first.shape[1])  # (L, B, H)
            for i, d in rows:
                s = self.carried[d]
                h[:, i] = s[part] if isinstance(s, tuple) else s
            return h

        state = tuple(assemble(k) for k in range(len(like))) if isinstance(like, tuple) \
            else assemble(0)
        for _, d in rows:
            del self.carried[d]
        return state

    def keep(self, batch: DocBatch, final: State) -> None:
        """Remember the final state of rows whose document has a next piece."""
        for i, (d, r) in enumerate(batch.keys):
            if r + 1 < self.pieces.count(d):
                self.carried[d] = map_state(lambda h, i=i: h[:, i].detach(), final)  # (L, H)

    def position(self) -> dict[str, int]:
        """Where the next batch comes from (saved in checkpoints)."""
        return {"epoch": self.epoch, "step": self.step}

    def seek(self, epoch: int, step: int) -> None:
        """Continue from a saved position (carried states: load_carried)."""
        self.epoch, self.step = epoch, step
        self._plan = self.plan(epoch)
        for _ in range(step):  # replay the plan's integers up to the position
            next(self._plan, None)
        self._upcoming = next(self._plan, None)  # the next batch's keys
        if step == 0:
            self.carried.clear()

    def carried_tensors(self) -> dict[str, torch.Tensor]:
        """The carried states as named tensors (for safetensors)."""
        if not self.carried:
            return {}
        docs = sorted(self.carried)
        parts = [self.carried[d] if isinstance(self.carried[d], tuple) else (self.carried[d],)
                 for d in docs]
        out = {"carry.docs": torch.tensor(docs)}
        for k in range(len(parts[0])):
            out[f"carry.{k}"] = torch.stack([p[k] for p in parts], 1).float().cpu()  # (L, N, H)
        return out

    def load_carried(self, tensors: dict[str, torch.Tensor]) -> None:
        """Inverse of carried_tensors (of every rank's, merged): the states of this block's
        documents, those continuing in its rows of the next batch."""
        self.carried.clear()
        if "carry.docs" not in tensors or self._upcoming is None:
            return
        mine = {k[0] for k in self._upcoming[self.block] if k is not None}
        parts = sorted(k for k in tensors if k.startswith("carry.") and k != "carry.docs")
        for n, d in enumerate(tensors["carry.docs"].tolist()):
            if d in mine:
                rows = tuple(tensors[k][:, n].to(self.device) for k in parts)  # (L, H) each
                self.carried[d] = rows if len(rows) > 1 else rows[0]


def merge_carried(ranks: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The carried_tensors of every rank as one set (documents on dim 0, states on dim 1)."""
    found = [t for t in ranks if t]
    if not found:
        return {}
    return {k: torch.cat([t[k] for t in found], dim=0 if k == "carry.docs" else 1)
            for k in found[0]}
