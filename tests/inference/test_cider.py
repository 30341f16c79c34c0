"""CIDEr-D: the COCO evaluation's numbers on a made-up Flickr-style corpus, and its properties."""

from __future__ import annotations

import pytest

from rnnlm.errors import RnnlmError
from rnnlm.inference.cider import cider_d, tokenize

REFERENCES = [
    ["A brown dog is running through the tall grass.",
     "A dog runs across a grassy field.",
     "The brown dog sprints through a meadow.",
     "A dog with a red collar running in the grass.",
     "A large brown dog plays outside in a field."],
    ["Two children are building a sandcastle on the beach.",
     "Kids play in the sand near the ocean.",
     "A boy and a girl dig in the sand at the shore.",
     "Two young kids making a sand castle by the water.",
     "Children playing with buckets on a sandy beach."],
    ["A man in a blue jacket rides a bicycle down the street.",
     "A cyclist pedals along a city road.",
     "A man is riding his bike past parked cars.",
     "A person on a bicycle wearing a blue coat.",
     "A bike rider travels down a busy street."],
    ["A woman is sitting on a bench reading a book.",
     "A lady reads a novel on a park bench.",
     "A woman with glasses reads while seated outdoors.",
     "Someone sits on a wooden bench with a book.",
     "A young woman reading in the park."],
    ["A group of people hiking up a snowy mountain.",
     "Hikers climb a steep trail covered in snow.",
     "Several climbers walk up a snow-covered slope.",
     "People with backpacks trek through the snow.",
     "A line of hikers on a mountain in winter."],
    ["A black and white cat sleeps on a couch.",
     "A cat is curled up asleep on the sofa.",
     "A kitten naps on a gray cushion.",
     "The black and white cat is lying on the couch.",
     "A sleepy cat resting on a couch pillow."],
    ["A skateboarder does a trick on a ramp.",
     "A young man jumps his skateboard in the air.",
     "A boy skating at a skate park.",
     "A skater performs a jump off the ramp.",
     "A teenager in a helmet rides a skateboard."],
    ["A crowd watches a band play on stage.",
     "Musicians perform for an audience at a concert.",
     "A singer and a guitarist on a lit stage.",
     "People at an outdoor concert in front of a stage.",
     "A rock band performing at night for fans."],
]
CANDIDATES = [
    "A dog runs across a grassy field.",  # an exact copy of a reference
    "Two kids are playing in the sand on the beach.",  # a close paraphrase
    "A man riding a bike down the street.",
    "A woman sits on a bench.",  # short but right
    "People walking on a mountain mountain mountain in the snow snow.",  # repeats: clipped
    "A cat.",
    "A dog is running through the tall grass.",  # another image's caption
    "The quarterly report shows rising costs!",  # unrelated text
]
UNRELATED = "The quarterly report shows rising costs!"

# pycocoevalcap 1.2 (pip), Cider().compute_score on the same tokens, from /work/main:
#   .venv/bin/python -c 'import json; from tests.inference.test_cider import CANDIDATES as C,
#     REFERENCES as R; from rnnlm.inference.cider import tokenize; t = lambda s: " ".join(
#     tokenize(s)); print(json.dumps([{i: [t(r) for r in rs] for i, rs in enumerate(R)},
#     {i: [t(c)] for i, c in enumerate(C)}]))' > /tmp/cider_in.json
#   /tmp/coco/bin/python -c 'import json; from pycocoevalcap.cider.cider import Cider;
#     s, ss = Cider().compute_score(*json.load(open("/tmp/cider_in.json")));
#     print(repr(float(s)), [float(x) for x in ss])'
COCO_SCORE = 0.906918130583331
COCO_PER_IMAGE = [2.5211236273132105, 1.3410505832199178, 1.0500700770906508, 1.30857982391026,
                  0.4871830360190832, 0.5464371120631273, 0.0009007850503983121, 0.0]


def test_tokenize_lowercases_and_drops_punctuation() -> None:
    assert tokenize("A man's red T-shirt,  on the Street.") == [
        "a", "mans", "red", "tshirt", "on", "the", "street"]


def test_agrees_with_pycocoevalcap() -> None:
    score, per_image = cider_d(CANDIDATES, REFERENCES)
    assert score == pytest.approx(COCO_SCORE, abs=1e-9)
    assert per_image == pytest.approx(COCO_PER_IMAGE, abs=1e-9)


def test_a_reference_scores_higher_than_unrelated_text() -> None:
    _, copied = cider_d(CANDIDATES, REFERENCES)
    _, unrelated = cider_d([UNRELATED, *CANDIDATES[1:]], REFERENCES)
    assert copied[0] > 1.0 > unrelated[0]


def test_an_empty_candidate_scores_zero_and_leaves_the_others() -> None:
    _, before = cider_d(CANDIDATES, REFERENCES)
    _, after = cider_d([*CANDIDATES[:3], "", *CANDIDATES[4:]], REFERENCES)
    assert after[3] == 0.0
    assert after[:3] + after[4:] == before[:3] + before[4:]  # idf comes from references only


def test_reference_order_does_not_matter() -> None:
    score, per_image = cider_d(CANDIDATES, REFERENCES)
    turned = [refs[2:] + refs[:2][::-1] for refs in REFERENCES]
    score2, per_image2 = cider_d(CANDIDATES, turned)
    assert score2 == pytest.approx(score, abs=1e-12)
    assert per_image2 == pytest.approx(per_image, abs=1e-12)


@pytest.mark.parametrize(("candidates", "references", "match"), [
    (["a dog"], [["a dog"], ["a cat"]], "1 candidates and 2 reference lists"),
    (["a dog", "a cat"], [["a dog"], []], "image 1 .* has none"),
    ([], [], "at least one candidate"),
])
def test_bad_inputs_raise_one_line(candidates: list[str], references: list[list[str]],
                                   match: str) -> None:
    with pytest.raises(RnnlmError, match=match) as err:
        cider_d(candidates, references)
    assert "\n" not in str(err.value)
