"""Training throughput on CPUs under torchrun (DDP, gloo) beside one process: a 2×256 LSTM on
tiny-shakespeare, --batch-size 32 × --seq-len 128, fp32, through the real command line.

    RNNLM_DATA=../shared/data PYTHONPATH=src flock /tmp/rnnlm-cpu.lock \
        python benchmarks/distributed.py [--steps 120] [--out runs/bench/distributed.json]

Runs, one after another: one process on one thread (the whole batch, and half of it: a
rank's share), one process on two threads, and torchrun with two processes of one thread
each. Each figure is the median of the tokens/s that metrics.jsonl logs (every second; the
first interval, which holds the warm-up, left out), and the peak RSS of the largest process
(`/usr/bin/time -v`). Two ranks that scaled perfectly would each take the half batch's step
time; the rest of a two-process step is DDP's all-reduce, the clock broadcast and the ranks
competing for the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

MODEL = ["--layers", "2", "--hidden", "256", "--embedding", "64", "--seq-len", "128",
         "--device", "cpu", "--precision", "fp32", "--sample-length", "0", "--warmup-steps",
         "10"]
CASES = {  # name → (processes, threads per process, --batch-size)
    "1 process × 1 thread, batch 32": (1, 1, 32),
    "1 process × 1 thread, batch 16 (a rank's share)": (1, 1, 16),
    "1 process × 2 threads, batch 32": (1, 2, 32),
    "torchrun: 2 processes × 1 thread, batch 32": (2, 1, 32),
}


def measure(processes: int, threads: int, batch: int, steps: int, out: Path) -> dict[str, float]:
    """tokens/s (all ranks), seconds per step and peak RSS of one run."""
    train = ["-m", "rnnlm", "train", "shakespeare", "--out", str(out), "--max-steps", str(steps),
             "--eval-every", str(steps), "--batch-size", str(batch), *MODEL]
    launch = [sys.executable] + (["-m", "torch.distributed.run", "--standalone",
                                  "--nproc_per_node", str(processes)] if processes > 1 else [])
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run(["/usr/bin/time", "-v", *launch, *train], env=env, text=True,
                          capture_output=True, check=True)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    logged = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    speeds = [x["tokens_per_s"] for x in logged if "tokens_per_s" in x][1:]
    tokens_per_s = statistics.median(speeds)
    return {"tokens_per_s": tokens_per_s, "s_per_step": batch * 128 / tokens_per_s,
            "peak_rss_mb": rss / 1024, "intervals": len(speeds)}


def main() -> None:
    """Measure every case and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--out", type=Path, default=Path("runs/bench/distributed.json"))
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, case) in enumerate(CASES.items()):
            results[name] = measure(*case, args.steps, Path(tmp) / str(i))
            print(name, results[name], flush=True)
    base = results["1 process × 1 thread, batch 32"]["tokens_per_s"]
    print("\n| run | tokens/s | s/step | × one thread | peak RSS (largest process) |")
    print("| --- | --- | --- | --- | --- |")
    for name, r in results.items():
        print(f"| {name} | {r['tokens_per_s']:,.0f} | {r['s_per_step']:.3f} | "
              f"{r['tokens_per_s'] / base:.2f} | {r['peak_rss_mb']:.0f} MB |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
