"""Truncated-BPTT stream batches."""

from __future__ import annotations

import itertools

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


def next_epoch(b: StreamBatches) -> list[tuple[torch.Tensor, torch.Tensor, bool]]:
    """The windows of the epoch that the next window starts (steps_per_epoch is its own from
    its first window on)."""
    first = b.next()
    return [first] + [b.next() for _ in range(b.steps_per_epoch - 1)]


def lengths_of(b: StreamBatches, epochs: int = 1) -> list[int]:
    """The window lengths of the next `epochs` epochs."""
    return [x.shape[1] for _ in range(epochs) for x, _, _ in next_epoch(b)]


def test_variable_windows_are_drawn_as_awd_draws_them() -> None:
    """About seq_len, 5% about seq_len / 2, in [5, seq_len + 15]: mean 0.975 · seq_len."""
    b = StreamBatches(torch.arange(1_000_000), batch_size=2, seq_len=70, seed=0, variable=True)
    lengths = torch.tensor(lengths_of(b)[:-1], dtype=torch.float)  # the last takes the rest
    assert len(lengths) > 7000 and lengths.min() >= 5 and lengths.max() <= 85
    assert abs(lengths.mean().item() - 0.975 * 70) < 0.5  # its standard error: 0.1
    assert 0.035 < (lengths < 52.5).float().mean().item() < 0.065  # the short mode's share


def test_variable_windows_cover_every_column_once_per_epoch() -> None:
    ids = torch.arange(5000)
    b = StreamBatches(ids, batch_size=4, seq_len=20, seed=3, variable=True)
    for _ in range(2):  # epoch 0 starts at offset 0, epoch 1 at a drawn one
        windows = next_epoch(b)
        assert [start for _, _, start in windows] == [True] + [False] * (len(windows) - 1)
        for (_, y, _), (x, _, _) in itertools.pairwise(windows):
            assert torch.equal(x[:, 0], y[:, -1])  # each column carries on
        first = windows[0][0][:, 0]  # (4,) where each column starts
        width = (len(ids) - int(first[0])) // 4
        targets = torch.cat([y for _, y, _ in windows], dim=1)  # (4, width - 1)
        assert torch.equal(targets, first[:, None] + torch.arange(1, width))


def test_variable_windows_depend_on_the_seed_and_position_only() -> None:
    ids = torch.arange(20_000)
    def batches(seed: int) -> StreamBatches:
        return StreamBatches(ids, batch_size=4, seq_len=30, seed=seed, variable=True)

    drawn = lengths_of(batches(7), epochs=2)
    assert lengths_of(batches(7), epochs=2) == drawn and len(set(drawn)) > 10
    assert lengths_of(batches(8), epochs=2) != drawn
    b, again = batches(7), batches(7)
    n = b.steps_per_epoch
    seen = [b.next() for _ in range(n + 6)]
    again.seek(epoch=1, step=5)
    x, y, start = again.next()
    assert not start and torch.equal(x, seen[n + 5][0]) and torch.equal(y, seen[n + 5][1])
