"""`rnnlm serve`: an OpenAI-compatible HTTP server over trained runs, with the web page."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Annotated

import torch

from rnnlm.errors import RnnlmError
from rnnlm.language_model import LanguageModel
from rnnlm.options import Arg
from rnnlm.verbs import Checkpoint, Device


def run_name(run: str | Path) -> str:
    """The name a run is served under: its directory's (the run's, for best/ or last/)."""
    path = Path(run).resolve()
    return path.parent.name if path.name in ("best", "last") else path.name


def load_schedulers(runs: list[str], checkpoint: str = "best", device: str = "auto",
                    max_streams: int = 100, chunk_rate: float = math.inf) -> dict:
    """One batched-stream scheduler per run, by run name."""
    from rnnlm.serve.scheduler import Scheduler

    names = [run_name(run) for run in runs]
    twins = sorted({n for n in names if names.count(n) > 1})
    if twins:
        raise RnnlmError(f"two runs are named {twins[0]!r}; serve runs with distinct "
                         f"directory names")
    lms = [LanguageModel.load(run, device=device, which=checkpoint) for run in runs]
    return {name: Scheduler(lm, max_streams, chunk_rate)
            for name, lm in zip(names, lms, strict=True)}


def serve(runs: Annotated[list[str], Arg("run directories, each served under its name",
                                         metavar="RUN")], *,
          host: Annotated[str, Arg("address to bind (loopback unless told otherwise)")
                          ] = "127.0.0.1",
          port: Annotated[int, Arg("TCP port")] = 8000,
          api_key: Annotated[str | None, Arg(
              "require Authorization: Bearer KEY on /v1/ (default: $RNNLM_API_KEY)")] = None,
          max_streams: Annotated[int, Arg("streams generating at once, per model (more: 429)")
                                 ] = 100,
          max_tokens: Annotated[int, Arg("largest max_tokens a request may ask")] = 4096,
          stream_interval: Annotated[float, Arg(
              "milliseconds between a stream's chunks (0: a chunk per token)")] = 20.0,
          chunk_rate: Annotated[float, Arg(
              "chunks per second a model's streams send in all, at most: under load each "
              "stream's interval grows to streams ÷ rate (0: no limit)")] = 1000.0,
          threads: Annotated[int | None, Arg(
              "CPU threads of the models' steps (default: every core torch would use but one, "
              "which is left to the HTTP event loop)")] = None,
          checkpoint: Checkpoint = "best", device: Device = "auto") -> None:
    """Serve runs over HTTP: OpenAI-compatible completions, inspect, and a web page at /."""
    try:
        import uvicorn

        from rnnlm.serve.app import Limits, create_app
    except ImportError as e:
        raise RnnlmError(f"rnnlm serve needs the serve extra ({e.name} is missing): "
                         f"pip install 'rnnlm[serve]'") from None
    if max_streams < 1 or max_tokens < 1 or stream_interval < 0 or chunk_rate < 0 or \
            (threads is not None and threads < 1):
        raise RnnlmError(f"--max-streams, --max-tokens and --threads must be 1 or more, "
                         f"--stream-interval and --chunk-rate 0 or more (got {max_streams}, "
                         f"{max_tokens}, {threads}, {stream_interval}, {chunk_rate})")
    # the steps' threads and the event loop's share the cores: on a small machine a step
    # that waits for a thread the event loop took stalls all of its threads
    torch.set_num_threads(threads or max(1, torch.get_num_threads() - 1))
    models = load_schedulers(runs, checkpoint, device, max_streams, chunk_rate or math.inf)
    app = create_app(models, api_key or os.environ.get("RNNLM_API_KEY") or None,
                     Limits(max_tokens=max_tokens, stream_interval=stream_interval / 1000))
    print(f"serving {', '.join(models)} on http://{host}:{port}/ (Ctrl-C stops)", flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
