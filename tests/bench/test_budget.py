"""`rnnlm bench --budget`: each family's config, the markdown table and the plot."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnnlm.bench.budget import default_families, family_config, markdown, plot
from rnnlm.errors import RnnlmError


def test_budget_table_formats() -> None:
    """The markdown has a column per budget and bolds the best of each."""
    rows = [{"family": f, "minutes": m, "cell": c, "layers": 2, "hidden": 640,
             "val_bits_per_char": v, "steps": 1, "run": "x"}
            for f, c, m, v in (("lstm", "lstm", 2, 2.2), ("lstm", "lstm", 5, 2.1),
                               ("gru", "gru", 2, 2.3), ("gru", "gru", 5, 2.05))]
    table = markdown(rows, "shakespeare").splitlines()
    assert table[0].count("min") == 2
    assert "| lstm | 2×640 lstm | **2.2000** | 2.1000 |" in table
    assert "| gru | 2×640 gru | 2.3000 | **2.0500** |" in table


def test_family_config_spends_the_budget_on_training() -> None:
    """The config applies the family's settings, and those of the budget from their start on;
    validation waits for the end; an unknown family is refused by name."""
    config = family_config("gru", "shakespeare", 120.0, "cpu")
    assert (config.model.cell, config.train.max_time) == ("gru", 120.0)
    assert config.train.eval_every > 10**6
    short, long = (family_config("transformer", "shakespeare", s, "cpu") for s in (300, 600))
    assert (short.model.dropout, long.model.dropout) == (0.0, 0.1)  # by budget
    assert short.model.hidden == long.model.hidden == 128
    with pytest.raises(RnnlmError, match="unknown family 'lsmt'"):
        family_config("lsmt", "shakespeare", 60.0, "cpu")


def test_a_pairs_corpus_gets_the_encoder_decoder_families() -> None:
    """On a corpus registered as pairs the families are encoder–decoders read with the
    corpus's --pairs format; a language-model family is refused there, and the other way."""
    assert default_families("tatoeba-eng-fra") == ["seq2seq", "gru256"]
    assert "lstm" in default_families("shakespeare")
    config = family_config("gru256", "tatoeba-eng-fra", 300.0, "cpu")
    assert config.pairs and config.seq2seq.pairs == "tsv"
    assert (config.model.cell, config.model.hidden, config.data.tokenizer) == ("gru", 256, "bpe")
    assert family_config("seq2seq", "dialogsum", 60.0, "cpu").seq2seq.pairs == \
        "jsonl:dialogue,summary"
    with pytest.raises(RnnlmError, match="unknown family 'lstm' for the pairs corpus"):
        family_config("lstm", "tatoeba-eng-fra", 60.0, "cpu")
    with pytest.raises(RnnlmError, match="unknown family 'gru256' for a language model"):
        family_config("gru256", "shakespeare", 60.0, "cpu")


def test_bleu_table_bolds_the_highest() -> None:
    """BLEU is better higher: the bold cell of each budget is its largest."""
    rows = [{"family": f, "minutes": m, "cell": c, "layers": 1, "hidden": h, "val_bleu": v,
             "steps": 1, "run": "x"}
            for f, c, h, m, v in (("seq2seq", "lstm", 512, 5, 20.5),
                                  ("gru256", "gru", 256, 5, 22.25))]
    table = markdown(rows, "tatoeba-eng-fra").splitlines()
    assert "val BLEU, beam 5" in table[0]
    assert "| seq2seq | 1×512 lstm | 20.50 |" in table
    assert "| gru256 | 1×256 gru | **22.25** |" in table


def test_budget_plot_is_a_png(tmp_path: Path) -> None:
    """One line per family, written whole."""
    rows = [{"family": "lstm", "minutes": m, "val_bits_per_char": v} for m, v in
            ((2, 2.2), (5, 2.1))]
    plot(rows, tmp_path / "budget.png", "shakespeare")
    assert (tmp_path / "budget.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_ngram_row_and_the_data_options(tmp_path: Path) -> None:
    """The best n-gram is one row for every budget, bold where it wins; the data options
    given reach every family, and a corpus registered as documents implies them."""
    from rnnlm.bench.ngram_best import best_ngram
    from rnnlm.config import DataConfig

    rows = [{"family": "lstm", "minutes": m, "cell": "lstm", "layers": 2, "hidden": 640,
             "val_bits_per_char": v, "steps": 1, "run": "x"} for m, v in ((5, 2.2), (10, 2.0))]
    rows.append({"family": "ngram", "order": 7, "val_bits_per_char": 2.1, "build_seconds": 3.5,
                 "run": "y"})
    table = markdown(rows, "shakespeare").splitlines()
    assert "| best n-gram | 7-gram Kneser–Ney, built in 3.5 s | **2.1000** | 2.1000 |" in table
    assert "| lstm | 2×640 lstm | 2.2000 | **2.0000** |" in table
    assert "ngram" in default_families("shakespeare")
    arxiv = family_config("gru", "arxiv", 60.0, "cpu", {"val_fraction": 0.05, "chunk": 128})
    assert (arxiv.data.documents, arxiv.data.val_fraction, arxiv.data.chunk) == \
        ("lines", 0.05, 128)
    corpus = tmp_path / "text.txt"
    corpus.write_text("the cat sat on the mat. " * 400 + "a dog ran. " * 50)
    row = best_ngram(str(corpus), DataConfig(), tmp_path, orders=range(2, 6))
    assert row["order"] in range(2, 6) and row["val_bits_per_char"] == min(row["orders"].values())
    assert (tmp_path / f"ngram-{row['order']}.arpa").exists()
