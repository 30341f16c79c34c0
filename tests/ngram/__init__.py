"""Tests of the n-gram baselines; `build` makes a model from text as `rnnlm ngram train` does."""

from __future__ import annotations

from rnnlm.config import DataConfig
from rnnlm.data.documents import parse_documents
from rnnlm.ngram.kneser_ney import Discounts
from rnnlm.ngram.lm import NgramLM, resolved


def data(tokenizer: str = "char", documents: str = "stream") -> DataConfig:
    """Data options: a stream or one document per line; `word` is KenLM's convention
    (whitespace-separated tokens, every one of them kept)."""
    word = {"word_split": "whitespace", "vocab_size": 0} if tokenizer == "word" else {}
    lines = {"documents": "lines"} if documents == "lines" else {}
    return resolved(DataConfig(tokenizer=tokenizer, **word, **lines))


def body(text: str, documents: str = "stream") -> str | list[str]:
    """A text as a model of that mode reads it."""
    return parse_documents(text, "lines", "text") if documents == "lines" else text


def build(text: str, order: int, tokenizer: str = "char", documents: str = "stream"
          ) -> tuple[NgramLM, list[Discounts]]:
    """An interpolated Kneser–Ney model of `order` on text."""
    return NgramLM.build(body(text, documents), order, data(tokenizer, documents))
