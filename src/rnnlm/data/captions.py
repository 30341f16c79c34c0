"""Image captions (Show, Attend and Tell): the three caption files, the split by image, and
images as uint8 tensors.

Formats, told apart by their content:
- Karpathy's `dataset_flickr8k.json` / `dataset_coco.json`: {"images": [{"filename",
  "filepath" (COCO's subfolder, e.g. val2014), "split" (train/val/test/restval; restval is
  train), "sentences": [{"raw": ...}]}]}; the split is the file's own.
- The original `Flickr8k.token.txt`: `NAME.jpg#0 TAB caption`. The official split files
  `Flickr_8k.{train,dev,test}Images.txt` (one file name a line) beside it give the split;
  an image in none of them is left out (the token file names one image that does not exist).
- Kaggle's `captions.txt`: a header `image,caption`, then `NAME.jpg,caption`, cut at the
  first comma (a caption may hold commas), or with the caption in csv quotes.

Captions are stripped with their whitespace collapsed; empty ones are skipped. Images keep
the order they first appear in; every caption of one image stays in one split.
"""

from __future__ import annotations

import csv
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rnnlm.data.text import SPLITS, read_text
from rnnlm.errors import RnnlmError

SPLIT_SEED = 17  # the split's order: fixed, so every run holds out the same images
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
FORMATS = ("Karpathy's dataset_*.json, Flickr8k.token.txt (NAME.jpg#0 TAB caption) or "
           "Kaggle's captions.txt (header image,caption)")
FLICKR_SPLITS = {"train": "Flickr_8k.trainImages.txt", "val": "Flickr_8k.devImages.txt",
                 "test": "Flickr_8k.testImages.txt"}
TOKEN_LINE = re.compile(r"^([^\t]+)#\d+\t(.*)$")

Row = tuple[str, str, str, str | None]  # (where: "line 3", image name, caption, split)


@dataclass
class Captions:
    """Images and every reference caption of each (in file order), with the format's own
    split per image where it has one."""

    images: list[Path]
    captions: list[list[str]]
    split: list[str] | None = None

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, rows: list[int]) -> Captions:
        """The images at the given rows, in that order."""
        return Captions([self.images[i] for i in rows], [self.captions[i] for i in rows],
                        None if self.split is None else [self.split[i] for i in rows])


def read_captions(captions: str | Path, images_dir: str | Path) -> Captions:
    """The captions of a caption file whose images are in images_dir; the format is found
    from the file, and a caption of an image that is not there is a one-line error."""
    path, folder = Path(captions), Path(images_dir)
    if not path.is_file():
        raise RnnlmError(f"no such captions file: {path}; check the path")
    if not folder.is_dir():
        raise RnnlmError(f"no such images folder: {folder}; give the folder the captions' "
                         f"images are in")
    if not _has_images(folder):
        raise RnnlmError(f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)}); give the "
                         f"folder the captions' images are in")
    text = read_text(path)
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if not first:
        raise RnnlmError(f"{path} is empty; give {FORMATS}")
    if first.startswith("{"):
        rows = _karpathy(text, path)
    elif first.lower().replace(" ", "") == "image,caption":
        rows = _kaggle(text, path)
    elif TOKEN_LINE.match(first):
        rows = _flickr_token(text, path)
    else:
        raise RnnlmError(f"{path} is in no caption format read here (it starts {first[:40]!r});"
                         f" give {FORMATS}")
    root = folder.resolve()
    index: dict[str, int] = {}
    listings: dict[Path, set[str]] = {}
    images: list[Path] = []
    captions_of: list[list[str]] = []
    splits: list[str | None] = []
    for where, name, caption, split in rows:
        caption = " ".join(caption.split())
        if not caption:
            continue
        if name not in index:
            image = root / name
            if image.parent not in listings:  # one listing per folder, not a stat per image
                listings[image.parent] = set(os.listdir(image.parent) if image.parent.is_dir()
                                             else ())
            if image.name not in listings[image.parent]:
                raise RnnlmError(f"{path} {where} names {name}, which is not in {folder}; "
                                 f"check the images folder or remove the line")
            index[name] = len(images)
            images.append(image)
            captions_of.append([])
            splits.append(split)
        captions_of[index[name]].append(caption)
    if not images:
        raise RnnlmError(f"{path} holds no captions; give {FORMATS}")
    known = None if None in splits else [str(s) for s in splits]
    return Captions(images, captions_of, known)


def _has_images(folder: Path, depth: int = 1) -> bool:
    """Whether folder or a subfolder (COCO's train2014/, val2014/) holds an image file."""
    subfolders = []
    for entry in os.scandir(folder):
        if entry.is_file() and entry.name.lower().endswith(IMAGE_SUFFIXES):
            return True
        if depth and entry.is_dir():
            subfolders.append(Path(entry.path))
    return any(_has_images(d, depth - 1) for d in subfolders)


def _karpathy(text: str, path: Path) -> Iterator[Row]:
    """Rows of Karpathy's JSON: filepath/filename, each sentence's raw text, the split."""
    try:
        data = json.loads(text)
    except ValueError as e:
        raise RnnlmError(f"{path} is not valid JSON ({e}); fix or re-download it") from None
    images = data.get("images") if isinstance(data, dict) else None
    if not isinstance(images, list):
        raise RnnlmError(f"{path} is JSON without an \"images\" list; give {FORMATS}")
    for number, entry in enumerate(images, 1):
        if not isinstance(entry, dict) or "filename" not in entry:
            raise RnnlmError(f"{path} image entry {number} has no \"filename\"; fix the entry")
        name = str(Path(entry.get("filepath") or "") / entry["filename"])
        split = entry.get("split")
        split = "train" if split == "restval" else split if split in SPLITS else None
        for sentence in entry.get("sentences") or []:
            raw = sentence.get("raw") or " ".join(sentence.get("tokens") or [])
            yield f"image entry {number}", name, raw, split


