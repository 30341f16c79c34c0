"""`make demo` picks its corpus offline and says why."""

from __future__ import annotations

import pytest

from rnnlm.verbs.demo import pick_corpus


def test_demo_prefers_shakespeare_from_a_mirror() -> None:
    name, why = pick_corpus()
    assert name == "shakespeare" and "tiny-shakespeare/input.txt" in why


def test_demo_falls_back_to_python_stdlib_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RNNLM_DATA", "")
    name, why = pick_corpus()
    assert name == "python-stdlib" and "not available" in why and "RNNLM_OFFLINE" in why
