"""Corpus registry: mirrors, the download cache (over a loopback HTTP server), offline use,
plain paths and the offline python-stdlib corpus."""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from rnnlm.data import corpora, registry
from rnnlm.data.corpora import fetch_file, list_corpora, load_corpus
from rnnlm.data.registry import RemoteFile
from rnnlm.errors import RnnlmError

BODY = b"To be, or not to be, that is the question.\n" * 50


@pytest.fixture
def server() -> Iterator[tuple[str, list[str]]]:
    """A loopback HTTP server serving BODY at /good.txt; returns (base url, request log)."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)

        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", hits
    httpd.shutdown()


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Downloads allowed (to loopback only, by the tests' own URLs), an empty cache."""
    monkeypatch.delenv("RNNLM_OFFLINE")
    monkeypatch.setenv("RNNLM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("RNNLM_DATA", "")
    return tmp_path / "home"


def test_download_is_verified_and_cached(server: tuple[str, list[str]], online: Path) -> None:
    url, hits = server
    rf = RemoteFile("demo/good.txt", f"{url}/good.txt", hashlib.sha256(BODY).hexdigest(),
                    len(BODY))
    path = fetch_file(rf, "demo")
    assert path == online / "corpora" / "demo" / "good.txt" and path.read_bytes() == BODY
    assert fetch_file(rf, "demo") == path and len(hits) == 1  # second time: from the cache


def test_checksum_mismatch_saves_nothing(server: tuple[str, list[str]], online: Path) -> None:
    url, _ = server
    rf = RemoteFile("demo/bad.txt", f"{url}/bad.txt", "0" * 64, len(BODY))
    with pytest.raises(RnnlmError, match="has sha256 .* expected 000000000000…; it was not saved"):
        fetch_file(rf, "demo")
    leftovers = list((online / "corpora").rglob("*")) if (online / "corpora").exists() else []
    assert [p for p in leftovers if p.is_file()] == []


def test_unreachable_server_without_cache(online: Path) -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rf = RemoteFile("demo/x.txt", f"http://127.0.0.1:{port}/x.txt", "0" * 64, 1)
    with pytest.raises(RnnlmError, match="cannot download corpus 'demo'.*RNNLM_DATA"):
        fetch_file(rf, "demo")


def test_offline_without_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RNNLM_DATA", "")
    with pytest.raises(RnnlmError, match="downloads are off .RNNLM_OFFLINE"):
        load_corpus("shakespeare")


def test_mirror_is_used_and_verified(shakespeare: str, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = load_corpus("shakespeare")
    assert corpus.texts["all"] == shakespeare
    assert ("shakespeare", "mirror") in [(n, w) for n, w, _ in list_corpora()]
    fake = tmp_path / "tiny-shakespeare"
    fake.mkdir()
    (fake / "input.txt").write_text("not shakespeare")
    monkeypatch.setenv("RNNLM_DATA", str(tmp_path))
    with pytest.raises(RnnlmError, match="has sha256 .* expected 86c4e6aa9db7"):
        load_corpus("shakespeare")


def test_official_splits() -> None:
    splits = load_corpus("ptb").splits(0.1)
    assert [len(splits[s].splitlines()) for s in ("train", "val", "test")] == [42068, 3370, 3761]


def test_unknown_name_suggests() -> None:
    with pytest.raises(RnnlmError, match="did you mean 'shakespeare'"):
        load_corpus("shakespear")


def test_missing_path() -> None:
    with pytest.raises(RnnlmError, match="no such file or directory: /no/such/file.txt"):
        load_corpus("/no/such/file.txt")


def test_empty_corpus(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(RnnlmError, match="is empty"):
        load_corpus(str(tmp_path / "empty.txt"))


def test_paths_and_directories(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "b.txt").write_text("bee\n")
    (tmp_path / "a.txt").write_text("ay\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.txt").write_text("sea\n")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\x00\x00")
    (tmp_path / ".hidden").write_text("secret\n")
    assert load_corpus(str(tmp_path)).texts["all"] == "ay\nbee\nsea\n"
    assert "skipped 1 binary file" in capsys.readouterr().err
    both = load_corpus([str(tmp_path / "b.txt"), str(tmp_path / "a.txt")])
    assert both.texts["all"] == "bee\nay\n"


def test_python_stdlib_corpus_is_offline_and_stable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RNNLM_DATA", "")
    text = load_corpus("python-stdlib").texts["all"]
    assert len(text) > 1_000_000 and "def " in text and "import " in text
    assert registry.python_stdlib_text() == text


def blob(data: bytes) -> str:
    """git's blob id of data."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def test_pinned_parts_are_each_checked_then_joined(server: tuple[str, list[str]], online: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    url, hits = server
    parts = [RemoteFile(p, f"{url}/{p}", "", len(BODY), blob=blob(BODY)) for p in ("a.c", "b.c")]
    monkeypatch.setattr(corpora, "pinned_parts", lambda name, base: parts)
    rf = RemoteFile("code/all.c", url, hashlib.sha256(BODY * 2).hexdigest(), 0, parts="code")
    assert fetch_file(rf, "code").read_bytes() == BODY * 2 and hits == ["/a.c", "/b.c"]
    parts[1] = RemoteFile("b.c", f"{url}/b.c", "", 1, blob="f" * 40)
    wrong = RemoteFile("code/other.c", url, rf.sha256, 0, parts="code")
    with pytest.raises(RnnlmError, match=r"download of .*/b.c has git blob .* not saved"):
        fetch_file(wrong, "code")
    assert not (online / "corpora" / "code" / "other.c").exists()


def test_linux_c_pins_are_the_mirror_files() -> None:
    """Each pinned file's blob id matches its slice of the mirror, so a download (the pinned
    files, joined) is the mirror's text byte for byte."""
    spec = registry.REGISTRY["linux-c"]
    mirror = corpora.locate(spec.files["all"])
    if mirror is None:
        pytest.skip("no linux-c mirror in RNNLM_DATA")
    data, at = mirror.read_bytes(), 0
    for part in registry.pinned_parts("linux-c", spec.files["all"].url):
        assert part.check(data[at: at + part.size]) == "", part.path
        at += part.size
    assert at == len(data) and part.url.endswith("/mt76/" + "59676919ea408b0b13a9d23f2e2e1a1ab"
                                                  "407fba1/wed.c")


def test_lecture_generator_corpora_by_name() -> None:
    latex = load_corpus("latex")
    assert latex.official_splits() == ["train", "val"]
    assert latex.texts["val"].startswith("\\input{preamble}") and "schemes" in latex.texts["val"]
    assert len(latex.texts["train"]) == 3966694
    assert load_corpus("linux-c").texts["all"].startswith("// SPDX-License-Identifier")
    assert len(load_corpus("arxiv").texts["all"].splitlines()) == 8999
    assert registry.corpus_documents(["arxiv"]) == registry.corpus_documents(["arxiv-nn"]) \
        == "lines"
    assert registry.corpus_documents(["shakespeare"]) is None


def test_no_download_and_not_mirrored(online: Path) -> None:
    with pytest.raises(RnnlmError, match="'arxiv' has no public download.*RNNLM_DATA"):
        load_corpus("arxiv")
