"""Greedy and beam search: beam 1 is greedy, and beam search finds the best hypothesis of a
hand-built model whose answer is known (and, with a beam wide enough, the exhaustive best)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import pytest
import torch

from rnnlm.data.pairs import pad_sources
from rnnlm.inference.beam import beam_search, greedy, length_penalty
from tests.models.seq2seq.test_model import sources, tiny_model

A, B, EOD, BOD = 0, 1, 2, 3  # the hand-built model's ids


@dataclass
class Position:
    """The hand-built model's state: the step each row is at."""

    t: torch.Tensor

    def select(self, rows: torch.Tensor) -> Position:
        return Position(self.t[rows])


@dataclass
class NoMemory:
    src: torch.Tensor

    def select(self, rows: torch.Tensor) -> NoMemory:
        return NoMemory(self.src[rows])


class Markov:
    """Next-token log-probabilities that depend on the step and the previous token only:
    table (T, V, V) of probabilities."""

    def __init__(self, table: torch.Tensor) -> None:
        self.logp = table.clamp_min(1e-30).log()

    def step(self, prev, state, memory):
        t = state.t.clamp_max(self.logp.shape[0] - 1)
        return self.logp[t, prev], Position(state.t + 1), torch.ones(len(prev), 1)


def run_beam(model: Markov, beam: int, max_length: int, alpha: float = 0.0, nbest: int = 1):
    return beam_search(model, NoMemory(torch.zeros(1, 1, dtype=torch.long)),
                       Position(torch.zeros(1, dtype=torch.long)), BOD, EOD, beam, [max_length],
                       alpha, nbest)[0]


def exhaustive(model: Markov, max_length: int, alpha: float) -> tuple[list[int], float]:
    """The best (ids, score) over every output of at most max_length tokens."""
    best: tuple[list[int], float] = ([], -math.inf)
    vocab = model.logp.shape[-1]
    for n in range(1, max_length + 1):
        for seq in itertools.product(range(vocab), repeat=n):
            if EOD in seq[:-1]:
                continue
            prev, total = BOD, 0.0
            for t, y in enumerate(seq):
                total += float(model.logp[min(t, model.logp.shape[0] - 1), prev, y])
                prev = y
            if seq[-1] != EOD and n < max_length:
                continue  # unfinished outputs only count at the maximum length
            score = total / length_penalty(n, alpha)
            ids = [y for y in seq if y != EOD]
            if score > best[1]:
                best = (ids, score)
    return best


def known_table() -> torch.Tensor:
    """From BOD: a 0.6, b 0.4. After a: a 0.35, b 0.35, EOD 0.3. After b: EOD 0.9. Greedy
    says a…, whose best ending is worth at most 0.6 · 0.35; `b EOD` is worth 0.36."""
    step = torch.zeros(4, 4)
    step[BOD] = torch.tensor([0.6, 0.4, 0.0, 0.0])
    step[A] = torch.tensor([0.35, 0.35, 0.3, 0.0])
    step[B] = torch.tensor([0.05, 0.05, 0.9, 0.0])
    step[EOD] = torch.tensor([0.0, 0.0, 1.0, 0.0])
    return step[None].repeat(5, 1, 1)


def test_beam_finds_the_known_best_where_greedy_does_not() -> None:
    model = Markov(known_table())
    g = greedy(model, NoMemory(torch.zeros(1, 1, dtype=torch.long)),
               Position(torch.zeros(1, dtype=torch.long)), BOD, EOD, [5])[0]
    assert g.ids[0] == A
    best = run_beam(model, beam=2, max_length=5)[0]
    assert best.ids == [B]
    assert best.logp == pytest.approx(math.log(0.4 * 0.9))


@pytest.mark.parametrize("alpha", [0.0, 0.6, 2.0])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_wide_beam_is_exhaustive(alpha: float, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    table = torch.rand(4, 4, 4, generator=g) ** 3  # peaked, so greedy is often wrong
    table[:, :, BOD] = 0.0  # BOD is never an output
    table = table / table.sum(-1, keepdim=True)
    model = Markov(table)
    ids, score = exhaustive(model, 4, alpha)
    hyps = run_beam(model, beam=64, max_length=4, alpha=alpha, nbest=3)
    assert hyps[0].ids == ids and hyps[0].score == pytest.approx(score, abs=1e-9)
    assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_beam_one_equals_greedy(cell: str) -> None:
    model = tiny_model(cell)
    src, lengths = pad_sources([s.numpy() for s in sources()])
    limits = [3, 8, 5, 12]
    for bias in (0.0, 3.0):  # 3.0: EOD likely, so outputs end at different steps
        model.head.bias.data[8] = bias
        memory, state = model.encode(src, lengths)
        g = greedy(model, memory, state, 7, 8, limits, attention=True)
        b = beam_search(model, memory, state, 7, 8, 1, limits, alpha=0.6, attention=True)
        for one, (other,) in zip(g, b, strict=True):
            assert one.ids == other.ids
            assert one.logp == pytest.approx(other.logp, abs=1e-9)
            assert one.attention.shape == other.attention.shape
            assert abs(one.attention - other.attention).max() < 1e-9
