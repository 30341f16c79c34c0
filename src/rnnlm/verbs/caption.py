"""`rnnlm caption`: describe images with a captioning run, one `FILE<TAB>caption` line each."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, TextIO

from rnnlm.captioning import ImageCaptioner
from rnnlm.data.captions import image_files, load_image
from rnnlm.inference.beam import Hypothesis
from rnnlm.options import Arg
from rnnlm.verbs import Checkpoint, Device, Run


def caption(run: Run, images: Annotated[list[str], Arg(
                "image files, or folders (every image in them)", metavar="IMAGE")], *,
            beam: Annotated[int, Arg("beam size; 1 is greedy search")] = 5,
            attention: Annotated[str | None, Arg(
                "draw the first image with the attention map of each word (matplotlib)",
                metavar="OUT.png")] = None,
            checkpoint: Checkpoint = "best", device: Device = "auto",
            out: TextIO | None = None) -> list[Hypothesis]:
    """Caption images: one line per image, FILE TAB caption, in the order given (a folder's
    images sorted by name)."""
    out = out or sys.stdout
    paths = image_files(images)
    captioner = ImageCaptioner.load(run, device=device, which=checkpoint)
    hyps = captioner.caption(paths, beam, attention=bool(attention))
    for path, h in zip(paths, hyps, strict=True):
        out.write(f"{path}\t{h.text}\n")
    out.flush()
    if attention:
        from rnnlm.inference.heatmap import draw_image_attention

        words = [captioner.tokenizer.decode([i]).strip() for i in hyps[0].ids]
        draw_image_attention(load_image(paths[0], captioner.image_size), words,
                             hyps[0].attention, captioner.config.caption.grid,
                             Path(attention))
    return hyps
