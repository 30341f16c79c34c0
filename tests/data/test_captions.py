"""Caption files (Kaggle's on the real Flickr8k subset, Flickr8k's token file with its split
files, Karpathy's JSON), the split by image, and image loading with its one-line errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from rnnlm.data.captions import (
    Captions,
    image_files,
    load_image,
    load_images,
    read_captions,
    split_captions,
)
from rnnlm.errors import RnnlmError
from tests.conftest import DATA

FLICKR = DATA / "flickr8k-800"


@pytest.fixture(scope="module")
def flickr() -> Captions:
    """The real 800 images' Kaggle captions.txt."""
    return read_captions(FLICKR / "captions.txt", FLICKR / "images")


def pngs(folder: Path, *names: str) -> Path:
    """Small generated PNGs (a different colour each) in folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        Image.new("RGB", (12, 8), (40 * i, 255 - 40 * i, 7)).save(folder / name)
    return folder


def test_kaggle_captions_of_the_real_subset(flickr: Captions) -> None:
    assert len(flickr) == 800 and flickr.split is None
    assert all(len(c) == 5 for c in flickr.captions)
    assert all(p.is_absolute() and p.is_file() for p in flickr.images)
    assert flickr.images[0].name == "1000268201_693b08cb0e.jpg"  # first-appearance order
    assert flickr.captions[0][0] == ("A child in a pink dress is climbing up a set of stairs in "
                                     "an entry way .")
    with_comma = [c for caps in flickr.captions for c in caps if "," in c]
    assert with_comma, "the subset has captions with commas: cut at the first comma only"


def test_split_by_image_is_exact_stable_and_order_free(flickr: Captions) -> None:
    parts = split_captions(flickr, 50, 100)
    assert {k: len(v) for k, v in parts.items()} == {"train": 650, "val": 50, "test": 100}
    names = {k: {p.name for p in v.images} for k, v in parts.items()}
    assert not names["train"] & names["val"] and not names["train"] & names["test"]
    assert not names["val"] & names["test"]
    assert sum(len(n) for n in names.values()) == 800
    again = split_captions(flickr, 50, 100)
    assert {k: v.images for k, v in again.items()} == {k: v.images for k, v in parts.items()}
    reversed_rows = flickr.subset(list(range(len(flickr)))[::-1])
    shuffled = split_captions(reversed_rows, 50, 100)
    assert {k: {p.name for p in v.images} for k, v in shuffled.items()} == names
    test = parts["test"]
    for image, caps in zip(test.images, test.captions, strict=True):
        assert caps == flickr.captions[flickr.images.index(image)]  # all 5 go with the image
    with pytest.raises(RnnlmError, match="too few.*hold out fewer"):
        split_captions(flickr, 400, 400)


def test_flickr8k_token_file_with_official_split(tmp_path: Path) -> None:
    images = pngs(tmp_path / "Flicker8k_Dataset", "a.jpg", "b.jpg", "c.jpg", "d.jpg")
    text = tmp_path / "text"
    text.mkdir()
    (text / "Flickr8k.token.txt").write_text(
        "b.jpg#0\tA dog  runs .\nb.jpg#1\t  \na.jpg#0\tTwo\tcats , sitting .\n"
        "c.jpg#0\tA bird .\nb.jpg#2\tThe dog again .\ngone.jpg#0\tnot in any split\n"
        "d.jpg#0\tleft out: in no split file\n", encoding="utf-8")
    (text / "Flickr_8k.trainImages.txt").write_text("a.jpg\nb.jpg\n", encoding="utf-8")
    (text / "Flickr_8k.devImages.txt").write_text("c.jpg\n", encoding="utf-8")
    (text / "Flickr_8k.testImages.txt").write_text("\n", encoding="utf-8")
    c = read_captions(text / "Flickr8k.token.txt", images)
    assert [p.name for p in c.images] == ["b.jpg", "a.jpg", "c.jpg"]
    assert c.captions == [["A dog runs .", "The dog again ."], ["Two cats , sitting ."],
                          ["A bird ."]]
    assert c.split == ["train", "train", "val"]
    parts = split_captions(c, 100, 100)  # the file's split: the numbers are ignored
    assert [p.name for p in parts["train"].images] == ["b.jpg", "a.jpg"]
    assert [p.name for p in parts["val"].images] == ["c.jpg"] and not parts["test"]
    for name in ("trainImages", "devImages", "testImages"):
        (text / f"Flickr_8k.{name}.txt").unlink()
    with pytest.raises(RnnlmError, match=r"line 6 names gone\.jpg.*remove the line"):
        read_captions(text / "Flickr8k.token.txt", images)  # no split files: every line read


def test_karpathy_json_with_its_split(tmp_path: Path) -> None:
    images = tmp_path / "coco"
    pngs(images / "train2014", "x.png")
    pngs(images / "val2014", "y.png", "z.png")
    entries = [
        {"filepath": "val2014", "filename": "y.png", "split": "restval",
         "sentences": [{"raw": " A man  on a horse. "}, {"raw": ""}, {"raw": "A rider."}]},
        {"filepath": "train2014", "filename": "x.png", "split": "test",
         "sentences": [{"raw": "Snow, everywhere."}]},
        {"filepath": "val2014", "filename": "z.png", "split": "val",
         "sentences": [{"raw": "A cat."}]},
    ]
    path = tmp_path / "dataset_coco.json"
    path.write_text(json.dumps({"images": entries, "dataset": "coco"}), encoding="utf-8")
    c = read_captions(path, images)
    assert c.images == [(images / "val2014" / "y.png").resolve(),
                        (images / "train2014" / "x.png").resolve(),
                        (images / "val2014" / "z.png").resolve()]
    assert c.captions == [["A man on a horse.", "A rider."], ["Snow, everywhere."], ["A cat."]]
    assert c.split == ["train", "test", "val"]
    assert {k: len(v) for k, v in split_captions(c, 0, 0).items()} == {
        "train": 1, "val": 1, "test": 1}


def test_quoted_kaggle_caption(tmp_path: Path) -> None:
    images = pngs(tmp_path / "images", "a.png")
    path = tmp_path / "captions.txt"
    path.write_text('image,caption\na.png,"A dog, wet, shakes ."\na.png,plain, with comma\n',
                    encoding="utf-8")
    assert read_captions(path, images).captions == [["A dog, wet, shakes .",
                                                     "plain, with comma"]]


def test_caption_file_errors(tmp_path: Path) -> None:
    images = pngs(tmp_path / "images", "a.png")
    path = tmp_path / "captions.txt"
    with pytest.raises(RnnlmError, match="no such captions file"):
        read_captions(path, images)
    path.write_text("image,caption\na.png,fine\nmissing.png,Nobody here .\n", encoding="utf-8")
    with pytest.raises(RnnlmError, match=r"line 3 names missing\.png.*check the images folder"):
        read_captions(path, images)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no images here", encoding="utf-8")
    with pytest.raises(RnnlmError, match="holds no images"):
        read_captions(path, empty)
    with pytest.raises(RnnlmError, match="no such images folder"):
        read_captions(path, tmp_path / "nowhere")
    path.write_text("just some text\nand more\n", encoding="utf-8")
    with pytest.raises(RnnlmError, match="no caption format.*Karpathy.*token.*Kaggle"):
        read_captions(path, images)
    path.write_text("image,caption\na.png,   \n", encoding="utf-8")
    with pytest.raises(RnnlmError, match="holds no captions"):
        read_captions(path, images)


def test_image_errors_are_one_line(tmp_path: Path) -> None:
    fake = tmp_path / "photo.jpg"
    fake.write_text("this is not a JPEG at all\n", encoding="utf-8")
    with pytest.raises(RnnlmError, match=r"photo\.jpg is not an image.*give JPEG or PNG"):
        load_image(fake, 32)
    rng = np.random.default_rng(0)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)).save(
        buffer, "JPEG", quality=90)
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    with pytest.raises(RnnlmError, match=r"cut\.jpg is a truncated or damaged.*re-download") as e:
        load_image(cut, 32)
    assert "\n" not in str(e.value)
    with pytest.raises(RnnlmError, match="no such image"):
        load_image(tmp_path / "absent.png", 32)


def test_any_mode_loads_as_rgb(tmp_path: Path) -> None:
    Image.new("L", (40, 30), 100).save(tmp_path / "gray.png")
    Image.new("RGBA", (30, 30), (255, 0, 0, 0)).save(tmp_path / "clear.png")
    Image.new("CMYK", (30, 30), (0, 0, 0, 0)).save(tmp_path / "cmyk.jpg")
    Image.new("P", (30, 30), 3).save(tmp_path / "palette.gif")
    gray = load_image(tmp_path / "gray.png", 16)
    assert gray.shape == (3, 16, 16) and gray.dtype == torch.uint8
    assert (gray == 100).all()
    clear = load_image(tmp_path / "clear.png", 16)
    assert clear.shape == (3, 16, 16) and (clear == 255).all()  # transparent → white
    for name in ("cmyk.jpg", "palette.gif"):
        assert load_image(tmp_path / name, 16).shape == (3, 16, 16)


def test_non_square_resizes_short_side_and_centre_crops(tmp_path: Path) -> None:
    pixels = np.zeros((50, 150, 3), dtype=np.uint8)  # (H, W, 3): wide
    pixels[:, 50:100] = 200  # the middle third is bright
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    Image.fromarray(pixels.transpose(1, 0, 2).copy()).save(tmp_path / "tall.png")
    for name in ("wide.png", "tall.png"):
        out = load_image(tmp_path / name, 37)
        assert out.shape == (3, 37, 37) and out.dtype == torch.uint8
    wide = load_image(tmp_path / "wide.png", 30)  # 150×50 → 90×30, crop x 30..60: the middle
    assert (wide[:, :, 3:-3] == 200).all()


def test_image_files_and_load_images(tmp_path: Path, flickr: Captions) -> None:
    folder = pngs(tmp_path / "imgs", "b.png", "a.png")
    (folder / "readme.txt").write_text("not an image", encoding="utf-8")
    single = flickr.images[0]
    assert image_files([single, folder]) == [single, folder / "a.png", folder / "b.png"]
    with pytest.raises(RnnlmError, match="no such image or folder"):
        image_files([tmp_path / "nope"])
    (tmp_path / "bare").mkdir()
    with pytest.raises(RnnlmError, match="holds no images"):
        image_files([tmp_path / "bare"])
    batch = load_images(flickr.images[:4], 24)
    assert batch.shape == (4, 3, 24, 24) and batch.dtype == torch.uint8
    assert torch.equal(batch[2], load_image(flickr.images[2], 24))
