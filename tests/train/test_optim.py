"""The clipped update: the same parameters and optimizer state as clip_grad_norm_ followed by
the optimizer's own step, whichever path it takes, and the public path wherever the private
fused kernel fails its probe."""

from collections.abc import Iterator

import pytest
import torch
from torch import nn

from rnnlm.config import TrainConfig
from rnnlm.train import optim
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


@pytest.fixture
def fresh_probe() -> Iterator[None]:
    """fused_kernels probes anew in the test, and again for the tests after it."""
    optim.fused_kernels.cache_clear()
    yield
    optim.fused_kernels.cache_clear()


@pytest.mark.parametrize("optimizer", ["adamw", "adam"])
def test_forced_public_path_takes_the_fused_kernels_steps(monkeypatch: pytest.MonkeyPatch,
                                                          optimizer: str) -> None:
    """With fused_kernels forced empty ClippedUpdate takes clip_grads_with_norm_ + step(), and
    four clipped steps leave the same weights and moments as the private kernel's."""
    cfg = TrainConfig(optimizer=optimizer, lr=1e-2, clip=0.5, weight_decay=0.1)
    fused, public = model(), model()
    fast = ClippedUpdate(build_optimizer(fused, cfg, torch.device("cpu")), 0.5)
    with monkeypatch.context() as m:
        m.setattr(optim, "fused_kernels", dict)
        slow = ClippedUpdate(build_optimizer(public, cfg, torch.device("cpu")), 0.5)
    assert fast.kernel is not None and slow.kernel is None
    for step in range(4):
        for net, update in ((fused, fast), (public, slow)):
            update.zero_grad()
            backward(net, step, scale=100.0)
        torch.testing.assert_close(fast(), norm := slow())
        assert norm > 0.5  # the clip bites
    for p, q in zip(fused.parameters(), public.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-5, atol=1e-6)
    for p, q in zip(fused.parameters(), public.parameters(), strict=True):
        ours, ref = fast.optimizer.state[p], slow.optimizer.state[q]
        for key in ("exp_avg", "exp_avg_sq", "step"):
            torch.testing.assert_close(ours[key], ref[key], rtol=1e-5, atol=1e-7)


def raising(*args: object, **kwargs: object) -> None:
    """A private kernel that fails the way a changed signature does."""
    raise RuntimeError("unexpected keyword argument 'grad_scale'")


def skipping_adamw(monkeypatch: pytest.MonkeyPatch) -> None:
    """fused_step does nothing for AdamW's kernel: its numbers differ."""
    step = optim.fused_step
    monkeypatch.setattr(optim, "fused_step", lambda kernel, opt, scale: None
                        if kernel is torch._fused_adamw_ else step(kernel, opt, scale))


BREAKAGES = {
    "missing": (lambda m: m.delattr(torch, "_fused_adamw_"), "no such function"),
    "raises": (lambda m: m.setattr(torch, "_fused_adamw_", raising), "raised RuntimeError"),
    "differs": (skipping_adamw, "numbers differ"),
}


@pytest.mark.parametrize("breakage", BREAKAGES)
@pytest.mark.usefixtures("fresh_probe")
def test_a_failing_private_kernel_leaves_the_public_path_with_one_warning(
        monkeypatch: pytest.MonkeyPatch, breakage: str) -> None:
    """torch._fused_adamw_ missing, raising or wrong at probe time: AdamW takes the public path
    (Adam keeps its kernel), with one RuntimeWarning naming the call and why, once a process."""
    breaks, reason = BREAKAGES[breakage]
    breaks(monkeypatch)
    opt = build_optimizer(model(), TrainConfig(optimizer="adamw", lr=1e-3), torch.device("cpu"))
    with pytest.warns(RuntimeWarning) as record:
        assert ClippedUpdate(opt, 1.0).kernel is None
        assert ClippedUpdate(opt, 1.0).kernel is None  # chosen once: no second warning
    assert len(record) == 1
    assert "torch._fused_adamw_" in str(record[0].message)
    assert reason in str(record[0].message)
    assert list(optim.fused_kernels()) == [False]  # Adam's kernel passed
