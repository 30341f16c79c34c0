"""The training table's arithmetic and the rnnlm run it measures."""

from __future__ import annotations

from rnnlm.bench.bare import EMBEDDING, Shape
from rnnlm.bench.training import flops_per_token, run_config


def test_flops_per_token_counts_every_matrix() -> None:
    """An LSTM layer holds 4·H·(in + H) weights; the head H·V; training is 6 FLOPs each."""
    shape = Shape("lstm", 2, 512, 64, 128)
    weights = 4 * 512 * (128 + 512) + 4 * 512 * (512 + 512) + 512 * 65
    assert flops_per_token(shape, 65) == 6 * weights
    assert flops_per_token(Shape("rnn", 2, 512, 64, 128), 65) < flops_per_token(shape, 65)


def test_the_rnnlm_run_has_the_bare_loops_shape() -> None:
    """Cell, layers, width, embedding and batch as in the bare loop, dropout off like it, and
    nothing but training steps (no step limit, no samples)."""
    config = run_config(Shape("gru", 3, 96, 16, 40), "shakespeare", "bf16", "cpu")
    m, d, t = config.model, config.data, config.train
    assert (m.cell, m.layers, m.hidden, m.embedding, m.dropout) == ("gru", 3, 96, EMBEDDING, 0.0)
    assert (d.corpus, d.batch_size, d.seq_len) == (["shakespeare"], 16, 40)
    assert (t.precision, t.device, t.sample_length) == ("bf16", "cpu", 0)
    assert t.max_steps >= 10**9
