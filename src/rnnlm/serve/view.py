"""The inspector as files to share: one self-contained HTML page (the served page's
inspector script and style inlined, the data embedded) and a PNG (matplotlib)."""

from __future__ import annotations

import html
import json
from importlib import resources
from pathlib import Path
from typing import Any

from rnnlm.errors import RnnlmError
from rnnlm.fileio import write_atomic

PNG_CHARS = 2000  # characters a picture shows
PNG_COLUMNS = 100  # characters per drawn line (longer lines wrap)


def static(name: str) -> str:
    """A file of the served page."""
    return resources.files("rnnlm.serve").joinpath(f"static/{name}").read_text("utf-8")


def standalone_html(data: dict[str, Any], title: str) -> str:
    """One HTML file that shows the inspection offline, as the served page's inspector."""
    payload = json.dumps(data).replace("</", "<\\/")  # never closes the script element
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title>\n<style>{static('style.css')}</style>"
            f"</head>\n<body><main><h2>{html.escape(title)}</h2>"
            f'<div id="inspection"></div></main>\n'
            f"<script>{static('inspector.js')}</script>\n"
            f'<script>renderInspection(document.getElementById("inspection"), {payload});'
            f"</script>\n</body></html>\n")


def write_html(path: Path, data: dict[str, Any], title: str) -> None:
    """Write the standalone page atomically."""
    page = standalone_html(data, title)
    write_atomic(path, lambda tmp: tmp.write_text(page, encoding="utf-8"))


def layout(tokens: list[dict[str, Any]]) -> list[tuple[int, int, str, int]]:
    """(line, column, character, token index) of each drawn character: newlines start a
    line, long lines wrap, the first PNG_CHARS characters."""
    out, line, col = [], 0, 0
    for i, t in enumerate(tokens):
        for ch in t["text"]:
            if len(out) >= PNG_CHARS:
                return out
            if ch == "\n":
                out.append((line, col, "\u21b5", i))
                line, col = line + 1, 0
                continue
            if col == PNG_COLUMNS:
                line, col = line + 1, 0
            out.append((line, col, ch, i))
            col += 1
    return out


def write_png(path: Path, data: dict[str, Any], title: str) -> None:
    """The text coloured by surprisal and, below, by the best-ranked unit's activation."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RnnlmError("--png needs matplotlib: pip install 'rnnlm[plot]'") from None
    cells = layout(data["tokens"])
    lines = (cells[-1][0] + 1) if cells else 1
    panels = [("surprisal (bits, 0 white → 8 red)",
               [t["bits"] or 0.0 for t in data["tokens"]], "Reds", 0.0, 8.0)]
    if data["ranking"]:
        u = data["ranking"][0]
        scale = max(1e-6, max(abs(v) for v in u["values"]))
        panels.append((f"layer {u['layer']} unit {u['unit']} {u['state']} ({u['feature']}, "
                       f"r={u['r']:.2f}; blue −, red +)", u["values"], "bwr", -scale, scale))
    fig, axes = plt.subplots(len(panels), 1, squeeze=False,
                             figsize=(PNG_COLUMNS * 0.11, len(panels) * (lines * 0.22 + 0.6)))
    for ax, (name, values, cmap, lo, hi) in zip(axes[:, 0], panels, strict=True):
        colours = plt.get_cmap(cmap)
        ax.set_xlim(0, PNG_COLUMNS)
        ax.set_ylim(lines, 0)
        ax.axis("off")
        ax.set_title(name, fontsize=9, loc="left")
        for line, col, ch, i in cells:
            level = (min(max(values[i], lo), hi) - lo) / (hi - lo)
            ax.add_patch(plt.Rectangle((col, line), 1, 1, color=colours(level), lw=0))
            ax.text(col + 0.5, line + 0.55, ch, ha="center", va="center", fontsize=7,
                    family="monospace")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)
