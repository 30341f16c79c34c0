"""Errors in OpenAI's shape, {"error": {"message", "type", "param", "code"}}, with the
status that says what went wrong, and never a traceback in a response."""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("rnnlm.serve")
DRAIN = 1 << 27  # bytes of an oversized body read before answering 413


class ApiError(Exception):
    """A refused request: its status, message, OpenAI error type, parameter and code."""

    def __init__(self, status: int, message: str, param: str | None = None,
                 code: str | None = None, kind: str = "invalid_request_error",
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.kind, self.headers = kind, headers


def body(message: str, kind: str, param: str | None = None, code: str | None = None
         ) -> dict[str, dict[str, str | None]]:
    """The OpenAI error object."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def response(e: ApiError) -> JSONResponse:
    """The JSON response of an ApiError."""
    return JSONResponse(body(e.message, e.kind, e.param, e.code), status_code=e.status,
                        headers=e.headers)


def validation_message(err: dict) -> tuple[str, str | None]:
    """(message, param) of pydantic's first error: the field's dotted name and what it
    must be."""
    loc = [str(x) for x in err.get("loc", ()) if x != "body"]
    if err.get("type") == "json_invalid":
        return f"the request body is not valid JSON: {err.get('ctx', {}).get('error', '')}", None
    if err.get("type") == "model_attributes_type":
        return "the request body must be a JSON object", None
    # pydantic names the union member it tried ('prompt.str'); the field is what matters
    fields = [x for x in loc if x not in ("str", "int", "float", "bool") and not x.isdigit()
              and not x.startswith(("list[", "function-", "constrained-"))]
    param = ".".join(fields) or None
    msg = err.get("msg", "invalid value")
    if err.get("type") == "extra_forbidden":
        msg = "rnnlm does not know this parameter"
    return f"{param}: {msg}" if param else msg, param


def install(app: FastAPI) -> None:
    """Map every failure to the OpenAI error shape."""

    @app.exception_handler(ApiError)
    async def api_error(_: Request, e: ApiError) -> JSONResponse:
        return response(e)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        message, param = validation_message(e.errors()[0])
        return JSONResponse(body(message, "invalid_request_error", param,
                                 "invalid_value" if param else "invalid_json"),
                            status_code=400)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, e: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(e.status_code)
        return JSONResponse(body(str(e.detail), "invalid_request_error", None, code),
                            status_code=e.status_code, headers=getattr(e, "headers", None))

    @app.exception_handler(Exception)
    async def crashed(_: Request, e: Exception) -> JSONResponse:
        log.exception("an internal error")
        return JSONResponse(body("internal server error; the server log has the details",
                                 "server_error"), status_code=500)


class BodyLimit:
    """ASGI middleware: refuse request bodies over `limit` bytes with 413 before the app
    sees them (counted as they arrive, so a chunked body is bounded too)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks, size, more = [], 0, True
        while more:  # read the whole body (bounded), then replay it to the app
            message = await receive()
            if message["type"] != "http.request":
                break
            more = message.get("more_body", False)
            size += len(message.get("body", b""))
            if size > self.limit:  # read the rest unkept (up to DRAIN), so the client
                while more and size < DRAIN:  # sees the 413 instead of a reset
                    message = await receive()
                    more = message.get("more_body", False) and message["type"] == "http.request"
                    size += len(message.get("body", b""))
                await self.refuse(send)
                return
            chunks.append(message.get("body", b""))
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def refuse(self, send: Send) -> None:
        """413 in the OpenAI shape."""
        data = json.dumps(body(f"the request body is over the server's limit of "
                               f"{self.limit:,} bytes", "invalid_request_error", None,
                               "request_too_large")).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(data)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": data})
