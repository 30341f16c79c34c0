"""LanguageModel.generate over many streams: one prime for all, each stream stops on its own."""

from __future__ import annotations

import torch

from rnnlm.config import ModelConfig, RunConfig
from rnnlm.inference.sampling import Sampling
from rnnlm.language_model import LanguageModel
from rnnlm.models.rnn import RNNLanguageModel
from rnnlm.tokenizers.char import CharTokenizer


def tiny_lm() -> LanguageModel:
    torch.manual_seed(0)
    tokenizer = CharTokenizer(sorted("abcde \n"))
    cfg = ModelConfig(layers=2, hidden=16, embedding=8, dropout=0.0,
                      vocab_size=tokenizer.vocab_size)
    return LanguageModel(RNNLanguageModel(cfg).eval(), tokenizer, RunConfig(model=cfg),
                         torch.device("cpu"), "fp32")


def test_streams_stop_at_their_first_stop_string() -> None:
    lm = tiny_lm()
    steps = list(lm.generate("ab", length=200, num=16, sampling=Sampling(), seed=4, stop="e "))
    texts = ["".join(step[i] for step in steps) for i in range(16)]
    assert texts == lm.sample("ab", length=200, num=16, sampling=Sampling(), seed=4, stop="e ")
    assert not any("\ufffd" in t for t in texts)  # <unk> is never sampled
    stopped = [t for t in texts if "e " in t]
    assert stopped and all(t.index("e ") == len(t) - 2 for t in stopped)
    assert all(len(t) == 200 for t in texts if "e " not in t)
    assert len(set(texts)) > 1  # streams are independent draws


def test_seeded_streams_repeat() -> None:
    lm = tiny_lm()
    first = lm.sample("a", length=50, num=3, seed=1)
    assert first == lm.sample("a", length=50, num=3, seed=1)
    assert first != lm.sample("a", length=50, num=3, seed=2)
