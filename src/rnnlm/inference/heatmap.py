"""Attention drawn with matplotlib (the plot extra): one output's attention over its source as
a heatmap (rows output tokens, columns source tokens), and a caption's attention over its
image, one panel per word with the grid's weights upsampled over the picture (the figure of
Xu et al. 2015)."""

from __future__ import annotations

import math
import os
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from rnnlm.errors import RnnlmError
from rnnlm.inference.beam import Hypothesis

PANELS_PER_ROW = 5
DIM = 0.15  # the brightness of an image's least-attended pixels


def pyplot() -> Any:
    """matplotlib.pyplot on the file-only backend, or a one-line error naming the extra."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RnnlmError("--attention draws with matplotlib; pip install 'rnnlm[plot]'") from None
    return plt


def save(fig: Any, path: Path, dpi: int = 120) -> None:
    """Write the figure as a PNG whole or not at all (a temporary file, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial.png")
    fig.savefig(partial, dpi=dpi)
    os.replace(partial, path)


def draw_attention(translator: object, source: str, hyp: Hypothesis, path: Path) -> None:
    """Write a PNG of hyp's attention weights over source's tokens."""
    plt = pyplot()
    if hyp.attention is None:
        raise RnnlmError("no attention weights were kept for this output")
    src = translator.encode([source])[0].tolist()
    columns = [translator.source_tokenizer.decode([i]) for i in src]
    rows = [translator.tokenizer.decode([i]) for i in hyp.ids] + ["</s>"]
    weights = hyp.attention[: len(rows), : len(columns)]  # (output tokens, source tokens)
    fig, ax = plt.subplots(figsize=(max(4, 0.45 * len(columns) + 2),
                                    max(3, 0.4 * len(rows) + 1.5)))
    image = ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(columns)), [c.replace(" ", "␣") for c in columns], rotation=60,
                  ha="right")
    ax.set_yticks(range(len(rows)), [r.replace(" ", "␣") for r in rows])
    ax.set_xlabel("source tokens")
    ax.set_ylabel("output tokens")
    fig.colorbar(image, ax=ax, label="attention weight")
    fig.tight_layout()
    save(fig, path)
    plt.close(fig)


def draw_image_attention(image: torch.Tensor, words: list[str], attention: np.ndarray | None,
                         grid: int, path: Path) -> None:
    """Write a PNG of the image (uint8 (3, H, W)) and, for each word of its caption and the
    end, the image lit where the word's attention (a row of (T, grid²)) fell."""
    plt = pyplot()
    if attention is None:
        raise RnnlmError("no attention weights were kept for this caption")
    labels = [*words, "<end>"][: len(attention)]
    picture = image.permute(1, 2, 0).numpy()  # (H, W, 3)
    h, w = picture.shape[:2]
    maps = torch.from_numpy(np.asarray(attention[: len(labels)], dtype=np.float32))
    maps = F.interpolate(maps.view(-1, 1, grid, grid), size=(h, w), mode="bilinear",
                         align_corners=False)[:, 0].numpy()  # (T, H, W)
    panels = len(labels) + 1
    rows = math.ceil(panels / PANELS_PER_ROW)
    fig, axes = plt.subplots(rows, PANELS_PER_ROW, figsize=(2.4 * PANELS_PER_ROW, 2.6 * rows),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    axes.flat[0].imshow(picture)
    axes.flat[0].set_title(textwrap.fill(" ".join(words), 32), fontsize=8)
    for ax, label, weights in zip(axes.flat[1:], labels, maps, strict=False):
        lit = DIM + (1 - DIM) * weights / max(float(weights.max()), 1e-12)  # (H, W) in [DIM, 1]
        ax.imshow((picture * lit[..., None]).astype(np.uint8))  # dark where it did not look
        ax.set_title(label, fontsize=10)
    fig.tight_layout()
    save(fig, path, dpi=80)
    plt.close(fig)
