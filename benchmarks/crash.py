"""Crash-proof runs: a training run killed with kill -9 at random moments and resumed after
each ends with the same weights as an uninterrupted run.

    RNNLM_DATA=../shared/data PYTHONPATH=src python benchmarks/crash.py [--kills 10]
        [--mode stream|documents] [--steps 150] [--eval-every 5] [--seed 0] [--threads 1]
        [--out DIR]

Trains the uninterrupted run, then the same command killed --kills times (aims: one `early`,
then `write` and `between` alternating, each at a random moment; see rnnlm.bench.crash) and
resumed after each, then resumed to the end. Prints one JSON line per kill and a summary with
the largest weight difference, how many kills landed inside a checkpoint write, and the command.
Each training process runs --threads threads (OMP_NUM_THREADS).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

from rnnlm.bench.crash import AIMS, killed_run, logged_steps, max_difference
from rnnlm.data.corpora import mirror_dirs


def command(corpus: Path, run: Path, mode: str, steps: int, eval_every: int) -> list[str]:
    """The training command: a small LSTM with dropout, so the RNG state matters."""
    docs = ["--documents", "lines", "--chunk", "64", "--val-fraction", "0.05"] \
        if mode == "documents" else []
    return [sys.executable, "-m", "rnnlm", "train", str(corpus), "--out", str(run), *docs,
            "--layers", "2", "--hidden", "128", "--embedding", "16", "--dropout", "0.2",
            "--batch-size", "8", "--seq-len", "32", "--eval-every", str(eval_every),
            "--sample-length", "20", "--max-steps", str(steps), "--warmup-steps", "5",
            "--precision", "fp32", "--device", "cpu"]


def corpus_file(mode: str, folder: Path) -> Path:
    """The first 100 kB of tiny-shakespeare (stream) or the first 300 arXiv abstracts
    (documents, one per line), from the RNNLM_DATA mirror, as a file in `folder`."""
    source = ("tiny-shakespeare/input.txt" if mode == "stream"
              else "arxiv-abstracts/abstracts.txt")
    found = next(d / source for d in mirror_dirs() if (d / source).is_file())
    text = found.read_text(encoding="utf-8")
    text = text[:100_000] if mode == "stream" else "\n".join(text.split("\n")[:300]) + "\n"
    path = folder / f"{mode}.txt"
    path.write_text(text, encoding="utf-8")
    return path


def main() -> None:
    """Train uninterrupted, train killed and resumed, compare."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--mode", choices=("stream", "documents"), default="stream")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--eval-every", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("runs/crash"))
    args = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # inherited by the training processes
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    corpus = corpus_file(args.mode, args.out)
    whole, killed = args.out / "whole", args.out / "killed"
    start = time.monotonic()
    subprocess.run(command(corpus, whole, args.mode, args.steps, args.eval_every), check=True,
                   stdout=subprocess.DEVNULL)
    cmd = command(corpus, killed, args.mode, args.steps, args.eval_every)
    aims = ["early"] + [("write", "between")[i % 2] for i in range(args.kills - 1)]
    kills = killed_run(cmd, killed, aims, random.Random(args.seed))
    for kill in kills:
        print(json.dumps({**vars(kill), "landed": kill.landed}))
    summary = {"mode": args.mode, "steps": args.steps, "eval_every": args.eval_every,
               "threads": args.threads,
               "kills": len(kills),
               **{f"landed_{where}": sum(k.landed == where for k in kills) for where in AIMS},
               "max_abs_weight_difference": max_difference(whole, killed),
               "same_logged_val_steps": logged_steps(killed) == logged_steps(whole),
               "seconds": round(time.monotonic() - start, 1), "command": " ".join(cmd[1:])}
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
