"""Stream batching for truncated BPTT: the token stream is cut into `batch` parallel columns
and read `seq_len` tokens at a time, so each column's hidden state carries to its next window
(as in char-rnn and PyTorch's word_language_model).

The ids are read a window at a time (data.tokens: an array, or a prepared file mapped from
disk), so only the current batch is ever copied out of them. Under torchrun each rank reads
its own block of the columns (`block`), so the columns, and the data position, do not depend
on the number of ranks.
"""

from __future__ import annotations

import numpy as np
import torch

from rnnlm.data.tokens import TokenArray, Tokens
from rnnlm.errors import RnnlmError


class StreamBatches:
    """Windows (x, y) of shape (block, seq_len), y = x shifted by one token: the `block` of
    the batch_size columns (default: all).

    Each epoch starts the columns at a fresh offset in [0, seq_len) (epoch 0 at 0), drawn from
    (seed, epoch), so windows differ between epochs while the position stays two integers.
    """

    def __init__(self, ids: Tokens | torch.Tensor | np.ndarray, batch_size: int, seq_len: int,
                 seed: int, device: torch.device | str = "cpu", block: slice = slice(None)
                 ) -> None:
        if not hasattr(ids, "read"):
            ids = TokenArray(ids.cpu().numpy() if isinstance(ids, torch.Tensor) else ids)
        need = batch_size * (seq_len + 1)
        if len(ids) < need + seq_len:
            raise RnnlmError(
                f"the training text is too short: {len(ids):,} tokens, but one batch of "
                f"--batch-size {batch_size} × --seq-len {seq_len} needs at least "
                f"{need + seq_len:,}; lower --batch-size or --seq-len, or use more text")
        self.ids, self.batch_size, self.seq_len, self.seed = ids, batch_size, seq_len, seed
        self.device, self.columns = torch.device(device), range(batch_size)[block]
        self.seek(0, 0)

    def _layout(self, epoch: int) -> tuple[int, int]:
        """Where the epoch's columns start and how wide each is: (offset, width)."""
        rng = np.random.default_rng([self.seed, epoch])
        offset = int(rng.integers(self.seq_len)) if epoch else 0
        return offset, (len(self.ids) - offset) // self.batch_size

    @property
    def steps_per_epoch(self) -> int:
        """Whole windows in the current epoch."""
        return (self._width - 1) // self.seq_len

    def next(self) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """The next (x, y) and whether it starts an epoch (the carried state must be reset)."""
        if self.step >= self.steps_per_epoch:
            self.seek(self.epoch + 1, 0)
        start = self._offset + self.step * self.seq_len
        window = np.stack([self.ids.read(start + c * self._width,
                                         start + c * self._width + self.seq_len + 1)
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
        self._offset, self._width = self._layout(epoch)
