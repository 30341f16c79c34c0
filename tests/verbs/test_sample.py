"""`rnnlm sample`: whole documents of a documents-mode run, each to its end token."""

from __future__ import annotations

import io
from pathlib import Path

from rnnlm.language_model import LanguageModel
from rnnlm.verbs.sample import sample


def test_sample_whole_documents(doc_run: Path) -> None:
    out = io.StringIO()
    texts = sample(doc_run, documents=3, seed=0, length=300, out=out)
    assert len(texts) == 3 and out.getvalue().count("--- document") == 3
    lm = LanguageModel.load(doc_run)
    # "\n" is in the vocabulary and the 40-step model gives it mass, but a line document
    # never holds one: generation bans it (EOD ends the line)
    assert "\n" in lm.tokenizer.decode(lm.line_break_ids)
    for seed in range(1, 5):
        assert all(t and "\n" not in t for t in lm.sample(length=2000, num=4, seed=seed))
