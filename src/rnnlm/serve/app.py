"""The HTTP app: OpenAI-compatible /v1/completions and /v1/models over the batched-stream
schedulers, /health, rnnlm's /v1/inspect, and the web page at /.

Models are named by their run names; a request never names a file. Every refusal is an
OpenAI error object (serve/errors.py).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import math
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from importlib import resources
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from rnnlm.errors import RnnlmError
from rnnlm.inference.inspect import inspect_text, units_per_layer
from rnnlm.serve import errors
from rnnlm.serve.errors import ApiError
from rnnlm.serve.scheduler import Busy, Event, Job, Prompt, Scheduler
from rnnlm.serve.schemas import CompletionRequest, InspectRequest
from rnnlm.serve.stops import Token


@dataclass(frozen=True)
class Limits:
    """The server's caps on one request (over them: 400, or 413 for the body)."""

    max_tokens: int = 4096  # tokens generated per choice
    max_choices: int = 16  # len(prompt) × n
    max_prompt_tokens: int = 4096  # tokens of one prompt
    max_body: int = 1 << 20  # bytes of a request body
    max_inspect_chars: int = 10_000  # characters of an inspected text
    retry_after: int = 1  # seconds a 429 asks the client to wait
    stream_interval: float = 0.02  # seconds between a stream's chunks (its first: at once)


def create_app(models: dict[str, Scheduler], api_key: str | None = None,
               limits: Limits = Limits()) -> FastAPI:
    """The app serving these schedulers by name; with api_key, /v1/ routes need
    `Authorization: Bearer KEY`."""
    app = FastAPI(title="rnnlm", docs_url=None, redoc_url=None, openapi_url=None)
    errors.install(app)
    app.add_middleware(errors.BodyLimit, limit=limits.max_body)

    def authorized(request: Request) -> None:
        if api_key is None:
            return
        given = request.headers.get("authorization", "")
        if not given.startswith("Bearer "):
            raise ApiError(401, "this server needs an API key: send Authorization: Bearer KEY",
                           code="missing_api_key")
        if not hmac.compare_digest(given[7:].encode(), api_key.encode()):
            raise ApiError(401, "the API key is wrong", code="invalid_api_key")

    def scheduler(name: str, param: str = "model") -> Scheduler:
        if name not in models:
            raise ApiError(404, f"the model {name!r} does not exist; served: "
                                f"{', '.join(sorted(models))}", param, "model_not_found")
        return models[name]

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "models": {name: {"active_streams": s.active,
                                                  "max_streams": s.max_streams}
                                           for name, s in models.items()}}

    @app.get("/v1/models", dependencies=[Depends(authorized)])
    async def list_models() -> dict[str, Any]:
        return {"object": "list", "data": [describe(name, s) for name, s in models.items()]}

    @app.post("/v1/completions", dependencies=[Depends(authorized)])
    async def completions(req: CompletionRequest, request: Request) -> Any:
        sched = scheduler(req.model)
        prompts = [encode(sched, text, limits) for text in req.prompts()]
        if req.max_tokens > limits.max_tokens:
            raise ApiError(400, f"max_tokens: {req.max_tokens} is over this server's limit "
                                f"of {limits.max_tokens}", "max_tokens", "max_tokens_too_large")
        if len(prompts) * req.n > limits.max_choices:
            raise ApiError(400, f"n: {len(prompts)} prompt(s) × n={req.n} choices is over "
                                f"this server's limit of {limits.max_choices}", "n",
                           "too_many_choices")
        if len(prompts) * req.n > sched.max_streams:
            raise ApiError(400, f"n: {len(prompts) * req.n} choices is over this server's "
                                f"{sched.max_streams} streams", "n", "too_many_choices")
        job = Job(prompts, req.n, req.max_tokens, req.temperature, req.top_p, req.top_k,
                  req.stops(), req.seed, req.logprobs, req.echo,
                  limits.stream_interval if req.stream else math.inf, asyncio.Queue(),
                  asyncio.get_running_loop())
        try:
            sched.submit(job)
        except Busy as e:
            raise ApiError(429, f"the server is at its cap of {sched.max_streams} streams "
                                f"({e}); retry after {limits.retry_after} s", None,
                           "too_many_streams", "rate_limit_error",
                           {"Retry-After": str(limits.retry_after)}) from None
        head = {"id": "cmpl-" + secrets.token_hex(12), "object": "text_completion",
                "created": int(time.time()), "model": req.model}
        usage = Usage(sum(p.ids.shape[1] if p.own else 0 for p in prompts)
                      - (len(prompts) if sched.lm.boundaries else 0))
        if req.stream:
            include = bool(req.stream_options and req.stream_options.include_usage)
            return JobStream(sched, job, stream(sched, job, head, usage, include))
        return await collect(sched, job, head, usage, request)

    @app.post("/v1/inspect", dependencies=[Depends(authorized)])
    async def inspect(req: InspectRequest) -> dict[str, Any]:
        sched = scheduler(req.model)
        if len(req.text) > limits.max_inspect_chars:
            raise ApiError(400, f"text: {len(req.text):,} characters is over this server's "
                                f"limit of {limits.max_inspect_chars:,}", "text",
                           "text_too_long")
        cfg = sched.lm.model.cfg
        units = units_per_layer(sched.lm.model) or cfg.hidden
        bad = [u for u in req.units if u[0] >= cfg.layers or u[1] >= units]
        if bad:
            raise ApiError(400, f"units: {bad[0]} does not exist: the model has {cfg.layers} "
                                f"layer(s) of {units} units", "units", "invalid_value")
        if req.state == "cell" and cfg.cell != "lstm":
            raise ApiError(400, f"state: a {cfg.cell} has no cell state; use hidden",
                           "state", "invalid_value")
        try:
            return await asyncio.to_thread(inspect_text, sched.lm, req.text, req.top_k,
                                           [tuple(u) for u in req.units], req.state, req.rank)
        except RnnlmError as e:
            raise ApiError(400, str(e), "text", "invalid_text") from None

    @app.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return resources.files("rnnlm.serve").joinpath("static/index.html").read_text("utf-8")

    app.mount("/static", StaticFiles(packages=[("rnnlm.serve", "static")]), name="static")

    return app


