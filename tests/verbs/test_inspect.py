"""`rnnlm inspect`: a self-contained HTML page and a PNG."""

from __future__ import annotations

import json
import re
from pathlib import Path

from rnnlm.cli import main


def test_inspect_writes_a_page_and_a_picture(tiny_run: Path, tmp_path: Path,
                                             capsys) -> None:
    text = tmp_path / "speech.txt"
    text.write_text("First Citizen:\nBefore we proceed any further, hear me speak.\n\n"
                    "All:\nSpeak, speak.\n", encoding="utf-8")
    html, png = tmp_path / "view.html", tmp_path / "view.png"
    assert main(["inspect", str(tiny_run), "--text", str(text), "--out", str(html),
                 "--png", str(png), "--rank", "6", "--device", "cpu"]) == 0
    assert "bits per token" in capsys.readouterr().out
    page = html.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?https?:""", page)  # works offline
    data = json.loads(re.search(r"renderInspection\(document.getElementById\(\"inspection\"\), "
                                r"(\{.*\})\);</script>", page, re.S).group(1))
    assert "".join(t["text"] for t in data["tokens"]) == text.read_text(encoding="utf-8")
    assert len(data["ranking"]) == 6 and "function renderInspection" in page
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_inspect_refuses_a_missing_file(tiny_run: Path, tmp_path: Path, capsys) -> None:
    assert main(["inspect", str(tiny_run), "--text", str(tmp_path / "none.txt")]) == 2
    assert "no such file" in capsys.readouterr().err

