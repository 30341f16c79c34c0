"""BLEU/chrF and BLEU-1..4 through sacreBLEU with several references, ROUGE's best
reference, and the extractive baselines."""

from __future__ import annotations

import pytest
from sacrebleu.metrics import BLEU

from rnnlm.inference.metrics import bleu_chrf, bleu_orders, lead_3, longest_3, rouge, streams


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


CAPTIONS = [["A dog runs across the grassy field.", "A brown dog is running in the tall grass."],
            ["Two children build a sandcastle on the beach.", "Kids play in the sand."]]


def test_bleu_orders_of_a_perfect_output_are_100() -> None:
    refs = CAPTIONS
    perfect = bleu_orders(["a dog runs across the grassy field.", "kids play in the sand."], refs)
    second = bleu_orders(["a brown dog is running in the tall grass."], [refs[0]])
    for n in range(1, 5):  # lowercased; matching only an output's second reference is enough
        assert perfect[f"bleu{n}"] == pytest.approx(100.0)
        assert second[f"bleu{n}"] == pytest.approx(100.0)


def test_bleu_orders_fall_with_the_order_and_are_sacrebleus() -> None:
    refs = CAPTIONS
    outputs = ["a dog is running on the field", "two kids play on a beach"]
    scores = bleu_orders(outputs, refs)
    assert scores["bleu1"] > scores["bleu2"] > scores["bleu3"] > scores["bleu4"] > 0
    for n in range(1, 5):
        direct = BLEU(max_ngram_order=n, lowercase=True).corpus_score(outputs, streams(refs))
        assert scores[f"bleu{n}"] == direct.score
    assert scores["bleu_signature"].startswith("nrefs:2|case:lc|")


def test_rouge_takes_the_best_reference_and_stems() -> None:
    out = ["the cats were running"]
    best = rouge(out, [["dogs bark loudly", "the cat was running"]])
    alone = rouge(out, [["the cat was running"]])
    assert best == alone and best["rouge1"] == pytest.approx(75.0)  # cats→cat, running→run


def test_lead_and_longest_three() -> None:
    dialogue = "#P1#: hi\n#P2#: hello there friend\n#P1#: ok\n#P2#: a b c d e f\n#P1#: bye"
    assert lead_3(dialogue) == "#P1#: hi\n#P2#: hello there friend\n#P1#: ok"
    assert longest_3(dialogue) == "#P1#: hi\n#P2#: hello there friend\n#P2#: a b c d e f"
