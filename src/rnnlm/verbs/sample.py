"""`rnnlm sample`: stream text from a trained model, primed in one forward call."""

from __future__ import annotations

import sys
from typing import Annotated, TextIO

from rnnlm.errors import RnnlmError
from rnnlm.inference.sampling import Sampling
from rnnlm.language_model import LanguageModel
from rnnlm.options import Arg, unescape
from rnnlm.verbs import Checkpoint, Device, Prime, Run, Seed

DOCUMENT_CAP = 10_000  # default --length (tokens) of a whole document


def sample(run: Run, *, prime: Prime = "",
           length: Annotated[int | None, Arg(
               "tokens to generate (characters, bytes, words or subwords, as the model's "
               f"--tokenizer; default 500, a whole document up to {DOCUMENT_CAP:,})")] = None,
           temperature: Annotated[float, Arg("divides the logits")] = 0.8,
           top_k: Annotated[int | None, Arg("sample among the k most likely tokens")] = None,
           top_p: Annotated[float | None, Arg("sample from the smallest set with this mass")
                            ] = None,
           greedy: Annotated[bool, Arg("always the most likely token")] = False,
           num: Annotated[int, Arg("independent samples")] = 1,
           seed: Seed = None,
           stop: Annotated[str | None, Arg(r"stop a sample once it ends with this text (\n "
                                           r"allowed)", parse=unescape)] = None,
           documents: Annotated[int | None, Arg(
               "documents-mode runs: N whole documents, each to its end token",
               metavar="N")] = None,
           checkpoint: Checkpoint = "best", device: Device = "auto",
           out: TextIO | None = None) -> list[str]:
    """Generate text from a trained model, written to `out` as it is made.

    One stream is written as it comes (prime first); several are written one after another.
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
    parts: list[list[str]] = [[] for _ in range(num)]
    if num == 1:
        out.write(prime)
    for pieces in lm.generate(prime, length, num, Sampling(temperature, top_k, top_p, greedy),
                              seed, stop):
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
