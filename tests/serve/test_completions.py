"""The official openai client against a real server: completions plain and streamed, n,
list prompts, stop strings (split over tokens), seeds, logprobs and echo scoring."""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai
import pytest

from tests.serve.conftest import running

MODEL = "tiny"


@pytest.fixture(scope="module")
def server(tiny_run: Path) -> Iterator[tuple[str, dict]]:
    """One server for the module, serving the session's tiny LSTM as "tiny"."""
    with running([tiny_run]) as served:
        yield served


@pytest.fixture(scope="module")
def client(server: tuple[str, dict]) -> openai.OpenAI:
    return openai.OpenAI(base_url=server[0] + "/v1", api_key="unused", max_retries=0)


def complete(client: openai.OpenAI, **kw: object) -> openai.types.Completion:
    return client.completions.create(model=MODEL, **kw)


def streamed(client: openai.OpenAI, **kw: object) -> tuple[dict[int, str], list, dict]:
    """Each choice's text from a streamed request, the chunks, and finish reasons."""
    texts: dict[int, str] = {}
    reasons: dict[int, str] = {}
    chunks = list(complete(client, stream=True, **kw))
    for chunk in chunks:
        for c in chunk.choices:
            texts[c.index] = texts.get(c.index, "") + c.text
            if c.finish_reason:
                reasons[c.index] = c.finish_reason
    return texts, chunks, reasons


def test_models_and_health(server: tuple[str, dict], client: openai.OpenAI) -> None:
    import httpx

    assert [m.id for m in client.models.list()] == [MODEL]
    health = httpx.get(server[0] + "/health").json()
    assert health["status"] == "ok" and MODEL in health["models"]


def test_plain_completion(client: openai.OpenAI) -> None:
    r = complete(client, prompt="ROMEO:", max_tokens=30, temperature=0.8, seed=1)
    (choice,) = r.choices
    assert len(choice.text) == 30 and choice.finish_reason == "length"
    assert r.usage.prompt_tokens == 6 and r.usage.completion_tokens == 30
    assert r.usage.total_tokens == 36 and r.model == MODEL


def test_stream_equals_plain_and_reports_usage(client: openai.OpenAI) -> None:
    plain = complete(client, prompt="KING:", max_tokens=300, seed=7).choices[0].text
    texts, chunks, reasons = streamed(client, prompt="KING:", max_tokens=300, seed=7,
                                      stream_options={"include_usage": True})
    assert texts == {0: plain} and reasons == {0: "length"}
    assert len(chunks) > 4  # text arrives as it is made (a chunk per 20 ms), not at the end
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 300


def test_n_choices_are_distinct_and_reproducible(client: openai.OpenAI) -> None:
    first = complete(client, prompt="The ", max_tokens=40, n=3, seed=3)
    again = complete(client, prompt="The ", max_tokens=40, n=3, seed=3)
    texts = [c.text for c in first.choices]
    assert [c.index for c in first.choices] == [0, 1, 2]
    assert len(set(texts)) == 3 and texts == [c.text for c in again.choices]
    assert first.usage.completion_tokens == 120


def test_list_prompts(client: openai.OpenAI) -> None:
    r = complete(client, prompt=["First ", "Second "], max_tokens=12, n=2, temperature=0)
    assert [c.index for c in r.choices] == [0, 1, 2, 3]
    alone = [complete(client, prompt=p, max_tokens=12, temperature=0).choices[0].text
             for p in ("First ", "Second ")]
    assert [c.text for c in r.choices] == [alone[0], alone[0], alone[1], alone[1]]
    assert r.usage.prompt_tokens == len("First ") + len("Second ")


