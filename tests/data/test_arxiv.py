"""The arXiv corpus builder against a local Atom server (never the network): pages, pauses,
retries on 503 / timeouts / malformed or empty pages, resuming, and clear failures."""

from __future__ import annotations

import itertools
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rnnlm.cli import main
from rnnlm.data.arxiv import ATOM, OPENSEARCH, build_arxiv
from rnnlm.errors import RnnlmError
from tests.test_cli import fails

ABS = "arxiv.org/abs/"  # the API's ids are URLs ending in /abs/ID; no request ever goes there
PAPERS = [(f"1407.{i:04d}", f"Abstract number {i}.\n  It has   two lines.") for i in range(23)]


def feed(start: int, size: int, total: int = len(PAPERS)) -> bytes:
    """An Atom page like the arXiv API's."""
    entries = "".join(
        f"<entry><id>{ABS}{pid}v2</id><title>t</title>"
        f"<summary>{text}</summary></entry>" for pid, text in PAPERS[start: start + size])
    return (f'<?xml version="1.0" encoding="UTF-8"?>'
            f'<feed xmlns="{ATOM[1:-1]}" xmlns:opensearch="{OPENSEARCH[1:-1]}">'
            f"<opensearch:totalResults>{total}</opensearch:totalResults>{entries}</feed>"
            ).encode()


class Server:
    """A scripted API: faults[n] says what request n gets (else a correct page)."""

    def __init__(self) -> None:
        self.faults: dict[int, str] = {}
        self.requests: list[tuple[float, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                server.requests.append((time.monotonic(), query))
                fault = server.faults.get(len(server.requests) - 1)
                start, size = int(query["start"]), int(query["max_results"])
                body = feed(start, size)
                if fault == "503":
                    self.send_error(503)
                    return
                if fault == "slow":
                    time.sleep(1.0)
                if fault == "malformed":
                    body = body[: len(body) // 2]
                if fault == "empty":
                    body = feed(0, 0)
                self.send_response(200)
                self.send_header("Content-Type", "application/atom+xml")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_port}/api/query"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.http.shutdown()


def build(server: Server, out: Path, max_results: int = 100, **kw: object) -> int:
    kw = {"page_size": 5, "delay": 0.05, "timeout": 0.5, "log": lambda _: None, **kw}
    return build_arxiv("cat:cs.NE OR cat:cs.LG", max_results, out, api_url=server.url, **kw)


def test_pages_pause_and_normalize(server: Server, tmp_path: Path) -> None:
    out = tmp_path / "abstracts.txt"
    assert build(server, out, delay=0.2) == 23
    lines = out.read_text().splitlines()
    assert lines[0] == "Abstract number 0. It has two lines." and len(lines) == 23
    assert (tmp_path / "abstracts.txt.ids").read_text().splitlines()[:2] == ["1407.0000",
                                                                           "1407.0001"]
    times = [t for t, _ in server.requests]  # on the server's side: some jitter
    assert len(times) == 5 and min(b - a for a, b in itertools.pairwise(times)) >= 0.15
    q = server.requests[0][1]
    assert q["search_query"] == "cat:cs.NE OR cat:cs.LG" and q["sortOrder"] == "ascending"


def test_retries_every_kind_of_fault(server: Server, tmp_path: Path) -> None:
    server.faults = {0: "503", 2: "slow", 3: "malformed", 5: "empty"}
    out = tmp_path / "a.txt"
    assert build(server, out) == 23
    assert len(out.read_text().splitlines()) == 23


def test_resume_appends_only_new_ids(server: Server, tmp_path: Path) -> None:
    out = tmp_path / "a.txt"
    assert build(server, out, max_results=12) == 12
    with open(out, "a") as f:
        f.write("torn abstract with no id")  # a kill in the middle of a write
    assert build(server, out) == 11
    ids = (tmp_path / "a.txt.ids").read_text().splitlines()
    assert ids == [p for p, _ in PAPERS] and len(out.read_text().splitlines()) == 23
    assert server.requests[-3][1]["start"] == "10"  # it resumed at the page where it stopped


def test_gives_up_with_a_clear_error(server: Server, tmp_path: Path) -> None:
    server.faults = dict.fromkeys(range(10), "503")
    with pytest.raises(RnnlmError, match=r"failed 3 times at offset 0 \(last: HTTP 503\)"):
        build(server, tmp_path / "a.txt", retries=2)


def test_cli(server: Server, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "a.txt"
    assert main(["corpus", "arxiv", "--query", "all:rnn", "--max", "7", "--out", str(out),
                 "--api-url", server.url, "--delay", "0"]) == 0
    assert "added 7 abstracts" in capsys.readouterr().out
    fails(capsys, ["corpus", "arxiv", "--max", "7"], "required: --query, --out")
