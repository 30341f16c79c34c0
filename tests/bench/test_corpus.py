"""Benchmarks split a corpus as `rnnlm train` does by default."""

from __future__ import annotations

from rnnlm.bench.corpus import default_splits
from rnnlm.config import DataConfig
from rnnlm.data.corpora import load_corpus


def test_default_splits_hold_out_the_trainers_fraction() -> None:
    """A single-text corpus is cut by position: train, val, test in order make the whole text,
    val being DataConfig's default fraction of it."""
    parts = default_splits("shakespeare")
    text = load_corpus("shakespeare").texts["all"]
    assert parts["train"] + parts["val"] + parts["test"] == text
    assert abs(len(parts["val"]) - DataConfig().val_fraction * len(text)) <= 1


def test_official_splits_are_kept() -> None:
    """A corpus with its own train/val/test files keeps them."""
    official = load_corpus("ptb").texts
    assert default_splits("ptb") == {s: official[s] for s in ("train", "val", "test")}