def _kaggle(text: str, path: Path) -> Iterator[Row]:
    """Rows of Kaggle's captions.txt: cut at the first comma; a quoted caption is csv."""
    header = True
    for number, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        if not line.strip() or header:  # the first non-blank line is the header
            header = header and not line.strip()
            continue
        if "," not in line:
            raise RnnlmError(f"{path} line {number} has no comma; each line needs "
                             f"NAME.jpg,caption")
        name, caption = line.split(",", 1)
        if caption.lstrip().startswith('"'):
            fields = next(csv.reader([caption.lstrip()]))
            caption = fields[0] if len(fields) == 1 else caption
        yield f"line {number}", name.strip().strip('"'), caption, None


def _flickr_token(text: str, path: Path) -> Iterator[Row]:
    """Rows of Flickr8k.token.txt, with the split of the official split files beside it
    (an image in none of them is left out); no split files, no split."""
    splits: dict[str, str] = {}
    for split, file in FLICKR_SPLITS.items():
        if (path.parent / file).is_file():
            for name in read_text(path.parent / file).split():
                splits[name] = split
    for number, line in enumerate(text.split("\n"), 1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        match = TOKEN_LINE.match(line)
        if not match:
            raise RnnlmError(f"{path} line {number} is not NAME.jpg#N TAB caption; fix or "
                             f"remove the line")
        name = match.group(1).strip()
        if splits and name not in splits:
            continue
        yield f"line {number}", name, match.group(2), splits.get(name)


def split_captions(c: Captions, val: int, test: int) -> dict[str, Captions]:
    """Train/val/test by image: the format's own split where it has one (val and test are
    then ignored), else test and val images in a seeded order of the sorted file names."""
    if c.split is not None:
        parts = {s: c.subset([i for i, t in enumerate(c.split) if t == s]) for s in SPLITS}
    else:
        if val < 0 or test < 0 or val + test >= len(c):
            raise RnnlmError(f"{len(c):,} images are too few to hold out {test:,} for testing "
                             f"and {val:,} for validation; hold out fewer")
        order = sorted(range(len(c)), key=lambda i: (c.images[i].name, str(c.images[i])))
        shuffled = [order[p] for p in np.random.default_rng(SPLIT_SEED).permutation(len(c))]
        rows = {"test": shuffled[:test], "val": shuffled[test:test + val],
                "train": shuffled[test + val:]}
        parts = {s: c.subset(sorted(rows[s])) for s in SPLITS}
    if not parts["train"]:
        raise RnnlmError("the captions' split has no training image; give a file with train "
                         "images or hold out fewer")
    return parts


def image_files(paths: list[str | Path]) -> list[Path]:
    """Image files as given, in order; a folder is every image in it, sorted by name."""
    out: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise RnnlmError(f"no such image or folder: {p}; check the path")
        if p.is_dir():
            found = sorted(f for f in p.iterdir()
                           if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise RnnlmError(f"{p} holds no images ({', '.join(IMAGE_SUFFIXES)}); give "
                                 f"image files or a folder of them")
            out += found
        else:
            out.append(p)
    return out


def load_image(path: str | Path, size: int) -> torch.Tensor:
    """An image as uint8 (3, size, size) RGB: transparency on white, the shorter side
    resized to size (bicubic, antialiased), the centre cut out."""
    try:
        from PIL import Image, ImageOps, UnidentifiedImageError
    except ImportError:
        raise RnnlmError("reading images needs Pillow; pip install 'rnnlm[vision]'") from None
    path = Path(path)
    if not path.is_file():
        raise RnnlmError(f"no such image: {path}; check the path")
    try:
        with Image.open(path) as opened:
            opened.load()  # the whole decode here: a truncated file fails now, not later
            img = ImageOps.exif_transpose(opened)
    except UnidentifiedImageError as e:
        raise RnnlmError(f"{path} is not an image ({e}); give JPEG or PNG files") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise RnnlmError(f"{path} is a truncated or damaged image ({e}); re-download or "
                         f"remove it") from None
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        img = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
    img = img.convert("RGB")
    w, h = img.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    img = img.resize((nw, nh), Image.Resampling.BICUBIC)
    left, top = (nw - size) // 2, (nh - size) // 2
    img = img.crop((left, top, left + size, top + size))
    pixels = np.array(img, dtype=np.uint8)  # (size, size, 3)
    return torch.from_numpy(pixels).permute(2, 0, 1).contiguous()  # (3, size, size)


def load_images(paths: list[Path], size: int) -> torch.Tensor:
    """Images as uint8 (N, 3, size, size), with a progress bar for more than 200."""
    from tqdm import tqdm

    out = torch.empty((len(paths), 3, size, size), dtype=torch.uint8)  # (N, 3, size, size)
    for i, p in enumerate(tqdm(paths, desc="images", unit="image", disable=len(paths) <= 200)):
        out[i] = load_image(p, size)
    return out
