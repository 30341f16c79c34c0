"""A real uvicorn server on a free loopback port, in a thread, for the tests of a module."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from rnnlm.serve.app import Limits, create_app
from rnnlm.verbs.serve import load_schedulers


@contextmanager
def running(runs: list[Path], api_key: str | None = None, max_streams: int = 100,
            limits: Limits | None = None) -> Iterator[tuple[str, dict]]:
    """(base URL, schedulers) of a server on 127.0.0.1 at a port the OS picked."""
    models = load_schedulers([str(r) for r in runs], device="cpu", max_streams=max_streams)
    app = create_app(models, api_key, limits or Limits())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", models
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        for s in models.values():
            s.close()
