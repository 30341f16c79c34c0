"""Stream batching for truncated BPTT: the token stream is cut into `batch` parallel columns
and read `seq_len` tokens at a time, so each column's hidden state carries to its next window
(as in char-rnn and PyTorch's word_language_model).

The ids are read a window at a time (data.tokens: an array, or a prepared file mapped from
disk), so only the current batch is ever copied out of them. Under torchrun each rank reads
its own block of the columns (`block`), so the columns, and the data position, do not depend
on the number of ranks.

With `variable` (--variable-bptt), window lengths are drawn as AWD-LSTM draws them (Merity et
al. 2018): about seq_len, or for 5% of windows about seq_len / 2, ± SPREAD tokens (a normal
draw), clipped to [MIN_WINDOW, seq_len + 3 SPREAD]; the epoch's last window takes the column's
remaining tokens, so every token of a column is a target once per epoch. The lengths come from
(seed, epoch) like the offset, so the position stays (epoch, step).
"""

from __future__ import annotations

import numpy as np
import torch

from rnnlm.data.tokens import TokenArray, Tokens
from rnnlm.errors import RnnlmError

MIN_WINDOW, SPREAD = 5, 5.0  # AWD-LSTM's shortest window and its lengths' standard deviation
SHORT = 0.05  # the share of windows drawn about seq_len / 2
DRAWS = 4096  # lengths drawn at a time (a constant: the draws depend on (seed, epoch) only)


def window_lengths(rng: np.random.Generator, seq_len: int, targets: int) -> np.ndarray:
    """AWD-LSTM's window lengths (see the module docstring), summing to `targets`."""
    lo, hi = min(MIN_WINDOW, seq_len), seq_len + 3 * SPREAD
    drawn: list[np.ndarray] = []
    total = 0
    while total < targets:
        base = np.where(rng.random(DRAWS) < SHORT, seq_len / 2, seq_len)
        drawn.append(np.clip(np.rint(rng.normal(base, SPREAD)), lo, hi).astype(np.int64))
        total += int(drawn[-1].sum())
    lengths = np.concatenate(drawn)
    ends = np.cumsum(lengths)
    last = int(np.searchsorted(ends, targets))  # the first window reaching the last target
    lengths = lengths[:last + 1]
    lengths[-1] -= ends[last] - targets  # cut to what is left of the column
    return lengths


class StreamBatches:
    """Windows (x, y) of shape (block, seq_len), y = x shifted by one token: the `block` of
    the batch_size columns (default: all); with `variable`, of shape (block, a drawn length).

    Each epoch starts the columns at a fresh offset in [0, seq_len) (epoch 0 at 0), drawn from
    (seed, epoch), so windows differ between epochs while the position stays two integers.
    """

    def __init__(self, ids: Tokens | torch.Tensor | np.ndarray, batch_size: int, seq_len: int,
                 seed: int, device: torch.device | str = "cpu", block: slice = slice(None),
                 variable: bool = False) -> None:
        if not hasattr(ids, "read"):
            ids = TokenArray(ids.cpu().numpy() if isinstance(ids, torch.Tensor) else ids)
        need = batch_size * (seq_len + 1)
        if len(ids) < need + seq_len:
            raise RnnlmError(
                f"the training text is too short: {len(ids):,} tokens, but one batch of "
                f"--batch-size {batch_size} × --seq-len {seq_len} needs at least "
                f"{need + seq_len:,}; lower --batch-size or --seq-len, or use more text")
        self.ids, self.batch_size, self.seq_len, self.seed = ids, batch_size, seq_len, seed
        self.variable = variable
        self.device, self.columns = torch.device(device), range(batch_size)[block]
        self.seek(0, 0)

    def _layout(self, epoch: int) -> tuple[int, int, np.ndarray]:
        """Where the epoch's columns start, how wide each is, and its windows' lengths:
        (offset, width, lengths); fixed windows leave out a column's last partial one."""
        rng = np.random.default_rng([self.seed, epoch])
        offset = int(rng.integers(self.seq_len)) if epoch else 0
        width = (len(self.ids) - offset) // self.batch_size
        targets = width - 1  # tokens of a column that follow another
        lengths = window_lengths(rng, self.seq_len, targets) if self.variable \
            else np.full(targets // self.seq_len, self.seq_len)
        return offset, width, lengths

    @property
    def steps_per_epoch(self) -> int:
        """Windows in the current epoch."""
        return len(self._lengths)

    def next(self) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """The next (x, y) and whether it starts an epoch (the carried state must be reset)."""
        if self.step >= self.steps_per_epoch:
            self.seek(self.epoch + 1, 0)
        start, length = int(self._starts[self.step]), int(self._lengths[self.step])
        window = np.stack([self.ids.read(start + c * self._width,
                                         start + c * self._width + length + 1)
                           for c in self.columns])  # (block, T+1), column c's window
        window = torch.from_numpy(window).to(self.device, non_blocking=True)
        self.step += 1
        return window[:, :-1], window[:, 1:], self.step == 1

    def position(self) -> dict[str, int]:
        """Where the next batch comes from (saved in checkpoints)."""
        return {"epoch": self.epoch, "step": self.step}

    def seek(self, epoch: int, step: int) -> None:
        """Continue from a saved position."""
        self.epoch, self.step = epoch, step
        offset, self._width, self._lengths = self._layout(epoch)
        self._starts = offset + np.cumsum(self._lengths) - self._lengths  # each window's first
