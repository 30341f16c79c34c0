"""Sample text from a model exported by `rnnlm export RUN --format onnx`, without PyTorch or
rnnlm: numpy, onnxruntime and the files of the export folder (and the `tokenizers` library
to prime a bpe or unigram model).

    python examples/onnx_sample.py runs/shakespeare/onnx --prime "ROMEO:" --length 300 \
        --temperature 0.8 --seed 1 [--num 3]

The prime is read in one call of sequence.onnx; every new token is one call of step.onnx for
all streams together. Tokens are drawn from softmax(logits / temperature), never an id the
sidecar lists in never_sample; a documents-mode model starts each stream at its BOD id and
stops it at EOD.
"""

from __future__ import annotations

import argparse
import codecs
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

DTYPES = {"float32": np.float32, "int64": np.int64}


def load(folder: Path) -> tuple[dict[str, Any], ort.InferenceSession, ort.InferenceSession]:
    """The sidecar and the step and sequence sessions of an export folder."""
    meta = json.loads((folder / "rnnlm.json").read_text(encoding="utf-8"))
    if meta.get("format") != "rnnlm-onnx" or meta.get("version") != 1:
        sys.exit(f"error: {folder} is not an rnnlm ONNX export (version 1)")
    files = meta["files"]
    return (meta, ort.InferenceSession(str(folder / files["step"])),
            ort.InferenceSession(str(folder / files["sequence"])))


def encode(meta: dict[str, Any], folder: Path, prime: str) -> list[int]:
    """The prime's ids, as the model's tokenizer reads it."""
    tok = meta["tokenizer"]
    if not prime:
        return []
    never = set(meta["never_sample"])
    pieces = {bytes.fromhex(h): i for i, h in enumerate(tok["token_bytes_hex"])
              if h and i not in never}
    if tok["prime_encoder"] == "characters":
        unknown = sorted({c for c in prime if c.encode() not in pieces})
        if unknown:
            sys.exit(f"error: the prime has characters outside the vocabulary: {unknown}")
        return [pieces[c.encode()] for c in prime]
    if tok["prime_encoder"] == "bytes":
        return [pieces[bytes([b])] for b in prime.encode()]
    if tok["prime_encoder"] == "huggingface":
        from tokenizers import Tokenizer  # only needed for bpe and unigram primes

        saved = json.loads((folder / meta["files"]["tokenizer"]).read_text(encoding="utf-8"))
        return Tokenizer.from_str(saved["huggingface"]).encode(prime).ids
    sys.exit(f"error: a {tok['kind']} model's prime needs rnnlm's tokenizer; sample without "
             f"--prime or with `rnnlm sample`")


def first_ids(meta: dict[str, Any], folder: Path, prime: str) -> list[int]:
    """What the model reads before its first draw: BOD and the prime for a documents-mode
    model, else the prime, or the sidecar's start ids when there is none."""
    ids = encode(meta, folder, prime)
    if meta["documents"]:
        return [meta["documents"]["bod"], *ids]
    return ids or meta["start_ids"]


def draw(logits: np.ndarray, never: np.ndarray, temperature: float,
         rng: np.random.Generator) -> np.ndarray:
    """One id per row of logits (B, V) from softmax(logits / temperature), banned ids never."""
    scores = logits.astype(np.float64) / temperature
    scores[:, never] = -np.inf
    gumbel = -np.log(-np.log(rng.uniform(np.finfo(np.float64).tiny, 1.0, scores.shape)))
    return np.argmax(scores + gumbel, axis=1)  # Gumbel-max: an exact softmax sample


def sample(folder: Path, prime: str, length: int, temperature: float, seed: int | None,
           num: int) -> list[str]:
    """`num` continuations of the prime, `length` tokens at most each."""
    meta, step, sequence = load(folder)
    names = [s["name"] for s in meta["state"]]
    zeros = [np.zeros([1 if d == "batch" else d for d in s["shape"]], DTYPES[s["dtype"]])
             for s in meta["state"]]
    ids = np.array([first_ids(meta, folder, prime)], dtype=np.int64)  # (1, P)
    logits, *state = sequence.run(None, {"ids": ids, **dict(zip(names, zeros, strict=True))})
    last = np.repeat(logits[:, -1], num, axis=0)  # (num, V)
    state = [np.repeat(s, num, axis=1) for s in state]  # batch is dimension 1 of every state
    never = np.array(meta["never_sample"], dtype=np.int64)
    eod = meta["documents"]["eod"] if meta["documents"] else None
    pieces = [bytes.fromhex(h) for h in meta["tokenizer"]["token_bytes_hex"]]
    decoders = [codecs.getincrementaldecoder("utf-8")(errors="replace") for _ in range(num)]
    texts, done = [""] * num, np.zeros(num, dtype=bool)
    rng = np.random.default_rng(seed)
    for _ in range(length):
        new = draw(last, never, temperature, rng)  # (num,)
        for i, token in enumerate(new.tolist()):
            if not done[i]:
                done[i] = token == eod
                texts[i] += "" if done[i] else decoders[i].decode(pieces[token])
        if done.all():
            break
        last, *state = step.run(None, {"ids": new, **dict(zip(names, state, strict=True))})
    return texts


def main() -> None:
    """Parse the options, sample, print each text after its prime."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="the folder `rnnlm export` wrote")
    ap.add_argument("--prime", default="", help="text to start from")
    ap.add_argument("--length", type=int, default=300, help="tokens to generate per sample")
    ap.add_argument("--temperature", type=float, default=0.8, help="divides the logits")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: fresh)")
    ap.add_argument("--num", type=int, default=1, help="independent samples")
    args = ap.parse_args()
    if not args.temperature > 0 or args.length < 1 or args.num < 1:
        ap.error("--temperature must be > 0, --length and --num at least 1")
    for i, text in enumerate(sample(args.folder, args.prime, args.length, args.temperature,
                                    args.seed, args.num), 1):
        if args.num > 1:
            print(f"--- sample {i}/{args.num} ---")
        print(args.prime + text)


if __name__ == "__main__":
    main()
