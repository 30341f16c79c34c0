"""Dynamic evaluation: with no step it is the static pass to the last bit, it learns a
repetitive text as it reads it, documents adapt across documents, the run on disk and the
weights in memory are unchanged afterwards, and bad settings are one-line errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

from rnnlm.cli import main
from rnnlm.errors import RnnlmError
from rnnlm.inference.dynamic import Dynamic, evaluate_dynamic
from rnnlm.language_model import LanguageModel
from tests.test_cli import fails

SPEECH = ("Friends, Romans, countrymen, lend me your ears;\n"
          "I come to bury Caesar, not to praise him.\n")


@pytest.mark.parametrize("rule", ["sgd", "rms"])
def test_no_step_is_the_static_pass(tiny_run: Path, shakespeare: str, rule: str) -> None:
    lm = LanguageModel.load(tiny_run)
    text = shakespeare[-900:]  # under one column of eval's pass: the same numbers
    result = evaluate_dynamic(lm, text, Dynamic(rule, lr=0.0, decay=0.0, segment=7))
    assert result.dynamic.total_nats == result.static.total_nats  # bit for bit
    assert result.static.tokens == len(text) - 1
    assert result.static.total_nats == pytest.approx(lm.score(text).total_nats, rel=1e-5)


@pytest.mark.parametrize("rule", ["sgd", "rms"])
def test_a_repetitive_text_is_learned(tiny_run: Path, rule: str) -> None:
    lm = LanguageModel.load(tiny_run)
    before = [p.detach().clone() for p in lm.model.parameters()]
    result = evaluate_dynamic(lm, SPEECH * 12, Dynamic(rule))
    assert result.dynamic.bits_per_char < result.static.bits_per_char - 0.1
    assert all(torch.equal(a, b) for a, b in zip(before, lm.model.parameters(), strict=True))
    assert lm.score(SPEECH * 12).total_nats == pytest.approx(result.static.total_nats,
                                                             rel=1e-5)


def test_documents_adapt_across_documents(doc_run: Path) -> None:
    lm = LanguageModel.load(doc_run)
    docs = ["We study the spectral gap of random graphs."] * 8
    still = evaluate_dynamic(lm, docs, Dynamic("sgd", lr=0.0))
    assert still.dynamic.total_nats == still.static.total_nats
    assert still.static.tokens == sum(len(d) + 1 for d in docs)  # each EOD scored
    assert still.static.total_nats == pytest.approx(lm.score(docs).total_nats, rel=1e-5)
    moving = evaluate_dynamic(lm, docs, Dynamic("sgd", lr=0.05))
    assert moving.dynamic.total_nats < moving.static.total_nats


def test_every_document_checks_the_memory_guard(doc_run: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Each document is another shape, which leaves freed blocks behind (a run's process keeps
    them for reuse); unchecked, a split of 450 abstracts grew past 23 GiB. Both passes check
    the guard after every document, which hands them back when memory outgrows its bound."""
    from rnnlm.inference import dynamic

    checks = []

    class Counted:
        def check(self) -> bool:
            checks.append(1)
            return False

    monkeypatch.setattr(dynamic, "memory_guard", Counted)
    docs = [SPEECH[: 20 + 7 * i] for i in range(12)]
    evaluate_dynamic(LanguageModel.load(doc_run), docs, Dynamic("sgd", segment=8))
    assert len(checks) == 2 * len(docs)  # the static pass, then the dynamic one


def test_the_run_on_disk_is_unchanged(tiny_run: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    def digest() -> dict[str, str]:
        return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(tiny_run.rglob("*")) if p.is_file()}

    before = digest()
    text = tmp_path / "t.txt"
    text.write_text(SPEECH * 3, encoding="utf-8")
    out = tmp_path / "dyn.tsv"
    assert main(["eval", str(tiny_run), "--text", str(text), "--dynamic", "--json",
                 "--per-token", str(out)]) == 0
    got = json.loads(capsys.readouterr().out)
    assert digest() == before
    assert (got["rule"], got["segment"], got["lr"], got["decay"]) == ("rms", 20, 2e-4, 8e-3)
    assert got["static"]["tokens"] == got["dynamic"]["tokens"] == len(SPEECH * 3) - 1
    rows = [r.split("\t") for r in out.read_text(encoding="utf-8").splitlines()]
    assert rows[0] == ["offset", "token", "nats", "bits", "static_nats"]
    assert sum(float(r[2]) for r in rows[1:]) == pytest.approx(got["dynamic"]["total_nats"],
                                                               abs=1e-3)
    assert main(["eval", str(tiny_run), "--text", str(text), "--dynamic", "--dynamic-rule",
                 "sgd"]) == 0
    table = capsys.readouterr().out
    assert "static (same segments)" in table and "sgd, η=0.01, λ=0" in table


def test_bad_settings_are_one_line_errors(tiny_run: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    for settings, match in ((Dynamic("adam"), "--dynamic-rule must be one of rms, sgd"),
                            (Dynamic(lr=-1.0), "--dynamic-lr must be 0 or more"),
                            (Dynamic(decay=2.0), "--dynamic-decay must be at most 1"),
                            (Dynamic(segment=0), "--dynamic-segment must be 1 or more")):
        with pytest.raises(RnnlmError, match=match):
            settings.resolved("char")
    fails(capsys, ["eval", str(tiny_run), "--dynamic", "--dynamic-segment", "0"],
          "--dynamic-segment must be 1 or more")
    fails(capsys, ["eval", str(tiny_run), "--dynamic", "--dynamic-rule", "adam"],
          "invalid choice")
