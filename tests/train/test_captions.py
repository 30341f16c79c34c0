"""Training an image captioner through the language models' Trainer: the run directory, exact
resume, what `caption` and `eval` print, accept and refuse."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from rnnlm.captioning import ImageCaptioner
from rnnlm.cli import main
from rnnlm.configfile import load_json
from rnnlm.errors import RnnlmError
from rnnlm.train.captions import captions_of
from rnnlm.verbs.caption import caption
from tests.conftest import DATA, tiny_config
from tests.train import resume_gap

IMAGES = 30  # of the shared Flickr8k photographs: 20 to train on, 5 val, 5 test


@pytest.fixture(scope="session")
def flickr_small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The first IMAGES Flickr8k photographs (linked into a folder) and their captions."""
    src = DATA / "flickr8k-800"
    lines = (src / "captions.txt").read_text(encoding="utf-8").splitlines()
    keep = lines[: 1 + 5 * IMAGES]
    root = tmp_path_factory.mktemp("flickr")
    (root / "images").mkdir()
    for name in dict.fromkeys(line.split(",", 1)[0] for line in keep[1:]):
        (root / "images" / name).symlink_to(src / "images" / name)
    (root / "captions.txt").write_text("\n".join(keep) + "\n", encoding="utf-8")
    return root / "images", root / "captions.txt"


def caption_config(data: tuple[Path, Path], encoder: str = "cnn", **train: object):
    """A 1×32 LSTM captioner of the scratch CNN (or the pretrained encoder), 5 val and 5 test
    images."""
    config = tiny_config(data[0], sample_length=1, warmup_steps=2, **train)
    config.model.hidden, config.model.embedding, config.model.dropout = 32, 16, 0.2
    config.data.tokenizer, config.data.batch_size = "word", 16
    c = config.caption
    c.captions, c.encoder, c.val_images, c.test_images, c.grid = str(data[1]), encoder, 5, 5, 4
    return config


@pytest.fixture(scope="session")
def caption_run(flickr_small: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
                ) -> Path:
    """A captioner of the pretrained (frozen) encoder trained for 8 steps (shared)."""
    from rnnlm.train.trainer import train

    return train(caption_config(flickr_small, "efficientnet-lite0", max_steps=8, eval_every=4),
                 out=tmp_path_factory.mktemp("runs") / "caption")


def test_run_directory_and_split(caption_run: Path) -> None:
    for which in ("best", "last"):
        assert (caption_run / which / "model.safetensors").is_file()
    config = load_json(caption_run / "config.json").resolve()
    assert config.captions and config.data.mode == "documents"
    parts = captions_of(config)
    assert [len(parts[k]) for k in ("train", "val", "test")] == [IMAGES - 10, 5, 5]
    rows = [json.loads(x) for x in (caption_run / "metrics.jsonl").read_text().splitlines()]
    assert any("val_cider" in r and "val_bleu4" in r for r in rows)


@pytest.mark.parametrize("encoder", ["cnn", "efficientnet-lite0"])
def test_resume_is_exact(flickr_small: tuple[Path, Path], tmp_path: Path, encoder: str) -> None:
    """The trained CNN (images flipped at random, dropout) and the frozen encoder's cached
    grids both resume to the weights of an uninterrupted run."""
    def config(steps: int):
        return caption_config(flickr_small, encoder, max_steps=steps, eval_every=3,
                              decay_steps=6)

    assert resume_gap(config, 6, 3, tmp_path) <= 1e-6


def test_caption_prints_file_tab_caption_in_order(caption_run: Path,
                                                  flickr_small: tuple[Path, Path]) -> None:
    images = sorted(flickr_small[0].iterdir())
    given = [images[3], images[0], images[3]]
    out = io.StringIO()
    hyps = caption(caption_run, [str(p) for p in given], beam=3, out=out)
    lines = out.getvalue().splitlines()
    assert [line.split("\t")[0] for line in lines] == [str(p) for p in given]
    assert lines[0] == lines[2].replace(str(given[2]), str(given[0]))
    assert [line.split("\t")[1] for line in lines] == [h.text for h in hyps]
    assert not any("<unk>" in h.text or "  " in h.text for h in hyps)  # never written
    folder = io.StringIO()
    caption(caption_run, [str(flickr_small[0])], beam=3, out=folder)
    assert len(folder.getvalue().splitlines()) == IMAGES  # a folder: every image in it


def test_attention_figure(caption_run: Path, flickr_small: tuple[Path, Path],
                          tmp_path: Path) -> None:
    image = sorted(flickr_small[0].iterdir())[0]
    out = tmp_path / "fig" / "attention.png"
    caption(caption_run, [str(image)], beam=2, attention=str(out), out=io.StringIO())
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.parent.glob("*.partial*"))


def test_eval_scores_captions_and_baselines(caption_run: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(caption_run), "--beam", "2", "--baselines", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["images"] == 5 and result["source"].endswith("captions.txt:test (5 images)")
    assert result["bleu"]["bleu1"] >= result["bleu"]["bleu4"] >= 0
    assert set(result["baselines"]) == {"most frequent caption", "nearest neighbour"}
    assert all(b["cider"] >= 0 for b in result["baselines"].values())
    assert main(["eval", str(caption_run), "--split", "val"]) == 0
    assert "CIDEr-D" in capsys.readouterr().out


def test_caption_refuses_other_runs_and_bad_files(tiny_run: Path, caption_run: Path,
                                                  tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RnnlmError, match="language model, not an image captioner"):
        ImageCaptioner.load(tiny_run)
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture")
    with pytest.raises(RnnlmError, match="not an image"):
        caption(caption_run, [str(text)], out=io.StringIO())
    (tmp_path / "empty").mkdir()
    with pytest.raises(RnnlmError, match="no images"):
        caption(caption_run, [str(tmp_path / "empty")], out=io.StringIO())
    assert main(["eval", str(caption_run), "--text", str(text)]) == 2
    err = capsys.readouterr().err
    assert "own images" in err and len(err.strip().splitlines()) == 1
