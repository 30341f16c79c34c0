"""Corpora by name or path: local mirrors (RNNLM_DATA) of the registered ones (registry.py),
a checksummed download cache (RNNLM_HOME), corpora built on this machine, and plain paths."""

from __future__ import annotations

import difflib
import hashlib
import io
import os
import sys
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from rnnlm.data.registry import REGISTRY, CorpusSpec, RemoteFile, pinned_parts, split_files
from rnnlm.data.text import read_text, split_text
from rnnlm.errors import RnnlmError
from rnnlm.fileio import write_atomic


@dataclass
class Corpus:
    """Loaded text: either one text to split by fraction, or official splits."""

    name: str
    texts: dict[str, str]
    origin: str

    def sha256(self) -> str:
        """Fingerprint of the text, stored in a run's config to notice a changed corpus."""
        h = hashlib.sha256()
        for text in self.texts.values():
            h.update(text.encode("utf-8"))
        return h.hexdigest()

    def official_splits(self) -> list[str]:
        """The splits its own files give (none for one text, split by fraction)."""
        return [] if "all" in self.texts else [s for s in ("train", "val", "test")
                                               if self.texts.get(s)]

    def splits(self, val_fraction: float, test_fraction: float = 0.0) -> dict[str, str]:
        """Train/val/test texts: the official ones, else by position (last part is held out)."""
        if "all" in self.texts:
            return split_text(self.texts["all"], val_fraction, test_fraction)
        return {s: self.texts.get(s, "") for s in ("train", "val", "test")}


def rnnlm_home() -> Path:
    """The cache root: $RNNLM_HOME, else ~/.cache/rnnlm."""
    return Path(os.environ.get("RNNLM_HOME") or Path.home() / ".cache" / "rnnlm")


def mirror_dirs() -> list[Path]:
    """Folders listed in $RNNLM_DATA (os.pathsep-separated), searched before any download."""
    return [Path(p) for p in os.environ.get("RNNLM_DATA", "").split(os.pathsep) if p]


def matches(path: Path, rf: RemoteFile) -> str:
    """'' if the file at path is rf, else what it hashes to."""
    if rf.sha256:
        digest = sha256_file(path)
        return "" if digest == rf.sha256 else f"sha256 {digest[:12]}…, expected {rf.sha256[:12]}…"
    return rf.check(path.read_bytes())


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def locate(rf: RemoteFile) -> Path | None:
    """A verified local copy of rf (mirror first, then cache), or None."""
    for root in mirror_dirs():
        p = root / rf.path
        if p.is_file():
            wrong = matches(p, rf)
            if wrong:
                raise RnnlmError(f"{p} (found via RNNLM_DATA) has {wrong}; replace it with the "
                                 f"original file, or train on it by path instead of by name")
            return p
    cached = rnnlm_home() / "corpora" / rf.path
    if cached.is_file() and not matches(cached, rf):
        return cached
    return None


def download(rf: RemoteFile, corpus: str) -> Path:
    """Download rf into the cache, verifying its sha256 before it gets its final name."""
    target = rnnlm_home() / "corpora" / rf.path
    hint = (f"set RNNLM_DATA to a folder holding {rf.path}, or connect to the network "
            f"and run `rnnlm corpus get {corpus}`")
    if os.environ.get("RNNLM_OFFLINE"):
        raise RnnlmError(f"corpus {corpus!r} is not in RNNLM_DATA or the cache and downloads are "
                         f"off (RNNLM_OFFLINE is set); {hint}")
    if not rf.url:
        raise RnnlmError(f"corpus {corpus!r} has no public download (`rnnlm corpus list` says "
                         f"what it is); set RNNLM_DATA to a folder holding {rf.path}")

    def fetch(tmp: Path) -> None:
        if rf.parts:
            data = b"".join(checked(part, fetch_bytes(part.url, part.size, corpus, hint), hint)
                            for part in pinned_parts(rf.parts, rf.url))
            tmp.write_bytes(checked(rf, data, hint))
            return
        data = fetch_bytes(rf.url, rf.size, corpus, hint)
        if rf.member:  # the archive first, then its member
            archive = RemoteFile(rf.path, rf.url, rf.archive_sha256, rf.size)
            with zipfile.ZipFile(io.BytesIO(checked(archive, data, hint))) as z:
                data = z.read(rf.member)
        tmp.write_bytes(checked(rf, data, hint))

    write_atomic(target, fetch)
    return target


def fetch_bytes(url: str, size: int, corpus: str, hint: str) -> bytes:
    """The bytes at url, with a progress bar (size: expected bytes, 0 if unknown)."""
    buffer = io.BytesIO()
    try:
        with urllib.request.urlopen(url, timeout=30) as resp, \
                tqdm(total=size or None, unit="B", unit_scale=True,
                     desc=f"download {corpus}", leave=False, disable=None) as bar:
            for chunk in iter(lambda: resp.read(1 << 16), b""):
                buffer.write(chunk)
                bar.update(len(chunk))
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        reason = getattr(e, "reason", None) or e
        raise RnnlmError(f"cannot download corpus {corpus!r} from {url} ({reason}) and "
                         f"it is not cached; {hint}") from None
    return buffer.getvalue()


