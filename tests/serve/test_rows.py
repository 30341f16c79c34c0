"""The pieces under the scheduler: rows of states that join and leave a batch, per-row
sampling, and stop strings held back across tokens."""

from __future__ import annotations

import pytest
import torch

from rnnlm.config import ModelConfig
from rnnlm.inference.sampling import RowParams, draw_rows
from rnnlm.models.rnn import RNNLanguageModel
from rnnlm.models.transformer import TransformerLanguageModel
from rnnlm.serve.rows import ModelRows, StepperRows, prime, prime_many, rows_for
from rnnlm.serve.stops import StopText, Token


def model(cell: str) -> torch.nn.Module:
    torch.manual_seed(0)
    if cell == "transformer":
        cfg = ModelConfig(cell=cell, layers=2, hidden=16, heads=2, block=32, vocab_size=11,
                          dropout=0.0)
        return TransformerLanguageModel(cfg).eval()
    return RNNLanguageModel(ModelConfig(cell=cell, layers=2, hidden=16, embedding=8,
                                        vocab_size=11, dropout=0.0)).eval()


@pytest.mark.parametrize("cell,kind", [("lstm", StepperRows), ("gru", StepperRows),
                                       ("rnn", StepperRows), ("lstm", ModelRows),
                                       ("gru", ModelRows), ("transformer", ModelRows)])
@torch.inference_mode()
def test_rows_join_and_leave_without_changing_any_stream(cell: str, kind: type) -> None:
    """Streams primed apart, batched, some dropped and others added (the batch grows past
    4 and shrinks back): each row's logits are those of its sequence run alone."""
    m = model(cell)
    seqs = [torch.randint(1, 11, (1, 10)) for _ in range(7)]  # prompt then fed ids
    rows = kind(m, "fp32")
    alive: list[int] = []

    def join(i: int) -> None:
        rows.add(prime(m, seqs[i][:, :3], "fp32")[1], 1)
        alive.append(i)

    assert isinstance(rows_for(m, "fp32"), ModelRows if cell == "transformer" else StepperRows)
    fed = {i: 3 for i in range(7)}
    for i in range(3):
        join(i)
    for t in range(4):
        if t == 1:
            rows.keep([0, 2])  # stream 1 leaves
            alive.remove(1)
        if t == 2:
            for i in range(3, 7):
                join(i)  # 6 rows: past a batch of 4
        ids = torch.stack([seqs[i][0, fed[i]] for i in alive])
        got = rows.step(ids)  # (n, V)
        for r, i in enumerate(alive):
            fed[i] += 1
            want = m(seqs[i][:, : fed[i]])[0][0, -1]
            torch.testing.assert_close(got[r], want, atol=1e-5, rtol=1e-5)
    rows.keep([len(alive) - 1])
    assert rows.n == 1
    if kind is StepperRows:
        assert rows.capacity == 1  # shrunk back


@pytest.mark.parametrize("cell", ["lstm", "gru", "transformer"])
@pytest.mark.parametrize("budget", [1 << 24, 200])
@torch.inference_mode()
def test_prompts_primed_together_equal_each_alone(cell: str, budget: int) -> None:
    """Prompts of several lengths in one padded call (or in groups under a small budget)."""
    m = model(cell)
    prompts = [torch.randint(1, 11, (1, n)) for n in (5, 1, 9, 5)]
    for (logits, state), ids in zip(prime_many(m, prompts, "fp32", budget), prompts,
                                    strict=True):
        want_logits, want_state = prime(m, ids, "fp32")
        torch.testing.assert_close(logits, want_logits, atol=1e-5, rtol=1e-5)
        for a, b in zip(state if isinstance(state, tuple) else [state],
                        want_state if isinstance(want_state, tuple) else [want_state],
                        strict=True):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_each_row_draws_from_its_own_generator() -> None:
    logits = torch.randn(5, 50)
    p = RowParams(temperature=torch.tensor([1.0, 0.7, 1.0, 1.3, 1.0]),
                  top_k=torch.tensor([0, 5, 1, 0, 0]), top_p=torch.tensor([1, 1, 1, 0.8, 1.0]),
                  greedy=torch.tensor([False, False, False, False, True]))
    noise = torch.empty(8, 50)

    def gens(seed_of_row_one: int) -> list[torch.Generator]:
        return [torch.Generator().manual_seed(s) for s in (1, seed_of_row_one, 3, 4, 5)]

    a = draw_rows(logits, p, gens(2), noise)
    b = draw_rows(logits, p, gens(99), noise)
    assert a[0] == b[0] and a[3] == b[3]  # other rows' generators do not matter
    assert a[2] == logits[2].argmax() and a[4] == logits[4].argmax()  # top-k 1, greedy
    assert a[1] in torch.topk(logits[1], 5).indices
    alone = draw_rows(logits[3:4], RowParams(p.temperature[3:4], p.top_k[3:4], p.top_p[3:4],
                                             p.greedy[3:4]), gens(2)[3:4], noise)
    assert alone[0] == a[3]  # nor does the batch it is in


def texts(tokens: list[Token]) -> str:
    return "".join(t.text for t in tokens)


def test_stop_split_over_tokens_is_held_back_and_cut() -> None:
    s = StopText(["\n\n", "END"])
    out = []
    for piece in ["Hel", "lo E", "N", "ding", " E", "ND and more"]:
        released, stopped = s.push(Token(piece))
        out += released
        assert "END" not in texts(out)
        if stopped:
            break
    assert stopped and texts(out) == "Hello ENding "
    assert s.push(Token("\n"))[0] == [] and s.push(Token("\nx"))[1]


def test_flush_releases_what_was_held() -> None:
    s = StopText(["abc"])
    assert texts(s.push(Token("x"))[0]) == "x"
    assert s.push(Token("ab")) == ([], False)  # a token is held whole
    assert texts(s.flush()) == "ab"