class JobStream(StreamingResponse):
    """The server-sent events of a job, which is cancelled once the response ends however
    it ends: also when the client left before the first chunk (the body never started)."""

    def __init__(self, sched: Scheduler, job: Job, body: AsyncIterator[str]) -> None:
        super().__init__(body, media_type="text/event-stream",
                         headers={"Cache-Control": "no-cache"})
        self.sched, self.job = sched, job

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.sched.cancel(self.job)  # a no-op for a job that has finished


def describe(name: str, s: Scheduler) -> dict[str, Any]:
    """One /v1/models entry, with what the page shows about the model."""
    cfg = s.lm.config
    return {"id": name, "object": "model", "created": 0, "owned_by": "rnnlm",
            "rnnlm": {"cell": cfg.model.cell, "layers": cfg.model.layers,
                      "hidden": cfg.model.hidden, "tokenizer": cfg.data.tokenizer,
                      "vocab_size": cfg.model.vocab_size, "mode": cfg.data.mode}}


def encode(s: Scheduler, text: str, limits: Limits) -> Prompt:
    """A prompt's ids; characters a char model never saw are refused (its <unk> never
    occurred in training, so what follows them would mean nothing), naming them."""
    try:
        ids = s.lm.encode_prime(text)  # (1, P)
    except RnnlmError as e:
        raise ApiError(400, f"prompt: {str(e).replace('the prime', 'the prompt')}",
                       "prompt", "unknown_characters") from None
    if ids.shape[1] > limits.max_prompt_tokens:
        raise ApiError(400, f"prompt: {ids.shape[1]:,} tokens is over this server's limit "
                            f"of {limits.max_prompt_tokens:,}", "prompt",
                       "context_length_exceeded")
    return Prompt(text, ids, own=bool(text) or s.lm.boundaries is not None)


