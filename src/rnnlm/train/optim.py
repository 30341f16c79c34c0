"""Optimizers, and their state as flat tensors + JSON (safetensors, never pickle)."""

from __future__ import annotations

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
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=0.9)
    return torch.optim.RMSprop(groups, lr=cfg.lr, alpha=0.95)


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
