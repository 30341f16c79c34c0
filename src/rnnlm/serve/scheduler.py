"""Batched streams: every active stream of every request on one model advances as one
batched step per token, on one thread that owns the model.

A request (a Job) is primed when it joins, between two steps: each prompt in one forward
call, its state copied into a row per choice. Each step then draws one token for every row
(each stream from its own torch.Generator, with its own temperature / top-k / top-p), hands
the new text to the requests' asyncio queues, drops the rows that finished or whose client
went away, and runs one Stepper step for the rest. A seeded stream therefore makes the same
text whatever else shares the batch, streamed or not.

A stream's text is held and handed over at most once per its job's `interval` (its first
text and its end at once; at least streams ÷ `chunk_rate` seconds), on a clock shared by
every stream, so many streams wake the event loop once per tick, not once per token each:
HTTP chunks, not the model, are what many streams would otherwise spend the CPU on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from rnnlm.inference.sampling import RowParams, draw_rows
from rnnlm.inference.scoring import token_nats
from rnnlm.language_model import LanguageModel
from rnnlm.models.state import State
from rnnlm.runtime import memory_guard
from rnnlm.serve.rows import prime_many, rows_for
from rnnlm.serve.stops import StopText, Token

log = logging.getLogger("rnnlm.serve")


class Busy(Exception):
    """More streams than the server's cap would be active."""


@dataclass
class Prompt:
    """One prompt: its text, the ids it is primed with (1, P), and whether those ids are the
    prompt's own (an empty prompt of a stream model starts from a newline that is not)."""

    text: str
    ids: torch.Tensor
    own: bool = True


@dataclass
class Event:
    """What one step sends one choice: text released to the client, its tokens (with
    log-probabilities when asked), and at the end the finish reason and tokens drawn."""

    index: int
    tokens: list[Token]
    finish: str | None = None
    drawn: int = 0
    error: str | None = None


@dataclass
class Job:
    """One request's streams on one model: len(prompts) × n choices."""

    prompts: list[Prompt]
    n: int
    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int | None = None
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    logprobs: int | None = None
    echo: bool = False
    interval: float = 0.0  # seconds between handing text over (inf: only at the end)
    queue: asyncio.Queue[list[Event]] | None = None
    loop: asyncio.AbstractEventLoop | None = None
    cancelled: bool = False

    @property
    def streams(self) -> int:
        """Choices of the request."""
        return len(self.prompts) * self.n


def choice_seed(seed: int, index: int) -> int:
    """The generator seed of choice `index` of a request seeded with `seed`."""
    return int(np.random.SeedSequence([seed % 2**63, index]).generate_state(1, np.uint64)[0]
               % 2**63)


class Stream:
    """One choice in the batch: its generator, decoder, stop filter and budget."""

    def __init__(self, job: Job, index: int, lm: LanguageModel) -> None:
        self.job, self.index = job, index
        self.generator = torch.Generator(device=lm.device)
        if job.seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(choice_seed(job.seed, index))
        self.decode = lm.tokenizer.decoder()
        self.stops = StopText(job.stop)
        self.left, self.drawn = job.max_tokens, 0
        self.held: list[Token] = []  # text released by the stop filter, not yet handed over
        # when held text may next be handed over: the first at once, unless only the end is
        self.due = 0.0 if math.isfinite(job.interval) else math.inf

    def hand_over(self, now: float, least: float) -> None:
        """The next time held text may go: the next tick of a clock of the job's interval
        (at least `least` seconds) that every stream shares, so streams of one interval go
        in the same step."""
        interval = max(self.job.interval, least)
        self.due = now if interval == 0 else math.floor(now / interval + 1) * interval


