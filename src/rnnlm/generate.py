"""`rnnlm sample`: stream text from a trained model, primed in one forward call."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

from rnnlm.language_model import LanguageModel
from rnnlm.sampling import Sampling


def sample(run: str | Path, prime: str = "", length: int = 500, temperature: float = 0.8,
           top_k: int | None = None, top_p: float | None = None, greedy: bool = False,
           num: int = 1, seed: int | None = None, stop: str | None = None,
           checkpoint: str = "best", device: str = "auto",
           out: TextIO | None = None) -> list[str]:
    """Write prime + continuation to `out` as it is made (one stream) or stream by stream."""
    out = out or sys.stdout
    lm = LanguageModel.load(run, device=device, which=checkpoint)
    sampling = Sampling(temperature, top_k, top_p, greedy)
    texts = [""] * num
    if num == 1:
        out.write(prime)
    for pieces in lm.generate(prime, length, num, sampling, seed, stop):
        texts = [t + p for t, p in zip(texts, pieces, strict=True)]
        if num == 1:
            out.write(pieces[0])
            out.flush()
    if num == 1:
        out.write("\n")
    else:
        for i, text in enumerate(texts, 1):
            out.write(f"--- sample {i}/{num} ---\n{prime}{text}\n")
    out.flush()
    return texts