@dataclass
class Usage:
    """Token counts of a request."""

    prompt_tokens: int
    completion_tokens: int = 0

    def to_dict(self) -> dict[str, int]:
        """OpenAI's usage object."""
        return {"prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "total_tokens": self.prompt_tokens + self.completion_tokens}


def logprobs_of(tokens: list[Token], offset: int) -> dict[str, list[Any]]:
    """OpenAI's logprobs object for tokens whose text starts at `offset` in the choice."""
    out: dict[str, list[Any]] = {"tokens": [], "token_logprobs": [], "top_logprobs": [],
                                 "text_offset": []}
    for t in tokens:
        out["tokens"].append(t.text)
        out["token_logprobs"].append(t.logprob)
        out["top_logprobs"].append(t.top)
        out["text_offset"].append(offset)
        offset += len(t.text)
    return out


async def events(sched: Scheduler, job: Job, request: Request | None = None
                 ) -> AsyncIterator[list[Event]]:
    """The job's events, as many as have arrived at a time, until every choice has
    finished; the job is cancelled (its rows freed before the next step) if the consumer
    stops early or the client goes away (polled every 0.5 s when not streaming)."""
    left = job.streams
    try:
        while left:
            if request is None:  # streamed: Starlette cancels us when the client goes
                got = await job.queue.get()
            else:
                try:
                    got = await asyncio.wait_for(job.queue.get(), timeout=0.5)
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    continue
            while not job.queue.empty():  # under load, tokens pile up: send them together
                got = got + job.queue.get_nowait()
            for event in got:
                if event.error:
                    raise ApiError(500, event.error, kind="server_error")
                left -= event.finish is not None
            yield got
    finally:
        if left:
            sched.cancel(job)


def merged(got: list[Event]) -> list[Event]:
    """Events of one choice joined into one (in order of the choices' first event)."""
    by_index: dict[int, Event] = {}
    for e in got:
        m = by_index.setdefault(e.index, Event(e.index, []))
        m.tokens += e.tokens
        m.finish, m.drawn = e.finish or m.finish, e.drawn or m.drawn
    return list(by_index.values())


async def collect(sched: Scheduler, job: Job, head: dict[str, Any], usage: Usage,
                  request: Request) -> dict[str, Any]:
    """The whole completion in one response."""
    choices = [{"text": "", "index": i, "logprobs": None, "finish_reason": None,
                "tokens": []} for i in range(job.streams)]
    async for got in events(sched, job, request):
        for event in got:
            c = choices[event.index]
            c["tokens"] += event.tokens
            if event.finish:
                c["finish_reason"] = event.finish
                usage.completion_tokens += event.drawn
    for c in choices:
        tokens = c.pop("tokens")
        c["text"] = "".join(t.text for t in tokens)
        if job.logprobs is not None:
            c["logprobs"] = logprobs_of(tokens, 0)
    return {**head, "choices": choices, "usage": usage.to_dict()}


async def stream(sched: Scheduler, job: Job, head: dict[str, Any], usage: Usage,
                 include_usage: bool) -> AsyncIterator[str]:
    """Server-sent events: a chunk per choice with the text handed over since its last one
    (the scheduler hands text over once per the job's interval), then the usage chunk (if
    asked), then `data: [DONE]`."""
    offsets = [0] * job.streams
    start = f"data: {json.dumps(head)[:-1]}, \"choices\": ["  # the same in every chunk
    try:
        async for got in events(sched, job):
            for event in merged(got):
                text = "".join(t.text for t in event.tokens)
                lp = logprobs_of(event.tokens, offsets[event.index]) \
                    if job.logprobs is not None else None
                offsets[event.index] += len(text)
                if event.finish:
                    usage.completion_tokens += event.drawn
                choice = {"text": text, "index": event.index, "logprobs": lp,
                          "finish_reason": event.finish}
                yield f"{start}{json.dumps(choice)}]}}\n\n"
    except ApiError as e:
        yield f"data: {json.dumps(errors.body(e.message, e.kind, e.param, e.code))}\n\n"
    if include_usage:
        yield f"data: {json.dumps({**head, 'choices': [], 'usage': usage.to_dict()})}\n\n"
    yield "data: [DONE]\n\n"
