"""Bad requests get an OpenAI error object with the right status, naming the parameter, and
never a traceback; the server keeps serving after each one."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.serve.conftest import running

KEY = "sk-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def server(tiny_run: Path) -> Iterator[tuple[str, dict]]:
    """A server with an API key and the default caps (100 streams, max_tokens 4096)."""
    with running([tiny_run], api_key=KEY) as served:
        yield served


@pytest.fixture(scope="module")
def http(server: tuple[str, dict]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server[0], headers=AUTH, timeout=60) as c:
        yield c


def refused(http: httpx.Client, status: int, param: str | None, body: object = None, *,
            content: bytes | None = None, headers: dict | None = None,
            path: str = "/v1/completions") -> dict:
    """POST a bad request: its status, the error shape and the parameter named; then a good
    request still works."""
    r = http.post(path, json=body, content=content, headers=headers)
    assert r.status_code == status, r.text
    assert "Traceback" not in r.text and 'File "' not in r.text
    error = r.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    assert error["param"] == param, error
    ok = http.post("/v1/completions", json={"model": "tiny", "prompt": "A", "max_tokens": 2})
    assert ok.status_code == 200 and len(ok.json()["choices"][0]["text"]) == 2
    return error


def good(**kw: object) -> dict:
    return {"model": "tiny", "prompt": "To be", "max_tokens": 4, **kw}


@pytest.mark.parametrize("field,value", [
    ("max_tokens", "lots"), ("max_tokens", 2.5), ("prompt", 123), ("prompt", [1, 2]),
    ("temperature", "hot"), ("stream", "yes"), ("n", None), ("stop", 7),
])
def test_wrong_types(http: httpx.Client, field: str, value: object) -> None:
    refused(http, 400, field, good(**{field: value}))


@pytest.mark.parametrize("field,value", [
    ("max_tokens", -1), ("max_tokens", 10**9), ("top_p", 0), ("top_p", 2), ("n", 0),
    ("n", 1000), ("temperature", 3), ("temperature", -0.5), ("logprobs", 6), ("top_k", 0),
    ("stop", ["a", "b", "c", "d", "e"]), ("frequency_penalty", 0.5), ("best_of", 3),
])
def test_values_out_of_range(http: httpx.Client, field: str, value: object) -> None:
    error = refused(http, 400, field, good(**{field: value}))
    assert field in error["message"]


def test_unknown_model(http: httpx.Client) -> None:
    error = refused(http, 404, "model", good(model="gpt-4"))
    assert error["code"] == "model_not_found" and "tiny" in error["message"]


def test_unknown_parameter(http: httpx.Client) -> None:
    refused(http, 400, "temprature", good(temprature=0.5))


def test_empty_prompt_list(http: httpx.Client) -> None:
    refused(http, 400, "prompt", good(prompt=[]))


def test_characters_outside_a_char_models_vocabulary(http: httpx.Client) -> None:
    """Refused, naming them: the model's <unk> never occurred in training."""
    error = refused(http, 400, "prompt", good(prompt="Hello ☃ and 0"))
    assert error["code"] == "unknown_characters" and "U+2603" in error["message"]


def test_prompt_over_the_token_cap(http: httpx.Client) -> None:
    error = refused(http, 400, "prompt", good(prompt="a" * 5000))
    assert error["code"] == "context_length_exceeded"


def test_too_many_choices(http: httpx.Client) -> None:
    refused(http, 400, "n", good(prompt=["a"] * 10, n=2))


def test_ten_megabyte_body(http: httpx.Client) -> None:
    body = b'{"model": "tiny", "prompt": "' + b"a" * 10_000_000 + b'"}'
    error = refused(http, 413, None, content=body, headers={"Content-Type": "application/json"})
    assert error["code"] == "request_too_large"


@pytest.mark.parametrize("content", [b'{"model": "tiny", "prompt": ', b"not json", b"[1, 2]"])
def test_malformed_json(http: httpx.Client, content: bytes) -> None:
    refused(http, 400, None, content=content, headers={"Content-Type": "application/json"})


def test_missing_key(server: tuple[str, dict], http: httpx.Client) -> None:
    error = refused(http, 401, None, good(), headers={"Authorization": ""})
    assert error["code"] == "missing_api_key"
    r = httpx.get(server[0] + "/v1/models")
    assert r.status_code == 401 and r.json()["error"]["code"] == "missing_api_key"


def test_wrong_key(server: tuple[str, dict], http: httpx.Client) -> None:
    error = refused(http, 401, None, good(), headers={"Authorization": "Bearer sk-wrong"})
    assert error["code"] == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server[0] + "/v1", api_key="sk-wrong", max_retries=0
                      ).models.list()
    client = openai.OpenAI(base_url=server[0] + "/v1", api_key=KEY, max_retries=0)
    assert client.completions.create(model="tiny", prompt="A", max_tokens=3).choices[0].text


def test_unknown_route_and_method(http: httpx.Client) -> None:
    r = http.get("/v1/nothing")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = http.get("/v1/completions")
    assert r.status_code == 405 and "error" in r.json()


def wait_for(check, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_disconnect_mid_stream_frees_the_rows(server: tuple[str, dict],
                                              http: httpx.Client) -> None:
    sched = server[1]["tiny"]
    with http.stream("POST", "/v1/completions",
                     json=good(max_tokens=4096, n=3, stream=True)) as r:
        lines = r.iter_lines()
        assert next(lines).startswith("data: ")
        assert sched.active == 3
    wait_for(lambda: sched.active == 0 and sched.reserved == 0)  # before 4,096 tokens
    refused(http, 404, "model", good(model="nope"))  # and it still serves


def test_the_101st_stream_over_the_cap_of_100(server: tuple[str, dict],
                                              http: httpx.Client) -> None:
    """100 streams in flight: the 101st gets 429 with Retry-After; once they close, the
    rows are freed and requests are served again."""
    url, models = server
    sched = models["tiny"]
    stop = threading.Event()
    opened = []

    async def hold() -> None:
        async with httpx.AsyncClient(base_url=url, headers=AUTH, timeout=60) as c:
            async def one(i: int) -> None:
                async with c.stream("POST", "/v1/completions",
                                    json=good(prompt="ab"[i % 2], max_tokens=4096,
                                              stream=True)) as r:
                    assert r.status_code == 200
                    opened.append(i)
                    while not stop.is_set():
                        await asyncio.sleep(0.05)

            await asyncio.gather(*(one(i) for i in range(100)))

    thread = threading.Thread(target=asyncio.run, args=(hold(),), daemon=True)
    thread.start()
    wait_for(lambda: len(opened) == 100)
    assert sched.reserved == 100
    r = http.post("/v1/completions", json=good())
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    assert r.json()["error"]["code"] == "too_many_streams"
    stop.set()
    thread.join(timeout=30)
    wait_for(lambda: sched.reserved == 0 and sched.active == 0)
    refused(http, 400, "n", good(n=0))
