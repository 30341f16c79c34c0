"""NT-ASGD: AWD-LSTM's trigger, the running average, and training with it: the switch is
logged, checkpoints hold the average, and a resume before or after the switch is exact."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch import nn

from rnnlm.config import RunConfig
from rnnlm.train.averaging import RAW, Averaging
from rnnlm.train.trainer import Trainer, train
from tests.conftest import tiny_config
from tests.train import resume_gap

STALL_AT = 15  # with --nonmono 1 and an evaluation every 5 steps: 4.0 > min(3.0) at step 15
STALLING = {5: 3.0, 10: 2.0}  # the validation loss the trigger sees at each step; else 4.0


@pytest.fixture
def stalling(monkeypatch: pytest.MonkeyPatch) -> None:
    """The trigger sees validation losses that stall at STALL_AT (the model is scored as
    ever: best/ still follows the real losses)."""
    observe = Averaging.observe
    monkeypatch.setattr(Averaging, "observe", lambda self, loss, step:
                        observe(self, STALLING.get(step, 4.0), step))


def ntasgd_config(corpus: Path, steps: int) -> RunConfig:
    """A 1×64 LSTM trained by NT-ASGD (lr 2, clip 0.25), dropout on, evaluated every 5 steps."""
    config = tiny_config(corpus, max_steps=steps, eval_every=5, sample_length=0,
                         optimizer="ntasgd", lr=2.0, nonmono=1, warmup_steps=0)
    config.model.dropout = 0.2
    return config


def test_the_trigger_is_awd_lstms() -> None:
    """Averaging begins at the first loss worse than the best of the evaluations more than
    nonmono before it (3.1 > 3.0, the best but the last two), and only once."""
    averaging = Averaging(nn.Linear(2, 2), nonmono=2)
    began = [averaging.observe(loss, step) for step, loss
             in enumerate([5.0, 4.0, 3.0, 3.5, 3.2, 3.1, 9.0], start=1)]
    assert began == [False] * 5 + [True, False] and averaging.began == 6
    never = Averaging(nn.Linear(2, 2), nonmono=None)
    assert not any(never.observe(loss, 1) for loss in [1.0, 2.0, 3.0, 4.0])
    with never.swapped():  # nothing to swap in
        pass


def test_the_average_is_swapped_in_and_resumes() -> None:
    model = nn.Linear(3, 2)
    averaging = Averaging(model, nonmono=1)
    averaging.observe(1.0, 1)
    averaging.observe(1.0, 2)
    assert averaging.observe(2.0, 3)  # begins with the weights at step 3
    weights = [model.weight.detach().clone()]
    for _ in range(2):
        with torch.no_grad():
            model.weight.add_(torch.randn(2, 3))
        weights.append(model.weight.detach().clone())
        averaging.update()
    mean = torch.stack(weights).mean(0)
    with averaging.swapped():
        average = model.weight.detach().clone()
        torch.testing.assert_close(average, mean)
        raw, meta = averaging.state()  # the raw weights, also from within the swap
    torch.testing.assert_close(model.weight.detach(), weights[-1])
    assert meta == {"began": 3, "history": [1.0, 1.0, 2.0], "averaged": 3}
    resumed = nn.Linear(3, 2)
    resumed.load_state_dict({"weight": average, "bias": model.bias.detach()})  # the checkpoint's
    again = Averaging(resumed, nonmono=1)
    again.load(json.loads(json.dumps(meta)), raw)
    torch.testing.assert_close(resumed.weight.detach(), weights[-1])
    for averaged in (averaging, again):
        with torch.no_grad():
            averaged.model.weight.add_(1.0)
        averaged.update()
    with averaging.swapped(), again.swapped():
        torch.testing.assert_close(resumed.weight, model.weight, rtol=0, atol=0)


def test_ntasgd_switches_when_validation_stalls_and_checkpoints_the_average(
        stalling: None, shakespeare_100k: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The weights after each step from the switch on (recorded beside the trainer) average
    to last/'s model weights; last/ keeps the raw ones, and metrics.jsonl the switch."""
    after: list[dict[str, torch.Tensor]] = []  # the weights after each step
    step = Trainer.train_step

    def recorded(self: Trainer, lr: float) -> tuple[torch.Tensor, torch.Tensor]:
        out = step(self, lr)
        after.append({n: p.detach().clone() for n, p in self.model.named_parameters()})
        return out

    monkeypatch.setattr(Trainer, "train_step", recorded)
    run = train(ntasgd_config(shakespeare_100k, 22), out=tmp_path / "run")
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "averaging_from" in r] == [STALL_AT]
    state = json.loads((run / "last" / "state.json").read_text())
    assert state["averaging"]["began"] == STALL_AT and state["averaging"]["averaged"] == 8
    average, raw = (load_file(str(run / "last" / name))
                    for name in ("model.safetensors", "trainer.safetensors"))
    for name, weight in after[-1].items():
        expected = torch.stack([w[name] for w in after[STALL_AT - 1:]]).mean(0)
        torch.testing.assert_close(average[name], expected, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(raw[RAW + name], weight, rtol=0, atol=0)
    assert any(not torch.equal(average[n], w) for n, w in after[-1].items())


@pytest.mark.parametrize("stop", [10, 20])  # before the switch at 15, and after it
def test_ntasgd_resumes_exactly(stop: int, stalling: None, shakespeare_100k: Path,
                                tmp_path: Path) -> None:
    assert resume_gap(lambda steps: ntasgd_config(shakespeare_100k, steps), 30, stop,
                      tmp_path) == 0.0
