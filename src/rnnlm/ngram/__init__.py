"""Interpolated modified Kneser–Ney n-gram models on any tokenizer, stored as ARPA files:
baselines to compare the recurrent models with (`rnnlm ngram train | eval | sample`)."""

from rnnlm.ngram.commands import build, evaluate, load, sample, score, train
from rnnlm.ngram.model import NgramModel

__all__ = ["NgramModel", "build", "evaluate", "load", "sample", "score", "train"]
