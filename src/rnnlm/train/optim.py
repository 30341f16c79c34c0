"""Optimizers, the clipped update step, and their state as flat tensors + JSON (safetensors,
never pickle)."""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from rnnlm.config import TrainConfig


def build_optimizer(model: nn.Module, cfg: TrainConfig, device: torch.device
                    ) -> torch.optim.Optimizer:
    """The optimizer named by cfg; weight decay applies to matrices only, not biases."""
    params = [p for p in model.parameters() if p.requires_grad]
    matrices = [p for p in params if p.dim() >= 2]
    vectors = [p for p in params if p.dim() < 2]
    groups = [{"params": matrices, "weight_decay": cfg.weight_decay or 0.0},
              {"params": vectors, "weight_decay": 0.0}]
    fused = device.type in ("cpu", "cuda")
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.99), fused=fused)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr, betas=(0.9, 0.99), fused=fused)
    if cfg.optimizer == "ntasgd":  # plain SGD; train/averaging.py averages its weights
        return torch.optim.SGD(groups, lr=cfg.lr)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=0.9)
    return torch.optim.RMSprop(groups, lr=cfg.lr, alpha=0.95)


Kernel = Callable[..., None]  # torch._fused_adam_ / torch._fused_adamw_
KERNELS = {False: "_fused_adam_", True: "_fused_adamw_"}  # decoupled weight decay → name
PROBE_CLIP = 1.0  # below the probe's gradient norms (√19 and 2√19): the clip bites


def fused_step(kernel: Kernel, opt: torch.optim.Optimizer, scale: torch.Tensor) -> None:
    """One Adam step of every parameter (each with a gradient and state) through kernel, which
    divides the gradients by scale within its one pass over them."""
    states = [[opt.state[p] for p in g["params"]] for g in opt.param_groups]
    torch._foreach_add_([s["step"] for group in states for s in group], 1)
    for g, state in zip(opt.param_groups, states, strict=True):
        kernel(g["params"], [p.grad for p in g["params"]],
               [s["exp_avg"] for s in state], [s["exp_avg_sq"] for s in state], [],
               [s["step"] for s in state], lr=g["lr"], beta1=g["betas"][0],
               beta2=g["betas"][1], weight_decay=g["weight_decay"], eps=g["eps"],
               amsgrad=False, maximize=g["maximize"], grad_scale=scale, found_inf=None)


def kernel_failure(name: str, decoupled: bool) -> str | None:
    """Why torch.<name> cannot take ClippedUpdate's step (None: it can): it is missing, raises,
    or leaves a tiny parameter and its moments unlike clip_grads_with_norm_ + step() do."""
    kernel = getattr(torch, name, None)
    if kernel is None:
        return "this torch has no such function"
    runs = []
    try:
        for private in (False, True):
            p = nn.Parameter(torch.linspace(-1.0, 1.0, 6).view(2, 3))
            opt = (torch.optim.AdamW if decoupled else torch.optim.Adam)(
                [p], lr=0.1, weight_decay=0.1, fused=True)
            for step in (1, 2):  # the first creates the state, as in ClippedUpdate
                p.grad = torch.linspace(-3.0, 2.0, 6).view(2, 3) * step
                norm = torch.nn.utils.get_total_norm([p.grad])
                if private and step > 1:
                    fused_step(kernel, opt, (norm / PROBE_CLIP).clamp_(min=1.0))
                else:
                    torch.nn.utils.clip_grads_with_norm_([p], PROBE_CLIP, norm)
                    opt.step()
            runs.append([p.detach(), *(opt.state[p][k] for k in ("exp_avg", "exp_avg_sq"))])
    except Exception as err:  # any failure of the private kernel means the public path
        return f"it raised {type(err).__name__}: {(str(err).strip().splitlines() or [''])[0]}"
    if not all(torch.allclose(a, b, rtol=1e-5, atol=1e-7) for a, b in zip(*runs, strict=True)):
        return "its numbers differ from optimizer.step()'s"
    return None


