"""POST /v1/inspect on a real server, and its refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.serve.conftest import running

SPEECH = "First Citizen:\nBefore we proceed any further, hear me speak.\n"


@pytest.fixture(scope="module")
def http(tiny_run: Path) -> Iterator[httpx.Client]:
    with running([tiny_run]) as (url, _), httpx.Client(base_url=url, timeout=60) as c:
        yield c


def test_inspect(http: httpx.Client) -> None:
    r = http.post("/v1/inspect", json={"model": "tiny", "text": SPEECH, "top_k": 2,
                                       "units": [[0, 1], [0, 2]], "state": "cell", "rank": 4})
    assert r.status_code == 200, r.text
    data = r.json()
    assert "".join(t["text"] for t in data["tokens"]) == SPEECH
    assert data["tokens"][0]["bits"] is None and all(t["bits"] >= 0 for t in data["tokens"][1:])
    assert all(len(t["top"]) == 2 for t in data["tokens"][1:])
    assert [(u["layer"], u["unit"], u["state"]) for u in data["units"]] == [(0, 1, "cell"),
                                                                          (0, 2, "cell")]
    assert all(len(u["values"]) == len(SPEECH) for u in data["units"] + data["ranking"])
    assert len(data["ranking"]) == 4
    assert {u["feature"] for u in data["ranking"]} <= {"in_quotes", "in_brackets",
                                                        "line_position", "indentation"}
    rs = [abs(u["r"]) for u in data["ranking"]]
    assert rs == sorted(rs, reverse=True)


@pytest.mark.parametrize("body,status,param", [
    ({"model": "nope", "text": SPEECH}, 404, "model"),
    ({"model": "tiny", "text": "a" * 10_001}, 400, "text"),
    ({"model": "tiny", "text": "a"}, 400, "text"),
    ({"model": "tiny", "text": SPEECH, "units": [[5, 0]]}, 400, "units"),
    ({"model": "tiny", "text": SPEECH, "units": [[0, 128]]}, 400, "units"),
    ({"model": "tiny", "text": SPEECH, "units": [[0]]}, 400, "units"),
    ({"model": "tiny", "text": SPEECH, "state": "gates"}, 400, "state"),
    ({"model": "tiny", "text": "snow \u2603"}, 400, "text"),
])
def test_refusals(http: httpx.Client, body: dict, status: int, param: str) -> None:
    r = http.post("/v1/inspect", json=body)
    assert r.status_code == status and r.json()["error"]["param"] == param, r.text
    assert http.post("/v1/inspect", json={"model": "tiny", "text": "ab"}).status_code == 200
