"""The bare PyTorch loop that `rnnlm bench` compares rnnlm's training step with: what a user
would write by hand, run in a Python process of its own as a user's script would be (rnnlm
changes process-wide settings, runtime.reuse_freed_memory, that such a script lacks). The
parent drives it over the child's stdin/stdout, one JSON line per request and per answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rnnlm.bench.machine import LocalStep
from rnnlm.runtime import autocast

EMBEDDING = 128  # the default embedding size


@dataclass(frozen=True)
class Shape:
    """One benchmarked model and batch shape."""

    cell: str
    layers: int
    hidden: int
    batch: int
    seq_len: int


class BareLM(nn.Module):
    """What a user would write by hand: embedding → nn.LSTM/GRU/RNN → linear head."""

    def __init__(self, shape: Shape, vocab: int) -> None:
        super().__init__()
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[shape.cell]
        self.embed = nn.Embedding(vocab, EMBEDDING)
        self.rnn = rnn(EMBEDDING, shape.hidden, shape.layers, batch_first=True)
        self.head = nn.Linear(shape.hidden, vocab)

    def forward(self, ids: torch.Tensor, state: object) -> tuple[torch.Tensor, object]:
        """Logits (B, T, V) and the final state."""
        out, state = self.rnn(self.embed(ids), state)  # (B, T, H)
        return self.head(out), state


def bare_step(shape: Shape, vocab: int, device: torch.device, precision: str
              ) -> Callable[[], None]:
    """One step of the bare loop: forward, cross-entropy, backward, fused AdamW; the state is
    carried and detached like rnnlm's truncated BPTT."""
    model = BareLM(shape, vocab).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=device.type in ("cpu", "cuda"))
    x = torch.randint(vocab, (shape.batch, shape.seq_len), device=device)
    y = torch.randint(vocab, (shape.batch, shape.seq_len), device=device)
    carried: list[object] = [None]

    def step() -> None:
        with autocast(device, precision):
            logits, state = model(x, carried[0])
        carried[0] = tuple(s.detach() for s in state) if isinstance(state, tuple) \
            else state.detach()
        loss = F.cross_entropy(logits.float().flatten(0, 1), y.flatten())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


class BareProcess:
    """The bare loop in a child process (started once, reused for every shape): build a
    shape's step, warm it (peak MiB), time rounds of it (steps/s)."""

    def __init__(self) -> None:
        package_root = str(Path(__file__).resolve().parents[2])  # where `rnnlm` imports from
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        self.child = subprocess.Popen([sys.executable, "-m", "rnnlm.bench.bare"], env=env,
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ask(self, op: str, **args: Any) -> Any:
        """Send one request and wait for its answer; a failure in the child is raised here."""
        assert self.child.stdin and self.child.stdout
        self.child.stdin.write(json.dumps({"op": op, **args}) + "\n")
        self.child.stdin.flush()
        line = self.child.stdout.readline()
        if not line:
            raise RuntimeError(f"the bare loop's process exited ({self.child.wait()})")
        answer = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"the bare loop's process failed:\n{answer['error']}")
        return answer["value"]

    def build(self, shape: Shape, vocab: int, device: torch.device, precision: str
              ) -> BareProcess:
        """Make the child's step the bare loop of this shape (the same thread count as here)."""
        self.ask("build", shape=asdict(shape), vocab=vocab, device=str(device),
                 precision=precision, threads=torch.get_num_threads())
        return self

    def warm(self) -> float:
        """Two untimed steps in the child; the peak MiB they allocate."""
        return self.ask("warm")

    def rate(self, seconds: float) -> float:
        """Steps/s over one round of about `seconds` in the child."""
        return self.ask("rate", seconds=seconds)

    def __enter__(self) -> BareProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop the child: end of input ends its loop."""
        if self.child.stdin:
            self.child.stdin.close()
        self.child.wait(timeout=60)


def serve() -> None:
    """The child's loop: one JSON request per stdin line, one JSON answer per stdout line."""
    channel = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything else printed goes to stderr, never into the answers
    step: LocalStep | None = None
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if request["op"] == "build":
                torch.set_num_threads(request["threads"])
                device = torch.device(request["device"])
                step = LocalStep(bare_step(Shape(**request["shape"]), request["vocab"], device,
                                           request["precision"]), device)
                value = None
            elif request["op"] == "warm":
                value = step.warm()
            else:
                value = step.rate(request["seconds"])
            channel.write(json.dumps({"value": value}) + "\n")
        except Exception:  # reported to the parent, which raises it
            channel.write(json.dumps({"error": traceback.format_exc()}) + "\n")
        channel.flush()


if __name__ == "__main__":
    serve()
