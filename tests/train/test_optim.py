"""The clipped update: the same parameters and optimizer state as clip_grad_norm_ followed by
the optimizer's own step, whichever path it takes."""

import pytest
import torch
from torch import nn

from rnnlm.config import TrainConfig
from rnnlm.train.optim import ClippedUpdate, build_optimizer


def model() -> nn.Module:
    """A small net with matrices (decayed) and vectors (not decayed)."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 4))


def backward(net: nn.Module, seed: int, scale: float) -> None:
    """Gradients of a random loss, `scale` times larger than usual (to make clipping bite)."""
    torch.manual_seed(seed)
    (net(torch.randn(32, 8)).pow(2).mean() * scale).backward()


@pytest.mark.parametrize("optimizer", ["adamw", "adam", "sgd", "rmsprop"])
@pytest.mark.parametrize("clip", [0.5, 0.0])
def test_clipped_update_matches_clip_then_step(optimizer: str, clip: float) -> None:
    """Four steps through ClippedUpdate (the fused kernel from step 2 for adam/adamw) leave the
    same weights and moments as clip_grad_norm_ + optimizer.step(), and return the norm."""
    cfg = TrainConfig(optimizer=optimizer, lr=1e-2, clip=clip, weight_decay=0.1)
    ours, ref = model(), model()
    opt_ours = build_optimizer(ours, cfg, torch.device("cpu"))
    opt_ref = build_optimizer(ref, cfg, torch.device("cpu"))
    update = ClippedUpdate(opt_ours, clip)
    if optimizer.startswith("adam"):
        assert update.kernel is not None  # the fast path is the one under test
    for step in range(4):
        update.zero_grad()
        opt_ref.zero_grad(set_to_none=True)
        backward(ours, step, scale=100.0)
        backward(ref, step, scale=100.0)
        norm_ref = torch.nn.utils.clip_grad_norm_(ref.parameters(), clip or float("inf"))
        norm = update()
        opt_ref.step()
        torch.testing.assert_close(norm, norm_ref)
        assert norm > 1.0  # the clip was active at 0.5
    for p, q in zip(ours.parameters(), ref.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    state_ours, state_ref = opt_ours.state_dict()["state"], opt_ref.state_dict()["state"]
    for i, entry in state_ref.items():
        for key, value in entry.items():
            torch.testing.assert_close(state_ours[i][key], value, rtol=1e-5, atol=1e-7)


def test_clipped_update_falls_back_when_a_parameter_has_no_gradient() -> None:
    """A parameter left out of the backward takes optimizer.step()'s path, which skips it."""
    cfg = TrainConfig(optimizer="adamw", lr=1e-2, clip=1.0)
    net = model()
    update = ClippedUpdate(build_optimizer(net, cfg, torch.device("cpu")), 1.0)
    backward(net, 0, scale=1.0)
    update()  # creates the state
    frozen = net[2].bias.detach().clone()
    update.zero_grad()
    backward(net, 1, scale=1.0)
    net[2].bias.grad = None
    update()
    torch.testing.assert_close(net[2].bias.detach(), frozen)
