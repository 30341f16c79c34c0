"""The command-line verbs as library functions (each prints what its command prints), and the
options several verbs share, declared once so the same word means the same thing in each."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from rnnlm.config import CHECKPOINTS, DEVICES, SPLITS
from rnnlm.options import DOCUMENT_FORMATS, Arg, unescape

Run = Annotated[str | Path, Arg("run directory or checkpoint directory")]
NgramModel = Annotated[str | Path, Arg("the n-gram model", metavar="MODEL.arpa")]
Device = Annotated[str, Arg("where to run", choices=DEVICES)]
Checkpoint = Annotated[str, Arg("which checkpoint of a run", choices=CHECKPOINTS)]
TextFile = Annotated[str | Path | None, Arg("a text file to score whole (or split with --split)")]
CorpusName = Annotated[str | None, Arg("a registered corpus or path (default: the model's own)")]
Split = Annotated[str | None, Arg("part to score (default: val of a corpus, all of --text)",
                                  choices=SPLITS)]
Documents = Annotated[str | None, Arg(
    f"documents-mode models: how the text splits into documents ({DOCUMENT_FORMATS}; default: "
    f"the model's own); each scored from a zero state", metavar="FORMAT")]
Prime = Annotated[str, Arg(r"text to start from (\n for newline)", parse=unescape)]
Seed = Annotated[int | None, Arg("random seed (default: fresh)")]
