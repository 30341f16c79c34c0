"""Memory and time against corpus size: `rnnlm corpus prepare` (time, peak RSS, MB/s) and
then a short `rnnlm train` (peak RSS) on the prepared ids, for corpora of 10 MB, 100 MB and
1 GB, char and bpe tokenizers, stream and documents (`lines`) mode.

    RNNLM_DATA=../shared/data PYTHONPATH=src python benchmarks/corpus_scale.py \
        [--sizes 10,100,1000] [--modes stream,documents] [--tokenizers char,bpe] \
        [--out runs/corpus-scale] [--steps 20]

The corpora are the same share of each shared text corpus (prose, abstracts, Penn Treebank,
WikiText, C, LaTeX), repeated to each size, written to OUT and deleted afterwards with
their prepared ids (a private RNNLM_HOME). Every command runs alone under /usr/bin/time -v.
Each corpus ends with the same 200 kB of that mix, its validation split in both modes,
so the validation pass (windowed, like training) costs the same at every size.
Writes OUT/corpus-scale.json and, with matplotlib, OUT/corpus-scale.png.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rnnlm.data.documents import documents_in

SOURCES = ("tiny-shakespeare/input.txt", "arxiv-abstracts/abstracts.txt",
           "penn-treebank/ptb.train.txt", "wikitext-2/wiki.valid.tokens",
           "latex-stacks-project", "c-code-mt76")
MB = 1_000_000
VAL_BYTES = 200_000  # held out at every size, so each run's validation pass costs the same


def source_texts(data: Path) -> list[str]:
    """Each shared corpus's text (files of folders in sorted order), ending with a newline."""
    texts = []
    for name in SOURCES:
        path = data / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        text = "".join(f.read_text(encoding="utf-8", errors="ignore").replace("\x00", "")
                       for f in files if f.name != "README.md")
        texts.append(text if text.endswith("\n") else text + "\n")
    return texts


def mixture(texts: list[str], share: float) -> str:
    """The same share of every source (each cut at a line end), concatenated: any size of
    corpus has the same mix of prose, abstracts, Penn Treebank, WikiText, LaTeX and C."""
    parts = []
    for text in texts:
        cut = text[: round(len(text) * share)]
        parts.append(cut[: cut.rfind("\n") + 1])
    return "".join(parts)


def write_corpus(path: Path, texts: list[str], megabytes: int) -> tuple[float, float]:
    """About `megabytes` MB of the sources' mixture (repeated where it is smaller), ending
    with the same validation text at every size; the validation fraction of its characters
    and of its `lines` documents."""
    base = "".join(texts)
    val = mixture(texts, VAL_BYTES / len(base.encode("utf-8")))
    body_chars = megabytes * MB * len(base) // len(base.encode("utf-8")) - len(val)
    repeats, rest = divmod(body_chars, len(base))
    tail = mixture(texts, rest / len(base))
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(repeats):
            f.write(base)
        f.write(tail + val)
    chars = repeats * len(base) + len(tail) + len(val)
    docs = [len(documents_in(t, "lines", "corpus")) for t in (base, tail, val)]
    total_docs = repeats * docs[0] + docs[1] + docs[2]
    # split_points holds out the last int(n * f) documents: f a half document under val's
    return len(val) / chars, (docs[2] - 0.5) / total_docs


def timed(args: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run `rnnlm ARGS` under /usr/bin/time -v: wall seconds and peak RSS (GB)."""
    print("$ rnnlm " + " ".join(args), file=sys.stderr, flush=True)
    start = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-m", "rnnlm", *args],
                          env=env, text=True, capture_output=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"rnnlm {' '.join(args)} failed:\n{done.stderr[-2000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)[1])
    return {"seconds": round(seconds, 2), "peak_rss_gb": round(rss / 1024 / 1024, 3)}


def measure(corpus: Path, tokenizer: str, mode: str, val: float, steps: int, home: Path
            ) -> dict:
    """Prepare then train one configuration (val: its validation fraction); its figures."""
    env = {**os.environ, "RNNLM_HOME": str(home), "RNNLM_OFFLINE": "1"}
    options = ["--tokenizer", tokenizer, "--val-fraction", f"{val:.9f}"]
    if mode == "documents":
        options += ["--documents", "lines"]
    prep = timed(["corpus", "prepare", str(corpus), *options], env)
    run = home / f"run-{tokenizer}-{mode}"
    train = timed(["train", str(corpus), *options, "--max-steps", str(steps), "--eval-every",
                   str(steps), "--sample-length", "0", "--device", "cpu", "--out", str(run)],
                  env)
    mb = corpus.stat().st_size / MB
    return {"megabytes": round(mb), "tokenizer": tokenizer, "mode": mode,
            "prepare_seconds": prep["seconds"], "prepare_peak_rss_gb": prep["peak_rss_gb"],
            "prepare_mb_per_s": round(mb / prep["seconds"], 2),
            "train_seconds": train["seconds"], "train_peak_rss_gb": train["peak_rss_gb"]}


def plot(rows: list[dict], path: Path) -> None:
    """Peak RSS of preparing and of training against corpus size, one line per setting."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, key, title in ((axes[0], "prepare_peak_rss_gb", "rnnlm corpus prepare"),
                           (axes[1], "train_peak_rss_gb", "rnnlm train (short run)")):
        for setting in sorted({(r["tokenizer"], r["mode"]) for r in rows}):
            got = [r for r in rows if (r["tokenizer"], r["mode"]) == setting]
            ax.plot([r["megabytes"] for r in got], [r[key] for r in got], marker="o",
                    label=f"{setting[0]}, {setting[1]}")
        ax.set(xscale="log", xlabel="corpus (MB of UTF-8 text)", title=title)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("peak RSS (GB)")
    axes[1].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    """Every size × tokenizer × mode, one command at a time."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10,100,1000", help="corpus sizes in MB")
    ap.add_argument("--out", default="runs/corpus-scale")
    ap.add_argument("--steps", type=int, default=20, help="training steps per run")
    ap.add_argument("--modes", default="stream,documents", help="stream, documents or both")
    ap.add_argument("--tokenizers", default="char,bpe", help="char, bpe or both")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    texts = source_texts(Path(os.environ.get("RNNLM_DATA", "../shared/data")))
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        with tempfile.TemporaryDirectory(dir=out) as tmp:
            corpus = Path(tmp) / f"corpus-{size}mb.txt"
            fractions = dict(zip(("stream", "documents"), write_corpus(corpus, texts, size),
                                 strict=True))
            for tokenizer in args.tokenizers.split(","):
                for mode in args.modes.split(","):
                    rows.append(measure(corpus, tokenizer, mode, fractions[mode], args.steps,
                                        Path(tmp) / "home"))
                    print(json.dumps(rows[-1]), flush=True)
                    (out / "corpus-scale.json").write_text(json.dumps(rows, indent=1) + "\n")
            shutil.rmtree(Path(tmp) / "home", ignore_errors=True)
    try:
        plot(rows, out / "corpus-scale.png")
    except ImportError:
        print("matplotlib is not installed (pip install 'rnnlm[plot]'); no plot drawn")


if __name__ == "__main__":
    main()