@functools.cache  # once per process
def fused_kernels() -> dict[bool, Kernel]:
    """torch's private fused Adam (False) and AdamW (True) kernels, keyed by decoupled weight
    decay, each only where kernel_failure finds none; one RuntimeWarning names each left out.
    The one switch: ClippedUpdate takes the public path for any kind missing here."""
    kernels = {}
    for decoupled, name in KERNELS.items():
        reason = kernel_failure(name, decoupled)
        if reason is None:
            kernels[decoupled] = getattr(torch, name)
        else:
            warnings.warn(f"torch.{name} not used ({reason}); {'AdamW' if decoupled else 'Adam'} "
                          f"steps through clip_grads_with_norm_ and optimizer.step()",
                          RuntimeWarning, stacklevel=2)
    return kernels


def fused_kernel(optimizer: torch.optim.Optimizer) -> Kernel | None:
    """The private kernel that can take optimizer's step: fused Adam or AdamW without amsgrad,
    where fused_kernels has it; None means the public path."""
    group = optimizer.param_groups[0]
    if not (isinstance(optimizer, (torch.optim.Adam, torch.optim.AdamW)) and group.get("fused")
            and not group["amsgrad"]):
        return None
    # AdamW subclasses Adam, with this group key, only from torch 2.7 (pytorch#118857)
    decoupled = isinstance(optimizer, torch.optim.AdamW) or group.get("decoupled_weight_decay")
    return fused_kernels().get(bool(decoupled))


class ClippedUpdate:
    """Clip the gradients to a global L2 norm and take the optimizer's step.

    Fused Adam/AdamW get the clip as the private kernel's grad_scale (it divides each gradient
    by it within its one pass over them, instead of a pass of its own) and the kernel is called
    directly, one call per parameter group, so none of Optimizer.step's per-call Python runs
    (hooks, state checks, grouping by device): measurably faster on small models, see
    docs/results.md. Every other step takes the public path,
    torch.nn.utils.clip_grads_with_norm_ and optimizer.step(): other optimizers, a torch whose
    kernel fails fused_kernels' probe, the first step (which creates the optimizer's state) and
    a step where a parameter has no gradient (which step() skips). The state stays the
    optimizer's own, so checkpoints save and load it as usual.
    """

    def __init__(self, optimizer: torch.optim.Optimizer, clip: float) -> None:
        self.optimizer = optimizer
        self.clip = clip or math.inf  # 0 turns clipping off
        self.params = [p for g in optimizer.param_groups for p in g["params"]]
        self.kernel = fused_kernel(optimizer)

    def zero_grad(self) -> None:
        """Drop the gradients (set_to_none), before the next backward."""
        for p in self.params:
            p.grad = None

    def __call__(self) -> torch.Tensor:
        """Clip and step; returns the gradients' global L2 norm before clipping."""
        grads = [p.grad for p in self.params if p.grad is not None]
        norm = torch.nn.utils.get_total_norm(grads, foreach=True)
        opt = self.optimizer
        if self.kernel is None or len(grads) < len(self.params) \
                or len(opt.state) < len(self.params):
            torch.nn.utils.clip_grads_with_norm_(self.params, self.clip, norm, foreach=True)
            opt.step()
            return norm
        fused_step(self.kernel, opt, (norm / self.clip).clamp_(min=1.0))  # grads/scale: ≤ clip
        return norm


def optimizer_state(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split opt.state_dict() into tensors and a JSON-able rest."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for index, entry in sd["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"optim.{index}.{key}"] = value
            else:
                scalars[f"{index}.{key}"] = value
    groups = [{k: float(v) if torch.is_tensor(v) else v for k, v in g.items()}
              for g in sd["param_groups"]]  # a CUDA-graphed run's lr is a device tensor
    return tensors, {"param_groups": groups, "scalars": scalars}


def load_optimizer_state(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                         meta: dict[str, Any]) -> None:
    """Inverse of optimizer_state."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value
    for name, value in meta["scalars"].items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
