"""The text benchmarks train and score on: a corpus split as `rnnlm train` splits it by default,
so that a benchmark's figures are on the text rnnlm's own models are scored on."""

from __future__ import annotations

from rnnlm.config import DataConfig
from rnnlm.data.corpora import load_corpus


def default_splits(corpus: str) -> dict[str, str]:
    """Train, val and test text of a corpus: its official files, else by position with
    DataConfig's default held-out fractions."""
    data = DataConfig()
    return load_corpus(corpus).splits(data.val_fraction, data.test_fraction)
