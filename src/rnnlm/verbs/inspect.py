"""`rnnlm inspect`: a text's surprisal and hidden units as one HTML file to share (and a PNG)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from rnnlm.data.text import read_text
from rnnlm.inference.inspect import inspect_text
from rnnlm.language_model import LanguageModel
from rnnlm.options import Arg
from rnnlm.serve.view import write_html, write_png
from rnnlm.verbs import Checkpoint, Device, Run

MAX_CHARS = 20_000  # characters inspected (the page colours every one)


def inspect(run: Run, *,
            text: Annotated[str | Path, Arg("the text file to look inside")],
            out: Annotated[str | Path, Arg("the self-contained HTML page to write")
                           ] = "view.html",
            png: Annotated[str | Path | None, Arg(
                "also draw a PNG (needs matplotlib: rnnlm[plot])", metavar="FILE.png")] = None,
            rank: Annotated[int, Arg("units to rank by how well they follow a feature")] = 20,
            top_k: Annotated[int, Arg("likeliest tokens shown per place")] = 5,
            checkpoint: Checkpoint = "best", device: Device = "auto") -> dict[str, Any]:
    """Colour a text by surprisal and by hidden units: an HTML page (and a PNG) to share.

    The first MAX_CHARS characters of the file are inspected: per token its surprisal in
    bits (as `rnnlm eval --per-token`), the likeliest tokens there, and the units that best
    follow quotes, brackets, position in the line and indentation.
    """
    lm = LanguageModel.load(run, device=device, which=checkpoint)
    body = read_text(Path(text))[:MAX_CHARS]
    data = inspect_text(lm, body, top_k=top_k, rank=rank)
    title = f"{Path(run).resolve().name} on {Path(text).name}"
    write_html(Path(out), data, title)
    print(f"wrote {out}: {len(data['tokens']):,} tokens, "
          f"{data['bits_per_token']:.3f} bits per token")
    if png:
        write_png(Path(png), data, title)
        print(f"wrote {png}")
    return data
