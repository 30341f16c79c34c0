"""Inspection: surprisals equal eval's, activations equal the network's states, features
and the unit ranking find what follows them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnlm.errors import RnnlmError
from rnnlm.inference.inspect import inspect_text, rank_units, text_features
from rnnlm.language_model import LanguageModel

TEXT = 'First Citizen:\n  "Before we (proceed) any further," hear me speak.\n'
SPEECH = "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"


def test_features_of_a_text() -> None:
    f = text_features('a "b" (c\n  d)')
    assert f["in_quotes"].tolist() == [0, 0, 1, 1] + [0] * 9
    assert f["in_brackets"].tolist() == [0] * 6 + [1] * 6 + [0]
    assert f["line_position"].tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3, 4]
    assert f["indentation"].tolist()[-5:] == [0, 1, 2, 2, 2]


def test_a_unit_that_follows_a_feature_ranks_first() -> None:
    tokens = [{"text": c} for c in TEXT]
    rng = np.random.default_rng(0)
    hidden = rng.normal(size=(len(TEXT), 2, 8))  # (T, L, H)
    hidden[:, 1, 5] = text_features(TEXT)["in_quotes"] * 0.9 - 0.3
    (best, *_) = rank_units({"hidden": hidden}, tokens, 3)
    assert (best["layer"], best["unit"], best["feature"]) == (1, 5, "in_quotes")
    assert best["r"] == pytest.approx(1.0)


def test_inspect_matches_eval_and_the_network(tiny_run: Path) -> None:
    lm = LanguageModel.load(tiny_run, device="cpu")
    data = inspect_text(lm, SPEECH, top_k=3, units=[(0, 7)], state="cell", rank=5)
    tokens = data["tokens"]
    assert "".join(t["text"] for t in tokens) == SPEECH and tokens[0]["bits"] is None
    total = lm.score(SPEECH).total_nats
    assert math.fsum(t["bits"] for t in tokens[1:]) * math.log(2) == pytest.approx(total,
                                                                                   abs=1e-4)
    for t in tokens[1:]:
        assert len(t["top"]) == 3 and sum(p for _, p in t["top"]) <= 1 + 1e-6
    ids = lm.encode_prime(SPEECH)
    with torch.no_grad():
        x = lm.model.embed(ids)
        out, (_, c) = lm.model.rnn(x)  # (1, T, H): the layer's hidden state at every place
    assert data["states"] == ["cell", "hidden"]
    (unit,) = data["units"]
    assert unit["values"][-1] == pytest.approx(float(c[0, 0, 7]), abs=1e-5)
    assert len(data["ranking"]) == 5
    hidden = inspect_text(lm, SPEECH, units=[(0, 3)])["units"][0]["values"]
    np.testing.assert_allclose(hidden, out[0, :, 3].numpy(), atol=1e-5)


def test_refusals(tiny_run: Path) -> None:
    lm = LanguageModel.load(tiny_run, device="cpu")
    with pytest.raises(RnnlmError, match="U\\+2603"):
        inspect_text(lm, "snow ☃")
    with pytest.raises(RnnlmError, match="does not exist"):
        inspect_text(lm, SPEECH, units=[(3, 0)])
    with pytest.raises(RnnlmError, match="too short"):
        inspect_text(lm, "a")
