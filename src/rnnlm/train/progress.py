"""The live progress bar of training (tqdm) and the plain lines printed at each evaluation."""

from __future__ import annotations

from tqdm import tqdm


def fmt_duration(seconds: float) -> str:
    """1h02m03s / 4m05s / 7s."""
    s = int(seconds)
    h, m, s = s // 3600, s // 60 % 60, s % 60
    return f"{h}h{m:02d}m{s:02d}s" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


class Progress:
    """A bar over steps (--max-steps) or seconds (--max-time) with loss, val bpc, tok/s, lr."""

    def __init__(self, max_steps: int | None, max_time: float | None, step: int,
                 elapsed: float) -> None:
        self.by_steps = max_steps is not None
        total = max_steps if self.by_steps else int(max_time or 0)
        self.bar = tqdm(total=total, initial=step if self.by_steps else int(elapsed),
                        unit="step" if self.by_steps else "s", dynamic_ncols=True,
                        disable=None, leave=False,
                        bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} "
                                   "[{elapsed}<{remaining}] {postfix}")
        self.val_bpc: float | None = None

    def update(self, step: int, elapsed: float, loss_bits: float, tokens_per_s: float,
               lr: float) -> None:
        """Refresh the bar."""
        self.bar.n = step if self.by_steps else min(int(elapsed), self.bar.total)
        val = f"{self.val_bpc:.3f}" if self.val_bpc is not None else "–"
        self.bar.set_postfix_str(f"step {step} | train {loss_bits:.3f} bits/tok | val {val} bpc "
                                 f"| {tokens_per_s / 1000:.1f}k tok/s | lr {lr:.2e}",
                                 refresh=True)

    def write(self, line: str) -> None:
        """Print a line above the bar (or plainly when there is no terminal)."""
        self.bar.write(line)

    def close(self) -> None:
        """Remove the bar."""
        self.bar.close()
