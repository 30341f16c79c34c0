"""Load on `rnnlm serve` over loopback: 1, 8, 64 and 100 concurrent streaming clients (errors,
aggregate characters/s, time to first token p50 / p99), against the in-process rate of
`rnnlm bench` (LanguageModel.sample, bench/generation.py) on the same model, measured
before the levels and again after them (the goal is against the higher of the two); then
sequential requests with the server's resident memory before and after (a leak shows).

    flock /tmp/rnnlm-cpu.lock env RNNLM_DATA=../shared/data PYTHONPATH=src \\
        python benchmarks/serve_load.py [--precision fp32] [--tokens 300] \\
        [--sequential 10000] [--out runs/bench/serve_load.json]

The model is `rnnlm bench`'s generation model, an untrained 2×512 character LSTM over
tiny-shakespeare's characters (the work per token does not depend on the weights), saved as
a run and served by `python -m rnnlm serve` in its own process; the clients (httpx, one
asyncio process) stream `max_tokens` characters each. Every level runs twice and keeps the
faster round (this machine is shared). Needs the serve and dev extras, and psutil (the
server's resident memory).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import torch

from rnnlm.bench.corpus import default_splits
from rnnlm.bench.generation import char_model, generation_speed
from rnnlm.checkpoint import save_checkpoint
from rnnlm.language_model import LanguageModel

LEVELS = (1, 8, 64, 100)


def make_run(folder: Path, precision: str) -> Path:
    """`rnnlm bench`'s 2×512 LSTM character model, saved as a run directory."""
    text = default_splits("shakespeare")["train"]
    lm = char_model("lstm", 2, 512, text, torch.device("cpu"), precision)
    lm.config.train.precision = precision
    run = folder / "bench-lstm-2x512"
    save_checkpoint(run / "best", lm.model, lm.config, lm.tokenizer, {"step": 0})
    return run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(run: Path, port: int) -> subprocess.Popen:
    """`rnnlm serve RUN` in its own process, once /health answers."""
    proc = subprocess.Popen([sys.executable, "-m", "rnnlm", "serve", str(run), "--port",
                             str(port), "--max-streams", "128", "--device", "cpu"],
                            env={**os.environ, "PYTHONPATH": "src"})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start")


async def one(client: httpx.AsyncClient, tokens: int, seed: int) -> tuple[float, int, bool]:
    """One streamed completion: (seconds to the first text, characters, whether it ended
    well: status 200, finish_reason length, [DONE])."""
    body = {"model": "bench-lstm-2x512", "prompt": "\n", "max_tokens": tokens, "stream": True,
            "seed": seed, "temperature": 1.0}
    sent = time.perf_counter()
    first, chars, done, finish = None, 0, False, None
    async with client.stream("POST", "/v1/completions", json=body) as r:
        if r.status_code != 200:
            return float("nan"), 0, False
        async for line in r.aiter_lines():
            if not line.startswith("data: "):
                continue
            data = line[6:]
            if data == "[DONE]":
                done = True
                break
            for c in json.loads(data)["choices"]:
                if c["text"] and first is None:
                    first = time.perf_counter() - sent
                chars += len(c["text"])
                finish = c["finish_reason"] or finish
    return first or float("nan"), chars, done and finish == "length"


async def level(url: str, streams: int, tokens: int) -> dict[str, float]:
    """`streams` clients at once, each streaming `tokens` characters."""
    limits = httpx.Limits(max_connections=streams + 8, max_keepalive_connections=streams + 8)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=600) as client:
        start = time.perf_counter()
        got = await asyncio.gather(*(one(client, tokens, i) for i in range(streams)),
                                   return_exceptions=True)
        wall = time.perf_counter() - start
    ok = [g for g in got if not isinstance(g, BaseException) and g[2] and g[1] == tokens]
    ttft = sorted(g[0] for g in ok)
    p99 = ttft[min(len(ttft) - 1, round(0.99 * (len(ttft) - 1)))] if ttft else float("nan")
    return {"streams": streams, "errors": streams - len(ok),
            "chars_per_s": sum(g[1] for g in ok) / wall, "wall_s": wall,
            "ttft_p50_ms": 1000 * statistics.median(ttft) if ttft else float("nan"),
            "ttft_p99_ms": 1000 * p99}


