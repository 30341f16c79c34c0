"""The stream training step of a recurrent model on a GPU, captured once as a CUDA graph and
replayed: one launch per step instead of hundreds.

A small RNN step on a GPU is bound by the CPU launching its kernels (cuDNN's RNN calls alone
take more CPU time than the GPU's work at these sizes), not by the GPU. Replaying a captured
graph launches the whole step — forward, loss, backward, clipping, fused AdamW, carrying the
state — at once. What changes between steps lives in static tensors that the graph reads:
the window (x, y), the carried state, and the learning rate (a tensor, which fused AdamW
reads on the device). Capture follows PyTorch's recipe for whole-network capture: a few
eager steps on a side stream first (they are real training steps), then one capture.
"""

from __future__ import annotations

import torch

from rnnlm.models import LanguageModelNet
from rnnlm.models.awd import forward_with_penalty
from rnnlm.models.state import State, lm_loss, map_state, parts
from rnnlm.runtime import autocast

WARMUP = 3  # eager steps on a side stream before capture (PyTorch's recipe uses a few)


def can_graph(model: LanguageModelNet, device: torch.device, stream: bool) -> bool:
    """Whether the step can be one CUDA graph: a recurrent model trained on a text stream
    (fixed shapes, carried state) on a GPU."""
    return device.type == "cuda" and stream and model.trains_with_carried_state


class GraphedStep:
    """Runs train steps for a fixed (batch, seq_len): eagerly for the first WARMUP calls,
    then as replays of the graph captured at the call after."""

    def __init__(self, model: LanguageModelNet, optimizer: torch.optim.Optimizer,
                 clip: float, precision: str, batch: int, seq_len: int,
                 device: torch.device, state: State | None = None) -> None:
        self.model, self.optimizer, self.clip, self.precision = model, optimizer, clip, precision
        self.device = device
        self.x = torch.zeros(batch, seq_len, dtype=torch.long, device=device)  # (B, T)
        self.y = torch.zeros(batch, seq_len, dtype=torch.long, device=device)  # (B, T)
        self.lr = torch.tensor(float(optimizer.param_groups[0]["lr"]), device=device)
        for group in optimizer.param_groups:  # fused AdamW reads lr on the device
            group["lr"], group["capturable"] = self.lr, True
        # the carried state the graph reads and writes (a resumed run's, or made at step 1)
        self.state: State | None = None if state is None else map_state(torch.clone, state)
        self.graph: torch.cuda.CUDAGraph | None = None
        self.out = (self.lr, self.lr)  # the graph's (loss, grad norm), once captured
        self.calls = 0
        self.side = torch.cuda.Stream(device)

    def body(self) -> tuple[torch.Tensor, torch.Tensor]:
        """One step on the static tensors; returns (loss, grad norm) as device tensors."""
        with autocast(self.device, self.precision, cache=False):  # no weight-cast cache
            logits, final, penalty = forward_with_penalty(self.model, self.model.cfg, self.x,
                                                          self.state, None, self.y)
        loss = lm_loss(logits, self.y)
        (loss + penalty).backward()  # the loss returned stays the cross-entropy alone
        params = [p for p in self.model.parameters() if p.grad is not None]
        norm = torch.nn.utils.clip_grad_norm_(params, self.clip)
        self.optimizer.step()
        if self.state is None:  # first call: the static state takes the shape of the output
            self.state = map_state(lambda s: s.detach().clone(), final)
        else:
            for dst, src in zip(parts(self.state), parts(final), strict=True):
                dst.copy_(src.detach())
        return loss.detach(), norm.detach()

    def __call__(self, x: torch.Tensor, y: torch.Tensor, lr: float, reset: bool
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimizer step on window (x, y) at learning rate lr; reset zeroes the carried
        state (an epoch starts)."""
        self.x.copy_(x)
        self.y.copy_(y)
        self.lr.fill_(lr)
        if reset and self.state is not None:
            map_state(torch.Tensor.zero_, self.state)
        self.calls += 1
        if self.calls <= WARMUP:  # eager, on a side stream, as capture wants
            self.side.wait_stream(torch.cuda.current_stream(self.device))
            with torch.cuda.stream(self.side):
                self.optimizer.zero_grad(set_to_none=True)
                out = self.body()
            torch.cuda.current_stream(self.device).wait_stream(self.side)
            return out
        if self.graph is None:
            self.optimizer.zero_grad(set_to_none=True)  # the graph owns the gradients
            self.graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(self.graph):
                self.out = self.body()
        self.graph.replay()
        return self.out

