"""BLEU/chrF through sacreBLEU with several references, ROUGE's best reference, and the
extractive baselines."""

from __future__ import annotations

import pytest

from rnnlm.inference.metrics import bleu_chrf, lead_3, longest_3, rouge, streams


def test_identical_outputs_score_100() -> None:
    refs = [["the cat sat on the mat"], ["a dog ran in the park today"]]
    scores = bleu_chrf([r[0] for r in refs], refs)
    assert scores["bleu"] == pytest.approx(100.0) and scores["chrf"] == pytest.approx(100.0)
    assert scores["bleu_signature"].startswith("nrefs:1|")


def test_several_references_and_uneven_counts() -> None:
    refs = [["the cat sat on the mat", "a cat was on the mat"], ["a dog ran"]]
    assert streams(refs) == [["the cat sat on the mat", "a dog ran"],
                             ["a cat was on the mat", None]]
    one = bleu_chrf(["a cat was on the mat", "a dog ran"], [[r[0]] for r in refs])
    both = bleu_chrf(["a cat was on the mat", "a dog ran"], refs)
    assert both["bleu"] > one["bleu"] and both["bleu_signature"].startswith("nrefs:var|")


def test_rouge_takes_the_best_reference_and_stems() -> None:
    out = ["the cats were running"]
    best = rouge(out, [["dogs bark loudly", "the cat was running"]])
    alone = rouge(out, [["the cat was running"]])
    assert best == alone and best["rouge1"] == pytest.approx(75.0)  # cats→cat, running→run


def test_lead_and_longest_three() -> None:
    dialogue = "#P1#: hi\n#P2#: hello there friend\n#P1#: ok\n#P2#: a b c d e f\n#P1#: bye"
    assert lead_3(dialogue) == "#P1#: hi\n#P2#: hello there friend\n#P1#: ok"
    assert longest_3(dialogue) == "#P1#: hi\n#P2#: hello there friend\n#P2#: a b c d e f"
