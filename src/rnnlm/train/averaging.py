"""NT-ASGD (Merity et al. 2018, AWD-LSTM): plain SGD that, once validation stalls, keeps a
running average of the weights, which is from then on what is validated, checkpointed and
used (the raw weights are what SGD keeps training).

The trigger is AWD-LSTM's: a validation loss worse than the best of the evaluations more than
--nonmono evaluations before it. The average starts with the weights of that evaluation and
takes in the weights after every later step, all alike (torch.optim.swa_utils.AveragedModel).
Once averaging began, a checkpoint's model.safetensors holds the average; last/ also keeps the
raw weights (trainer.safetensors, RAW + name) and state.json the step averaging began at, the
losses the trigger saw and how many weights were averaged, so that a resumed run is exact.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

RAW = "averaging.raw."  # trainer.safetensors keys of the raw weights, by parameter name


class Averaging:
    """NT-ASGD's trigger and running average of `model`'s weights; nonmono None (any other
    optimizer): it never averages, and swapping is a no-op."""

    def __init__(self, model: nn.Module, nonmono: int | None) -> None:
        self.model, self.nonmono = model, nonmono
        self.history: list[float] = []  # validation losses (nats per token) before the switch
        self.began: int | None = None  # the step averaging began at
        self.average: AveragedModel | None = None
        self._raw: list[torch.Tensor] | None = None  # the model's own weights while swapped

    def observe(self, val_loss: float, step: int) -> bool:
        """Take a validation loss (nats per token) at `step`; True when averaging begins."""
        if self.nonmono is None or self.began is not None:
            return False
        n = self.nonmono
        stalled = len(self.history) > n and val_loss > min(self.history[:-n])
        self.history.append(val_loss)
        if stalled:
            self.began = step
            self.average = AveragedModel(self.model, use_buffers=False)
            self.average.update_parameters(self.model)  # the average's first weights
        return stalled

    def news(self) -> str:
        """The line the progress output prints when averaging begins."""
        return (f"NT-ASGD: validation is worse than the best of the evaluations before the "
                f"last {self.nonmono}; averaging the weights from here on (validation and "
                f"checkpoints use the average)")

    def update(self) -> None:
        """After an optimizer step: the new weights join the average, once it began."""
        if self.average is not None:
            self.average.update_parameters(self.model)

    @contextmanager
    def swapped(self) -> Iterator[None]:
        """Within: the model holds the average (once begun; re-entrant); after: its own."""
        if self.average is None or self._raw is not None:
            yield
            return
        params = list(self.model.parameters())
        self._raw = [p.detach().clone() for p in params]
        with torch.no_grad():
            for p, a in zip(params, self.average.parameters(), strict=True):
                p.copy_(a)
        try:
            yield
        finally:
            with torch.no_grad():
                for p, r in zip(params, self._raw, strict=True):
                    p.copy_(r)
            self._raw = None

    def state(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        """What last/ keeps: the raw weights once averaging began, and the trigger's state."""
        meta = {"began": self.began, "history": self.history,
                "averaged": int(self.average.n_averaged) if self.average is not None else 0}
        if self.average is None:
            return {}, meta
        names = [name for name, _ in self.model.named_parameters()]
        raw = self._raw or [p.detach() for p in self.model.parameters()]
        return {RAW + name: w for name, w in zip(names, raw, strict=True)}, meta

    def load(self, meta: dict[str, Any] | None, tensors: dict[str, torch.Tensor]) -> None:
        """Continue from a checkpoint (None: one of another optimizer) whose model weights,
        already loaded into the model, are the average once averaging began."""
        if meta is None:
            return
        self.began, self.history = meta["began"], list(meta["history"])
        if self.began is None:
            return
        self.average = AveragedModel(self.model, use_buffers=False)  # the loaded average
        self.average.n_averaged.fill_(meta["averaged"])
        with torch.no_grad():
            for name, p in self.model.named_parameters():
                p.copy_(tensors[RAW + name])