def checked(rf: RemoteFile, data: bytes, hint: str) -> bytes:
    """data, if it is rf's file; else a one-line error (nothing is saved)."""
    wrong = rf.check(data)
    if wrong:
        raise RnnlmError(f"download of {rf.url} has {wrong}; it was not saved. Retry later, or "
                         f"fetch and check the file yourself and {hint.split(', or')[0]}")
    return data


def fetch_file(rf: RemoteFile, corpus: str) -> Path:
    """A verified local path for rf: mirror, cache, or a fresh download."""
    return locate(rf) or download(rf, corpus)


def availability(spec: CorpusSpec) -> str:
    """Where a registered corpus would come from right now."""
    if spec.build:
        return "built here"
    try:
        found = [locate(rf) for rf in spec.remote_files()]
    except RnnlmError:
        return "mirror has a wrong file"
    if all(found):
        return "mirror" if any(p and rnnlm_home() not in p.parents for p in found) else "cache"
    return "download"


def list_corpora() -> list[tuple[str, str, str]]:
    """(name, where it comes from now, description) for every registered corpus."""
    return [(s.name, availability(s), s.description) for s in REGISTRY.values()]


def get_corpus(name: str) -> list[Path]:
    """Fetch a registered corpus (if needed) and return its local files."""
    spec = _spec(name)
    if spec.build:
        text = spec.build()
        path = rnnlm_home() / "corpora" / f"{name}.txt"
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
        return [path]
    return [fetch_file(rf, name) for rf in spec.remote_files()]


def _spec(name: str) -> CorpusSpec:
    if name in REGISTRY:
        return REGISTRY[name]
    if os.sep in name or "." in name:
        raise RnnlmError(f"no such file or directory: {name}; check the path "
                         f"(`rnnlm corpus list` shows the registered corpus names)")
    close = difflib.get_close_matches(name, list(REGISTRY), n=1)
    guess = f"did you mean {close[0]!r}? " if close else ""
    raise RnnlmError(f"{name!r} is neither a registered corpus nor an existing path; "
                     f"{guess}`rnnlm corpus list` shows the names")


def _files_under(path: Path) -> list[Path]:
    """Every non-hidden regular file under a directory, sorted, binary files left out."""
    files = sorted(p for p in path.rglob("*")
                   if p.is_file() and not any(s.startswith(".") for s in p.relative_to(path).parts))
    text_files = [p for p in files if b"\x00" not in p.read_bytes()[:8192]]
    if len(text_files) < len(files):
        print(f"rnnlm: skipped {len(files) - len(text_files)} binary file(s) under {path}",
              file=sys.stderr)
    return text_files


@dataclass
class CorpusFiles:
    """A corpus given by paths, not yet read: its files, in the order they concatenate."""

    name: str
    files: list[Path]
    origin: str


def open_corpus(sources: list[str] | str) -> Corpus | CorpusFiles:
    """A registered name (read: registered corpora are small), or one or more file/directory
    paths (listed, not read, so a large corpus can be read in pieces: data.reading)."""
    sources = [sources] if isinstance(sources, str) else list(sources)
    if not sources:
        raise RnnlmError("no corpus given; name one (`rnnlm corpus list`) or give a text file")
    if len(sources) == 1 and not Path(sources[0]).exists():
        name = sources[0]
        spec = _spec(name)
        if spec.build:
            return Corpus(name, {"all": spec.build()}, "built from " + spec.description)
        texts = {split: "".join(read_text(fetch_file(rf, name)) for rf in split_files(group))
                 for split, group in spec.files.items()}
        if spec.transform:
            texts = {split: spec.transform(text) for split, text in texts.items()}
        return Corpus(name, texts, f"registered corpus {name!r}")
    files: list[Path] = []
    for s in sources:
        p = Path(s)
        if p.is_dir():
            files += _files_under(p)
        elif p.exists():
            files.append(p)
        else:
            raise RnnlmError(f"no such file or directory: {s}; check the path")
    if not files:
        raise RnnlmError(f"no text files under {', '.join(sources)}; give files with text")
    if not any(p.stat().st_size for p in files):
        raise RnnlmError(f"corpus {', '.join(sources)} is empty (0 characters); give text")
    return CorpusFiles(Path(sources[0]).stem or "corpus", files, ", ".join(sources))


def load_corpus(sources: list[str] | str) -> Corpus:
    """A registered name, or one or more file/directory paths (concatenated in order)."""
    corpus = open_corpus(sources)
    if isinstance(corpus, Corpus):
        return corpus
    text = "".join(read_text(p) for p in corpus.files)
    if not text:
        raise RnnlmError(f"corpus {corpus.origin} is empty (0 characters); give text")
    return Corpus(corpus.name, {"all": text}, corpus.origin)
