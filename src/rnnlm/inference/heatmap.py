"""The attention of one output over its source, drawn as a heatmap (matplotlib, the plot
extra): rows are output tokens, columns source tokens."""

from __future__ import annotations

from pathlib import Path

from rnnlm.errors import RnnlmError
from rnnlm.inference.beam import Hypothesis


def draw_attention(translator: object, source: str, hyp: Hypothesis, path: Path) -> None:
    """Write a PNG of hyp's attention weights over source's tokens."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise RnnlmError("--attention draws with matplotlib; pip install 'rnnlm[plot]'") from None
    if hyp.attention is None:
        raise RnnlmError("no attention weights were kept for this output")
    src = translator.encode([source])[0].tolist()
    columns = [translator.source_tokenizer.decode([i]) for i in src]
    rows = [translator.tokenizer.decode([i]) for i in hyp.ids] + ["</s>"]
    weights = hyp.attention[: len(rows), : len(columns)]  # (output tokens, source tokens)
    fig, ax = plt.subplots(figsize=(max(4, 0.45 * len(columns) + 2),
                                    max(3, 0.4 * len(rows) + 1.5)))
    image = ax.imshow(weights, cmap="viridis", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(columns)), [c.replace(" ", "␣") for c in columns], rotation=60,
                  ha="right")
    ax.set_yticks(range(len(rows)), [r.replace(" ", "␣") for r in rows])
    ax.set_xlabel("source tokens")
    ax.set_ylabel("output tokens")
    fig.colorbar(image, ax=ax, label="attention weight")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
