"""The scheduler's hand-over of text: held per stream and handed to the request's event loop
at most once per the job's interval, so many streams do not wake the loop once per token."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from rnnlm.language_model import LanguageModel
from rnnlm.serve.scheduler import Event, Job, Prompt, Scheduler


@pytest.fixture(scope="module")
def sched(tiny_run: Path) -> Iterator[Scheduler]:
    s = Scheduler(LanguageModel.load(tiny_run, device="cpu"))
    yield s
    s.close()


def run_job(sched: Scheduler, interval: float, tokens: int = 60) -> list[list[Event]]:
    """The deliveries (lists of events) a seeded one-choice job of `tokens` tokens gets."""

    async def go() -> list[list[Event]]:
        job = Job([Prompt("ROMEO:", sched.lm.encode_prime("ROMEO:"))], 1, tokens, seed=3,
                  interval=interval, queue=asyncio.Queue(), loop=asyncio.get_running_loop())
        sched.submit(job)
        got: list[list[Event]] = []
        while not got or not got[-1][-1].finish:
            got.append(await job.queue.get())
        return got

    return asyncio.run(go())


def text(got: list[list[Event]]) -> str:
    return "".join(t.text for events in got for e in events for t in e.tokens)


def test_hand_over_once_per_interval(sched: Scheduler) -> None:
    """Interval 0: every token goes at once; inf (a request that is not streamed): all of it
    at the end; an hour: the first text at once, the rest at the end. The text is the same."""
    each = run_job(sched, 0.0)
    assert len(each) == 60 and all(len(e[0].tokens) == 1 for e in each)
    at_end = run_job(sched, math.inf)
    assert len(at_end) == 1 and at_end[0][0].finish == "length" and at_end[0][0].drawn == 60
    hour = run_job(sched, 3600.0)
    assert len(hour) == 2 and len(hour[0][0].tokens) == 1 and len(hour[1][0].tokens) == 59
    assert text(each) == text(at_end) == text(hour) and len(text(each)) == 60


def test_chunk_rate_stretches_every_interval(tiny_run: Path) -> None:
    """A rate of one handover per 1,000 s of all streams makes even an interval-0 stream send
    its first text at once and the rest at its end."""
    slow = Scheduler(LanguageModel.load(tiny_run, device="cpu"), chunk_rate=1e-3)
    try:
        got = run_job(slow, 0.0)
    finally:
        slow.close()
    assert [len(d[0].tokens) for d in got] == [1, 59] and got[-1][0].finish == "length"


def test_documents_echo_scores_equal_eval_per_token(doc_run: Path, abstracts_file: Path,
                                                    tmp_path: Path) -> None:
    """A documents-mode model echoes a prompt after its BOD (which is context, not text):
    every echoed character has a log-probability, and they are `rnnlm eval --per-token`'s
    of that document (whose last row is its EOD, which the echo has not reached)."""
    import csv

    from rnnlm.verbs.evaluate import evaluate

    lm = LanguageModel.load(doc_run, device="cpu")
    sched = Scheduler(lm)
    text = abstracts_file.read_text(encoding="utf-8").split("\n")[299][:400]

    async def go() -> list[Event]:
        job = Job([Prompt(text, lm.encode_prime(text))], 1, 0, logprobs=1, echo=True,
                  queue=asyncio.Queue(), loop=asyncio.get_running_loop())
        sched.submit(job)
        got: list[Event] = []
        while not got or not got[-1].finish:
            got += await job.queue.get()
        return got

    try:
        tokens = [t for e in asyncio.run(go()) for t in e.tokens]
    finally:
        sched.close()
    assert "".join(t.text for t in tokens) == text
    (tmp_path / "doc.txt").write_text(text + "\n", encoding="utf-8")
    evaluate(doc_run, text=tmp_path / "doc.txt", per_token=tmp_path / "scores.tsv")
    with open(tmp_path / "scores.tsv", encoding="utf-8") as f:
        nats = [float(row["nats"])  # the TSV does not quote: a token may be a '"'
                for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]
    assert len(nats) == len(tokens) + 1  # the document's EOD ends eval's rows
    for token, want in zip(tokens, nats, strict=False):
        assert token.logprob is not None and abs(-token.logprob - want) < 1e-4