def sequential(url: str, pid: int, count: int) -> dict[str, float]:
    """`count` requests one after another (16 tokens each, every 4th streamed); the
    server's RSS after the first tenth (warm) and at the end."""
    proc = psutil.Process(pid)
    body = {"model": "bench-lstm-2x512", "prompt": "ROMEO:", "max_tokens": 16}
    warm_at, warm, peak = count // 10, 0, 0
    start = time.perf_counter()
    errors = 0
    with httpx.Client(base_url=url, timeout=60) as client:
        for i in range(count):
            if i % 4 == 3:
                with client.stream("POST", "/v1/completions",
                                   json={**body, "stream": True}) as r:
                    errors += r.status_code != 200 or "[DONE]" not in r.read().decode()
            else:
                r = client.post("/v1/completions", json=body)
                errors += r.status_code != 200 or len(r.json()["choices"][0]["text"]) != 16
            if i % 100 == 0:
                peak = max(peak, proc.memory_info().rss)
            if i + 1 == warm_at:
                warm = proc.memory_info().rss
    end = proc.memory_info().rss
    return {"requests": count, "errors": errors, "seconds": time.perf_counter() - start,
            "rss_warm_mib": warm / 2**20, "rss_end_mib": end / 2**20,
            "rss_peak_mib": max(peak, end) / 2**20, "rss_growth": end / warm - 1}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--precision", default="fp32", choices=("fp32", "bf16"))
    ap.add_argument("--tokens", type=int, default=300, help="characters per stream")
    ap.add_argument("--sequential", type=int, default=10_000)
    ap.add_argument("--folder", type=Path, default=Path("runs/bench"))
    ap.add_argument("--out", type=Path, default=Path("runs/bench/serve_load.json"))
    args = ap.parse_args()
    torch.set_num_threads(min(2, torch.get_num_threads()))
    run = make_run(args.folder, args.precision)
    lm = LanguageModel.load(run, device="cpu")
    one_stream = generation_speed(lm, 1, 2000)[0]
    many = generation_speed(lm, 64, args.tokens)[0]
    print(f"in process (rnnlm bench's LanguageModel.sample, {lm.precision}): 1 stream "
          f"{one_stream:,.0f} chars/s, 64 streams {many:,.0f} chars/s", flush=True)
    del lm
    port = free_port()
    server = start_server(run, port)
    url = f"http://127.0.0.1:{port}"
    try:
        asyncio.run(level(url, 8, 50))  # warm: Steppers of each size, connections
        rows = []
        for streams in LEVELS:
            best = max((asyncio.run(level(url, streams, args.tokens)) for _ in range(2)),
                       key=lambda r: (-r["errors"], r["chars_per_s"]))
            rows.append(best)
            print(f"{streams:>4} streams: {best['errors']} errors, "
                  f"{best['chars_per_s']:,.0f} chars/s, TTFT p50 {best['ttft_p50_ms']:.1f} ms "
                  f"p99 {best['ttft_p99_ms']:.1f} ms", flush=True)
        # the in-process rate again, with the server idle: the machine's speed drifts
        after = generation_speed(LanguageModel.load(run, device="cpu"), 64, args.tokens)[0]
        many = max(many, after)
        print(f"in process again, 64 streams {after:,.0f} chars/s; the goal is against the "
              f"higher, {many:,.0f}", flush=True)
        seq = sequential(url, server.pid, args.sequential)
        print(f"{seq['requests']:,} sequential requests: {seq['errors']} errors, "
              f"{seq['seconds']:.0f} s, RSS {seq['rss_warm_mib']:.1f} → "
              f"{seq['rss_end_mib']:.1f} MiB ({100 * seq['rss_growth']:+.2f}%)", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    by = {r["streams"]: r for r in rows}
    checks = {"x_one_stream_at_64": by[64]["chars_per_s"] / by[1]["chars_per_s"],
              "of_in_process_64": by[64]["chars_per_s"] / many}
    print(f"64 streams: {checks['x_one_stream_at_64']:.1f}× one stream (goal ≥ 5), "
          f"{100 * checks['of_in_process_64']:.0f}% of in-process 64 streams (goal ≥ 60%)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"precision": args.precision, "tokens": args.tokens,
                                    "in_process": {"1": one_stream, "64": many},
                                    "levels": rows, "sequential": seq, "checks": checks},
                                   indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
