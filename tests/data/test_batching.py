"""Truncated-BPTT stream batches."""

from __future__ import annotations

import pytest
import torch

from rnnlm.data.batching import StreamBatches
from rnnlm.errors import RnnlmError


def test_windows_are_contiguous_columns() -> None:
    ids = torch.arange(1000)
    b = StreamBatches(ids, batch_size=4, seq_len=10, seed=0)
    x1, y1, start1 = b.next()
    x2, _, start2 = b.next()
    assert start1 and not start2
    assert x1.shape == (4, 10) and torch.equal(y1, x1 + 1)
    assert torch.equal(x2[:, 0], y1[:, -1])  # the next window continues each column
    assert torch.equal(x1[:, 0], torch.tensor([0, 250, 500, 750]))


def test_epochs_restart_with_new_offsets_and_seek_reproduces() -> None:
    ids = torch.arange(1000)
    b = StreamBatches(ids, batch_size=4, seq_len=10, seed=3)
    n = b.steps_per_epoch
    seen = [b.next() for _ in range(n + 3)]
    assert seen[n][2] and b.position() == {"epoch": 1, "step": 3}
    assert not torch.equal(seen[n][0][:, 0], seen[0][0][:, 0])  # a new offset in epoch 1
    other = StreamBatches(ids, batch_size=4, seq_len=10, seed=3)
    other.seek(epoch=1, step=1)
    assert torch.equal(other.next()[0], seen[n + 1][0])


def test_too_short_for_one_batch() -> None:
    with pytest.raises(RnnlmError, match="too short.*--batch-size 32 × --seq-len 128"):
        StreamBatches(torch.arange(1000), batch_size=32, seq_len=128, seed=0)