def test_stop_split_over_two_tokens_never_leaks(client: openai.OpenAI) -> None:
    """A char model's two-character stop string always arrives as two tokens, so in two
    chunks; neither half reaches the client."""
    kw = {"prompt": "ROMEO:", "max_tokens": 60, "seed": 5}
    full = complete(client, **kw).choices[0].text
    cut = next(i for i in range(8, 50) if full[i: i + 2] not in full[: i + 1])
    stop = full[cut: cut + 2]  # first seen at `cut`
    r = complete(client, stop=[stop, "@@"], **kw)
    assert r.choices[0].text == full[:cut] and r.choices[0].finish_reason == "stop"
    texts, _, reasons = streamed(client, stop=stop, **kw)
    assert texts == {0: full[:cut]} and reasons == {0: "stop"}


def test_seed_is_the_same_whatever_shares_the_batch(server: tuple[str, dict],
                                                    client: openai.OpenAI) -> None:
    alone = complete(client, prompt="QUEEN:", max_tokens=50, seed=11, top_p=0.9,
                     temperature=1.2).choices[0].text
    sched = server[1][MODEL]

    def noise(i: int) -> str:
        return streamed(client, prompt="x" * i, max_tokens=60, extra_body={"top_k": 5})[0][0]

    with ThreadPoolExecutor(8) as pool:
        others = [pool.submit(noise, i) for i in range(6)]
        shared = pool.submit(lambda: streamed(client, prompt="QUEEN:", max_tokens=50,
                                              seed=11, top_p=0.9, temperature=1.2)[0][0])
        [f.result() for f in others]
        assert shared.result() == alone
    assert sched.active == 0


def test_streams_share_batched_steps(server: tuple[str, dict], client: openai.OpenAI) -> None:
    """8 concurrent requests of 40 tokens take about 40 batched steps, not 320."""
    sched = server[1][MODEL]
    before = sched.steps
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: complete(client, prompt="abcdefgh"[i], max_tokens=40, seed=i),
                      range(8)))
    assert sched.steps - before < 160


def test_logprobs_top_alternatives(client: openai.OpenAI) -> None:
    r = complete(client, prompt="HENRY:", max_tokens=20, temperature=0, logprobs=3)
    lp = r.choices[0].logprobs
    assert "".join(lp.tokens) == r.choices[0].text and len(lp.tokens) == 20
    for token, chosen, top in zip(lp.tokens, lp.token_logprobs, lp.top_logprobs,
                                  strict=True):
        assert len(top) <= 3 and chosen <= 0
        assert max(top.values()) == pytest.approx(chosen, abs=1e-5)  # greedy: the top one
        assert token in top
    assert lp.text_offset == [sum(map(len, lp.tokens[:i])) for i in range(20)]


def test_echo_scores_equal_eval_per_token(tiny_run: Path, client: openai.OpenAI,
                                          shakespeare: str, tmp_path: Path) -> None:
    """echo + logprobs + max_tokens 0 gives `rnnlm eval --per-token`'s log-probabilities."""
    from rnnlm.verbs.evaluate import evaluate

    text = shakespeare[50_000:51_500]  # 1,500 characters: more than one scoring column
    r = complete(client, prompt=text, max_tokens=0, echo=True, logprobs=1)
    (choice,) = r.choices
    assert choice.text == text and choice.finish_reason == "length"
    lp = choice.logprobs
    assert lp.token_logprobs[0] is None and len(lp.tokens) == len(text)
    (tiny_run.parent / "eval.txt").write_text(text, encoding="utf-8")
    tsv = tmp_path / "scores.tsv"
    result = evaluate(tiny_run, text=tiny_run.parent / "eval.txt", per_token=tsv)
    with open(tsv, encoding="utf-8") as f:
        nats = [float(row["nats"]) for row in csv.DictReader(f, delimiter="\t")]
    assert len(nats) == len(text) - 1
    for got, want in zip(lp.token_logprobs[1:], nats, strict=True):
        assert abs(-got - want) < 1e-4
    total = -math.fsum(lp.token_logprobs[1:])
    assert abs(total - result.total_nats) / result.tokens < 1e-4