class Scheduler:
    """The batch of one served model and the thread that steps it."""

    def __init__(self, lm: LanguageModel, max_streams: int = 100,
                 chunk_rate: float = math.inf) -> None:
        self.lm, self.max_streams = lm, max_streams
        # handovers per second of all streams together, at most: under load each stream's
        # interval grows to streams ÷ chunk_rate, so its chunks carry more tokens each
        self.chunk_rate = chunk_rate
        self.rows = rows_for(lm.model, lm.precision)
        self.streams: list[Stream] = []  # row i ↔ streams[i]
        self.logits: torch.Tensor | None = None  # (rows, V): each row's next-token logits
        b = lm.boundaries
        self.eod = b.eod if b else None
        banned = lm.tokenizer.special_ids() + ([b.bod] if b else [])
        if b and lm.config.data.documents == "lines":
            banned += lm.line_break_ids
        self.banned = torch.tensor(banned, dtype=torch.int64, device=lm.device)
        self.noise = torch.empty(0, lm.model.cfg.vocab_size, device=lm.device)
        self.params: RowParams | None = None  # the rows' sampling settings, until they change
        self.pending: deque[Job] = deque()
        self.reserved = 0  # streams pending or active: what the cap counts
        self.steps = 0  # batched steps run (tests check that streams share them)
        self.lock = threading.Lock()
        self.wake = threading.Event()
        self.closed = False
        self.thread = threading.Thread(target=self._run, name="rnnlm-batch", daemon=True)
        lm.model.eval()
        self.thread.start()

    @property
    def active(self) -> int:
        """Streams in the batch now."""
        return len(self.streams)

    def submit(self, job: Job) -> None:
        """Queue a job to join at the next step; Busy if it would pass the stream cap."""
        with self.lock:
            if self.reserved + job.streams > self.max_streams:
                raise Busy(f"{self.reserved} of {self.max_streams} streams are in use")
            self.reserved += job.streams
            self.pending.append(job)
        self.wake.set()

    def cancel(self, job: Job) -> None:
        """The client went away: its rows are dropped before the next step."""
        job.cancelled = True
        self.wake.set()

    def close(self) -> None:
        """Stop the thread (after its current step)."""
        self.closed = True
        self.wake.set()
        self.thread.join(timeout=10)

    def _run(self) -> None:
        """Step while there are streams; sleep when there are none."""
        with torch.inference_mode():
            while not self.closed:
                self.wake.clear()
                self._leave([i for i, s in enumerate(self.streams) if s.job.cancelled])
                self._join()
                if not self.streams:
                    self.wake.wait()
                    continue
                try:
                    self._step()
                except Exception:  # never leave the batch in a half-stepped state
                    log.exception("a batched step failed; its streams are ended")
                    self._fail(list(range(len(self.streams))), "the model failed on a step")

    def _join(self) -> None:
        """Prime the jobs that arrived: each prompt once, its state copied per choice."""
        with self.lock:
            jobs, self.pending = list(self.pending), deque()
        for job in [j for j in jobs if j.cancelled]:
            self._release(job.streams)
        jobs = [j for j in jobs if not j.cancelled]
        try:  # every new prompt in as few forward calls as fit
            primed = iter(prime_many(self.lm.model, [p.ids for j in jobs for p in j.prompts],
                                     self.lm.precision))
        except Exception:
            log.exception("priming requests failed")
            self._refuse(jobs)
            return
        for job in jobs:
            try:
                self._admit(job, [next(primed) for _ in job.prompts])
            except Exception:
                log.exception("admitting a request failed")
                self._refuse([job])
        if jobs:
            memory_guard().check()  # prompts of every length leave freed blocks behind

    def _refuse(self, jobs: list[Job]) -> None:
        """End jobs that could not be primed with an error event."""
        for job in jobs:
            self._release(job.streams)
            self._send([(job, Event(0, [], "error", error="the model failed on the prompt"))])

    def _admit(self, job: Job, primed: list[tuple[torch.Tensor, State]]) -> None:
        """Given its primed prompts (logits (P, V), state), send a job's echoed prompts and
        add its rows (none for max_tokens 0: those choices end at once)."""
        events, joined, firsts = [], [], []
        for p, (prompt, (logits, state)) in enumerate(zip(job.prompts, primed, strict=True)):
            echoed = self._echo(job, prompt, logits) if job.echo else []
            for j in range(job.n):
                index = p * job.n + j
                if echoed or job.max_tokens == 0:
                    events.append(Event(index, list(echoed), None))
                if job.max_tokens == 0:
                    events.append(Event(index, [], "length"))
                    continue
                joined.append(Stream(job, index, self.lm))
            if job.max_tokens:
                self.rows.add(state, job.n)
                firsts.append(logits[-1:].expand(job.n, -1))  # (n, V)
        if job.max_tokens == 0:
            self._release(job.streams)
        self.streams += joined
        self.params = None
        if firsts:
            new = torch.cat(firsts)
            self.logits = new if self.logits is None else torch.cat([self.logits, new])
        self._send([(job, e) for e in events])

    def _echo(self, job: Job, prompt: Prompt, logits: torch.Tensor) -> list[Token]:
        """The prompt's tokens; with logprobs, each one's log-probability as `rnnlm eval
        --per-token` computes it (token_nats), the first token none (it is context only)."""
        ids = prompt.ids[0]
        if not prompt.own:
            return [Token(prompt.text)] if prompt.text else []
        first = 1 if self.lm.boundaries else 0  # BOD (no text) is not echoed
        texts = [""] * first + [self.lm.tokenizer.decode([i]) for i in ids[first:].tolist()]
        if job.logprobs is None:
            return [Token(t) for t in texts[first:]]
        nats = token_nats(self.lm.model, ids, self.lm.precision).tolist() if len(ids) > 1 \
            else []
        lps = F.log_softmax(logits, dim=-1)  # (P, V): row i predicts ids[i + 1]
        tops = self._tops(lps[:-1], job.logprobs) if len(ids) > 1 else []
        out = [] if first else [Token(texts[0], None, None)]
        for i in range(1, len(ids)):
            out.append(Token(texts[i], -nats[i - 1], tops[i - 1]))
        return out

    def _tops(self, lps: torch.Tensor, k: int) -> list[dict[str, float] | None]:
        """The k most likely tokens' texts and log-probabilities, per row of lps (R, V)."""
        if k == 0:
            return [{} for _ in range(len(lps))]
        values, ids = torch.topk(lps, min(k, lps.shape[-1]), dim=-1)  # (R, k)
        decode = self.lm.tokenizer.decode
        return [{decode([i]): v for i, v in zip(row_ids, row_values, strict=True)}
                for row_ids, row_values in zip(ids.tolist(), values.tolist(), strict=True)]

    def _params(self) -> RowParams:
        """Every row's sampling settings (temperature 0: greedy), made again only after rows
        joined or left."""
        if self.params is not None:
            return self.params
        jobs = [s.job for s in self.streams]
        dev = self.lm.device
        self.params = RowParams(
            temperature=torch.tensor([j.temperature or 1.0 for j in jobs], device=dev),
            top_k=torch.tensor([j.top_k or 0 for j in jobs], device=dev),
            top_p=torch.tensor([j.top_p for j in jobs], device=dev),
            greedy=torch.tensor([j.temperature == 0 for j in jobs], device=dev))
        return self.params

    def _step(self) -> None:
        """Draw a token for every row, send the text, drop finished rows, step the rest."""
        n = len(self.streams)
        logits = self.logits.index_fill(1, self.banned, float("-inf")) if len(self.banned) \
            else self.logits.clone()  # (n, V)
        if self.noise.shape[0] < n:
            self.noise = torch.empty(max(n, 2 * self.noise.shape[0]), logits.shape[1],
                                     device=logits.device)
        ids = draw_rows(logits, self._params(), [s.generator for s in self.streams],
                        self.noise)  # (n,)
        chosen = ids.tolist()  # the one host sync per step
        want = [i for i, s in enumerate(self.streams) if s.job.logprobs is not None]
        lps = {}
        if want:
            rows = F.log_softmax(self.logits[want], dim=-1)  # (w, V): the model's own
            picked = rows.gather(1, ids[want][:, None])[:, 0].tolist()
            tops = self._tops(rows, max(self.streams[i].job.logprobs for i in want))
            for r, i in enumerate(want):
                k = self.streams[i].job.logprobs
                lps[i] = (picked[r], dict(list(tops[r].items())[:k]))
        sends, keep, now, least = [], [], time.monotonic(), n / self.chunk_rate
        for i, (s, token) in enumerate(zip(self.streams, chosen, strict=True)):
            s.drawn += 1
            s.left -= 1
            if token == self.eod:
                out, finish = s.stops.flush(), "stop"
            else:
                lp, top = lps.get(i, (None, None))
                out, stopped = s.stops.push(Token(s.decode(token), lp, top))
                finish = "stop" if stopped else "length" if s.left == 0 else None
                if finish == "length":
                    out += s.stops.flush()
            if finish is None:
                keep.append(i)
            s.held += out
            if finish or (s.held and now >= s.due):
                sends.append((s.job, Event(s.index, s.held, finish, s.drawn)))
                s.held = []
                s.hand_over(now, least)
        self._send(sends)
        self.steps += 1
        survivors = [s.job.cancelled is False for s in self.streams]
        keep = [i for i in keep if survivors[i]]
        self._leave_rows(keep)
        if self.streams:
            self.logits = self.rows.step(ids[keep] if len(keep) < n else ids)  # (n', V)

    def _leave(self, gone: list[int]) -> None:
        """Drop these rows (their clients went away) before a step."""
        if gone:
            dropped = set(gone)
            self._leave_rows([i for i in range(len(self.streams)) if i not in dropped])

    def _leave_rows(self, keep: list[int]) -> None:
        """Keep only these rows, in order; free the others' places under the cap."""
        if len(keep) == len(self.streams):
            return
        self._release(len(self.streams) - len(keep))
        self.streams = [self.streams[i] for i in keep]
        self.params = None
        self.rows.keep(keep)
        self.logits = self.logits[keep] if keep else None

    def _fail(self, rows: list[int], message: str) -> None:
        """End these rows with an error event."""
        self._send([(self.streams[i].job, Event(self.streams[i].index, [], "error",
                                                error=message)) for i in rows])
        dropped = set(rows)
        self._leave_rows([i for i in range(len(self.streams)) if i not in dropped])

    def _release(self, streams: int) -> None:
        with self.lock:
            self.reserved -= streams

    @staticmethod
    def _send(items: list[tuple[Job, Event]]) -> None:
        """Hand events to their requests' event loops: one callback per loop, one list of
        events per job."""
        by_loop: dict[asyncio.AbstractEventLoop, dict[int, tuple[Job, list[Event]]]] = {}
        for job, event in items:
            if job.loop is not None and not job.cancelled:
                jobs = by_loop.setdefault(job.loop, {})
                jobs.setdefault(id(job), (job, []))[1].append(event)
        for loop, batch in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody is listening
                loop.call_soon_threadsafe(_deliver, list(batch.values()))


def _deliver(batch: list[tuple[Job, list[Event]]]) -> None:
    for job, events in batch:
        job.queue.put_nowait(events)
