"""Training an encoder–decoder through the language models' Trainer: the run directory, exact
resume, what `translate`, `eval` and `sample` accept and refuse."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch

from rnnlm.cli import main
from rnnlm.configfile import load_json
from rnnlm.errors import RnnlmError
from rnnlm.translation import Translator
from rnnlm.verbs.evaluate import evaluate
from rnnlm.verbs.sample import sample
from rnnlm.verbs.translate import translate
from tests.train import resume_gap
from tests.train.conftest import pairs_config


def test_run_directory_has_both_tokenizers_and_safetensors(pairs_run: Path) -> None:
    for name in ("config.json", "tokenizer.json", "source_tokenizer.json", "metrics.jsonl"):
        assert (pairs_run / name).is_file()
    for which in ("best", "last"):
        assert (pairs_run / which / "model.safetensors").is_file()
        assert (pairs_run / which / "source_tokenizer.json").is_file()
    config = load_json(pairs_run / "config.json")
    assert config.pairs and config.data.mode == "documents" and config.seq2seq.source_ids > 0
    rows = [json.loads(x) for x in (pairs_run / "metrics.jsonl").read_text().splitlines()]
    assert any("val_nats_per_token" in r for r in rows)


def test_resume_is_exact(pairs_file: Path, tmp_path: Path) -> None:
    def config(steps: int):
        c = pairs_config(pairs_file, max_steps=steps, eval_every=4, decay_steps=8)
        c.model.dropout = 0.2  # the RNG state must resume too
        return c

    assert resume_gap(config, 8, 4, tmp_path) <= 1e-6


def test_translate_one_per_input_in_order(pairs_run: Path, tmp_path: Path) -> None:
    out = io.StringIO()
    inputs = ["Go.", "I see.", "Who?", "Go."]
    (tmp_path / "in.txt").write_text("\n".join(inputs) + "\n")
    hyps = translate(pairs_run, file=str(tmp_path / "in.txt"), beam=3, out=out)
    lines = out.getvalue().split("\n")[:-1]
    assert len(lines) == len(inputs) and lines[0] == lines[3]
    assert [h[0].text for h in hyps] == lines
    batched = Translator.load(pairs_run).translate(inputs, beam=3, batch_size=1)
    assert [h[0].text for h in batched] == lines  # batching changes nothing


def test_nbest_prints_k_scored_lines(pairs_run: Path) -> None:
    out = io.StringIO()
    translate(pairs_run, "Go.", beam=4, nbest=3, out=out)
    lines = out.getvalue().splitlines()
    scores = [float(x.split("\t")[0]) for x in lines]
    assert len(lines) == 3 and scores == sorted(scores, reverse=True)


def test_eval_reports_bleu_chrf_and_perplexity(pairs_run: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(pairs_run), "--beam", "2", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["pairs"] == 10 and result["source"].endswith(":test (10 pairs)")
    assert 0 <= result["bleu"] <= 100 and 0 <= result["chrf"] <= 100
    assert result["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
    assert result["perplexity"] == pytest.approx(
        Translator.load(pairs_run).perplexity(
            __import__("rnnlm.train.pairs", fromlist=["pairs_of"]).pairs_of(
                load_json(pairs_run / "config.json").resolve())["test"]), rel=1e-6)


def test_val_loss_is_what_eval_computes(pairs_run: Path) -> None:
    best = json.loads((pairs_run / "best" / "state.json").read_text())["val"]
    result = evaluate(pairs_run, split="val", beam=1)
    assert result.nats_per_token == pytest.approx(best["val_nats_per_token"], rel=1e-5)


@pytest.mark.parametrize("argv", [["--beam", "0"], ["--beam", "-2"]])
def test_beam_below_one_is_refused(pairs_run: Path, argv: list[str],
                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["translate", str(pairs_run), "Go.", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--beam must be 1 or more" in err


def test_translate_refuses_a_language_model(stream_lm: Path) -> None:
    with pytest.raises(RnnlmError, match="is a language model, not an encoder–decoder"):
        translate(stream_lm, "hello")


def test_sample_refuses_a_translation_run(pairs_run: Path) -> None:
    with pytest.raises(RnnlmError, match="is an encoder–decoder .*use `rnnlm translate"):
        sample(pairs_run, out=io.StringIO())


def test_lm_with_another_tokenizer_is_refused(pairs_run: Path, other_lm: Path,
                                              stream_lm: Path) -> None:
    with pytest.raises(RnnlmError, match="differs from the decoder's .*--tokenizer-from"):
        translate(pairs_run, "Go.", lm=str(other_lm), out=io.StringIO())
    with pytest.raises(RnnlmError, match="stream-mode language model"):
        translate(pairs_run, "Go.", lm=str(stream_lm), out=io.StringIO())


def test_fusion_and_reranking(pairs_run: Path, target_lm: Path) -> None:
    plain = translate(pairs_run, "I see.", beam=3, out=io.StringIO())[0][0]
    zero = translate(pairs_run, "I see.", beam=3, lm=str(target_lm), lm_weight=0.0,
                     out=io.StringIO())[0][0]
    assert zero.ids == plain.ids and zero.score == pytest.approx(plain.score, abs=1e-9)
    fused = translate(pairs_run, "I see.", beam=3, lm=str(target_lm), lm_weight=0.5,
                      out=io.StringIO())[0][0]
    assert fused.logp != pytest.approx(plain.logp)  # the LM's log-probabilities are added
    ranked = translate(pairs_run, "I see.", beam=3, nbest=3, lm=str(target_lm), lm_weight=0.5,
                       rerank_nbest=True, out=io.StringIO())[0]
    assert [h.score for h in ranked] == sorted((h.score for h in ranked), reverse=True)
    assert all("lm_logp" in h.extra for h in ranked)


def test_attention_heatmap(pairs_run: Path, tmp_path: Path) -> None:
    translate(pairs_run, "I see.", beam=2, attention=str(tmp_path / "a.png"), out=io.StringIO())
    assert (tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"


def test_long_input_is_truncated_with_a_count(pairs_run: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    limit = load_json(pairs_run / "config.json").seq2seq.max_source_length
    translate(pairs_run, "Go on. " * limit, beam=1, out=io.StringIO())
    assert f"1 of 1 inputs are longer than --max-source-length {limit}" in capsys.readouterr().err


def test_copy_and_coverage_train(pairs_file: Path, tmp_path: Path) -> None:
    from rnnlm.train.trainer import train

    c = pairs_config(pairs_file, max_steps=2, eval_every=2)
    c.seq2seq.copy, c.seq2seq.coverage, c.seq2seq.source_tokenizer = True, 1.0, "shared"
    run = train(c, out=tmp_path / "copy")
    t = Translator.load(run)
    assert t.model.copy is not None and not (run / "source_tokenizer.json").exists()
    assert torch.isfinite(torch.tensor(t.nats(t_pairs(pairs_file))[0]))


def t_pairs(path: Path):
    from rnnlm.data.pairs import parse_pairs

    return parse_pairs(path.read_text(), "tsv", "p").take(range(8))


@pytest.mark.parametrize(("options", "message"), [
    (["--cell", "transformer"], "LSTM or GRU encoder–decoder"),
    (["--hidden", "33"], "must be even with --pairs"),
    (["--copy", "--source-tokenizer", "char"], "give --source-tokenizer shared"),
    (["--coverage", "1"], "give --copy too"),
    (["--pairs", "csv"], "--pairs must be tsv"),
])
def test_bad_options_are_one_line_errors(pairs_file: Path, options: list[str], message: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["train", str(pairs_file), "--pairs", "tsv", "--max-steps", "1", *options]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_pairs_corpus_needs_pairs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", "tatoeba-eng-fra", "--max-steps", "1"]) == 2
    assert "train an encoder–decoder on it with --pairs tsv" in capsys.readouterr().err
