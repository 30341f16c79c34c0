"""`rnnlm sample`: stream text from a trained model, primed in one forward call."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from rnnlm.errors import RnnlmError
from rnnlm.inference.sampling import Sampling
from rnnlm.language_model import LanguageModel

DOCUMENT_CAP = 10_000  # default --length (tokens) of a whole document


def sample(run: str | Path, prime: str = "", length: int | None = None,
           temperature: float = 0.8, top_k: int | None = None, top_p: float | None = None,
           greedy: bool = False, num: int = 1, seed: int | None = None,
           stop: str | None = None, documents: int | None = None, checkpoint: str = "best",
           device: str = "auto", out: TextIO | None = None) -> list[str]:
    """Write prime + continuation to `out` as it is made (one stream) or stream by stream.

    documents=N: N whole documents of a documents-mode model, each from its begin to its
    end token (or `length` tokens), primed with the start of a document if prime is given.
    """
    out = out or sys.stdout
    lm = LanguageModel.load(run, device=device, which=checkpoint)
    if documents is not None:
        if lm.boundaries is None:
            raise RnnlmError(f"--documents needs a documents-mode run, and {run} was trained "
                             f"in stream mode; use --num {documents} for independent samples")
        num = documents
    if length is None:
        length = DOCUMENT_CAP if lm.boundaries else 500
    sampling = Sampling(temperature, top_k, top_p, greedy)
    parts: list[list[str]] = [[] for _ in range(num)]
    if num == 1:
        out.write(prime)
    for pieces in lm.generate(prime, length, num, sampling, seed, stop):
        for part, piece in zip(parts, pieces, strict=True):
            part.append(piece)
        if num == 1:
            out.write(pieces[0])
            out.flush()
    texts = ["".join(part) for part in parts]
    if num == 1:
        out.write("\n")
    else:
        for i, text in enumerate(texts, 1):
            kind = "document" if lm.boundaries else "sample"
            out.write(f"--- {kind} {i}/{num} ---\n{prime}{text}\n")
    out.flush()
    return texts
