"""`rnnlm bench --budget 2m,5m,10m`: each model family trained at its best known settings for
each wall-clock budget, scored on the validation split: language models by full-pass bits per
character, encoder–decoders (on a corpus registered as pairs) by sacreBLEU BLEU with beam 5;
written as JSON, a markdown table and a PNG plot (the score against minutes, one line per
family)."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

from rnnlm.bench.ngram_best import best_ngram
from rnnlm.config import RunConfig
from rnnlm.data.registry import REGISTRY, corpus_documents
from rnnlm.errors import RnnlmError
from rnnlm.fileio import write_atomic, write_text_atomic
from rnnlm.verbs.evaluate import evaluate

# The settings of each family: RunConfig fields by table, on top of rnnlm's defaults.
FAMILIES: dict[str, dict[str, dict[str, Any]]] = {
    "lstm": {},  # the defaults: 2×640 LSTM, batch 32 × 128, AdamW 3e-3, weight decay 0.3
    "gru": {"model": {"cell": "gru"}},
    "rnn": {"model": {"cell": "rnn", "activation": "tanh"}, "train": {"lr": 1e-3}},
    # the min-cell LMs (Feng et al. 2024): 3 blocks at about the default LSTM's 5.3M parameters
    # on a character corpus (benchmarks/mincell_speed.py solves the width), otherwise untuned
    "mingru": {"model": {"cell": "mingru", "layers": 3, "hidden": 372}},
    "minlstm": {"model": {"cell": "minlstm", "layers": 3, "hidden": 352}},
    # rnnlm's transformer: nanoGPT's shape with rnnlm's schedule (lr 2e-3, cosine to 5%), which
    # beat block 128 × batch 16, and 4×256 with block 128, batch 32, dropout 0.1, in 2-minute
    # trials (docs/results.md)
    "transformer": {
        "model": {"cell": "transformer", "layers": 4, "hidden": 128, "heads": 4, "block": 64,
                  "dropout": 0.0},
        "data": {"seq_len": 64, "batch_size": 12},
        "train": {"lr": 2e-3, "weight_decay": 0.1},
    },
    # nanoGPT's documented CPU run of shakespeare_char: block 64, batch 12, 4 layers, 4 heads,
    # 128 wide, dropout 0, lr 1e-3 decayed to 1e-4, weight decay 0.1, warmup 100
    "nanogpt": {
        "model": {"cell": "transformer", "layers": 4, "hidden": 128, "heads": 4, "block": 64,
                  "dropout": 0.0},
        "data": {"seq_len": 64, "batch_size": 12},
        "train": {"lr": 1e-3, "weight_decay": 0.1, "min_lr_ratio": 0.1},
    },
}

# The encoder–decoder families, for a corpus registered with a --pairs format: the Tatoeba
# recipe of benchmarks/tatoeba.sh, and the lecture-era baseline of the PyTorch translation
# tutorial (GRU 256, Adam 1e-3, batch 32) of benchmarks/tatoeba_baseline.sh.
PAIRS_FAMILIES: dict[str, dict[str, dict[str, Any]]] = {
    "seq2seq": {
        "model": {"cell": "lstm", "layers": 1, "hidden": 512, "embedding": 512,
                  "tie_weights": True, "dropout": 0.1},
        "data": {"tokenizer": "bpe", "vocab_size": 8000, "batch_size": 96, "val_fraction": 0.01},
        "train": {"lr": 2e-3, "weight_decay": 0.01, "warmup_steps": 200},
        "seq2seq": {"attention": "bahdanau", "label_smoothing": 0.1},
    },
    "gru256": {
        "model": {"cell": "gru", "layers": 1, "hidden": 256, "embedding": 256, "dropout": 0.1},
        "data": {"tokenizer": "bpe", "vocab_size": 8000, "batch_size": 32, "val_fraction": 0.01},
        "train": {"lr": 1e-3, "weight_decay": 0.0},
        "seq2seq": {"attention": "bahdanau", "label_smoothing": 0.0},
    },
}

# Settings that change with the budget: family → [(from this many seconds on, fields)].
# rnnlm's transformer overfits by 10 minutes without dropout (0.1 does better than 0.2 there),
# while at 5 minutes dropout costs more than it gains; the trials are in docs/results.md.
BY_BUDGET: dict[str, list[tuple[float, dict[str, dict[str, Any]]]]] = {
    "transformer": [(600.0, {"model": {"dropout": 0.1}})],
}


def pairs_format(corpus: str) -> str | None:
    """The --pairs format a registered corpus is read with (None: text for a language model)."""
    spec = REGISTRY.get(corpus)
    return spec.pairs if spec else None


def default_families(corpus: str) -> list[str]:
    """Every family that can train on the corpus: encoder–decoders on pairs, else LMs and the
    best n-gram."""
    return list(PAIRS_FAMILIES) if pairs_format(corpus) else [*FAMILIES, "ngram"]


def family_config(family: str, corpus: str, seconds: float, device: str,
                  data: dict[str, Any] | None = None) -> RunConfig:
    """The RunConfig of one family for one budget: validation only at the end, so the whole
    budget goes to training, and the score is the model the budget ends with. data: options
    given for every family (a corpus registered with documents gets them by default)."""
    pairs = pairs_format(corpus)
    families = PAIRS_FAMILIES if pairs else FAMILIES
    if family not in families:
        kind = f"the pairs corpus {corpus}" if pairs else "a language model"
        raise RnnlmError(f"unknown family {family!r} for {kind}; choose from "
                         f"{', '.join(families)}")
    config = RunConfig()
    config.seq2seq.pairs = pairs
    longer = [fields for start, fields in BY_BUDGET.get(family, []) if seconds >= start]
    for settings in (families[family], *longer):
        for table, values in copy.deepcopy(settings).items():
            for name, value in values.items():
                setattr(getattr(config, table), name, value)
    config.data.corpus = [corpus]
    implied = corpus_documents([corpus])
    if implied and not ({"mode", "documents"} & (data or {}).keys()):
        config.data.documents = implied
    for name, value in (data or {}).items():
        setattr(config.data, name, value)
    config.train.max_time = seconds
    config.train.eval_every = 10**9
    config.train.sample_length = 0
    config.train.device = device
    return config


def budget_table(budgets: list[float], corpus: str, families: list[str], out: str | Path,
                 device: str = "auto", data: dict[str, Any] | None = None
                 ) -> list[dict[str, Any]]:
    """Train (or reuse, if already done) every family × budget under out/, and count the best
    n-gram once if "ngram" is a family; then write out/budget.json, out/budget.md and
    out/budget.png; return the rows."""
    from rnnlm.train.trainer import train

    out = Path(out)
    rows = []
    for family in families:
        if family == "ngram":
            out.mkdir(parents=True, exist_ok=True)
            lm_data = family_config("lstm", corpus, budgets[0], device, data).data
            rows.append(best_ngram(corpus, dataclasses.replace(lm_data, corpus=[]), out))
            continue
        for seconds in budgets:
            config = family_config(family, corpus, seconds, device, data)
            run = out / f"{family}-{seconds / 60:g}m"
            if not (run / "best").exists():
                if run.exists():
                    raise RnnlmError(f"{run} holds an unfinished run; delete it to retrain")
                train(config, out=run)
            result = evaluate(run, split="val")  # pairs: beam 5
            state = json.loads((run / "last" / "state.json").read_text())
            m = config.model
            row = {"family": family, "minutes": seconds / 60, "cell": m.cell,
                   "layers": m.layers, "hidden": m.hidden, "steps": state["step"], "run": str(run)}
            if config.pairs:
                row["val_bleu"] = round(result.bleu, 2)
                said = f"{result.bleu:.2f} BLEU (val, beam 5"
            else:
                row["val_bits_per_char"] = round(result.bits_per_char, 4)
                said = f"{result.bits_per_char:.4f} bits/char (val, full pass"
            rows.append(row)
            print(f"{family} {seconds / 60:g} min: {said}, {state['step']:,} steps)", flush=True)
    write_text_atomic(out / "budget.json", json.dumps(rows, indent=1) + "\n")
    write_text_atomic(out / "budget.md", markdown(rows, corpus))
    plot(rows, out / "budget.png", corpus)
    print(markdown(rows, corpus) + f"\nwrote {out}/budget.json, budget.md, budget.png")
    return rows


def score(rows: list[dict[str, Any]]) -> tuple[str, str, Any, int]:
    """The rows' score: its key, its name, which of two values is better (min or max), and
    the decimals it is shown with."""
    if "val_bleu" in rows[0]:
        return "val_bleu", "val BLEU, beam 5", max, 2
    return "val_bits_per_char", "val bits/char", min, 4


def markdown(rows: list[dict[str, Any]], corpus: str) -> str:
    """Families down, budgets across, the val score in the cells; the best per budget bold."""
    grams = [r for r in rows if r["family"] == "ngram"]
    rows = [r for r in rows if r["family"] != "ngram"]
    key, name, better, digits = score(rows or grams)
    minutes = sorted({r["minutes"] for r in rows}) or [None]  # None: the n-gram alone
    families = list(dict.fromkeys(r["family"] for r in rows))
    cell = {(r["family"], r["minutes"]): r for r in rows}
    best = {m: better([r[key] for r in rows if r["minutes"] == m] + [r[key] for r in grams])
            for m in minutes}
    lines = [f"| family ({corpus}, {name}) | model | "
             + " | ".join(f"{m:g} min" if m else "any budget" for m in minutes) + " |",
             "| --- | --- |" + " ---: |" * len(minutes)]
    for f in families:
        any_row = next(r for r in rows if r["family"] == f)
        shape = f"{any_row['layers']}×{any_row['hidden']} {any_row['cell']}"
        values = []
        for m in minutes:
            r = cell.get((f, m))
            v = f"{r[key]:.{digits}f}" if r else "–"
            values.append(f"**{v}**" if r and r[key] == best[m] else v)
        lines.append(f"| {f} | {shape} | " + " | ".join(values) + " |")
    for r in grams:  # counted in seconds, whatever the budget
        built = f", built in {r['build_seconds']:g} s" if r["build_seconds"] else ""
        v = f"{r[key]:.{digits}f}"
        lines.append(f"| best n-gram | {r['order']}-gram Kneser–Ney{built} | " + " | ".join(
            f"**{v}**" if r[key] == best[m] else v for m in minutes) + " |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict[str, Any]], path: Path, corpus: str) -> None:
    """The score against minutes, one line per family (needs matplotlib: rnnlm[plot])."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"skipped {path}: the plot needs matplotlib (pip install 'rnnlm[plot]')")
        return
    key, name, _, _ = score(rows)
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for family in dict.fromkeys(r["family"] for r in rows):
        if family == "ngram":  # no budget: a level line
            r = next(r for r in rows if r["family"] == "ngram")
            ax.axhline(r[key], color="gray", linestyle="--", label=f"{r['order']}-gram KN")
            continue
        points = sorted((r["minutes"], r[key]) for r in rows if r["family"] == family)
        ax.plot(*zip(*points, strict=True), marker="o", label=family)
    ax.set_xlabel("training budget (minutes of wall-clock time)")
    ax.set_ylabel(f"{name} ({corpus})")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    write_atomic(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
