"""The request bodies the server accepts: OpenAI's completions request (plus top_k) and
rnnlm's inspect request, validated strictly ("16" is not a number) so a bad value is
refused with its name instead of guessed at."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

MAX_STOPS = 4  # OpenAI's limit on stop strings


class StreamOptions(BaseModel):
    """stream_options: a last chunk with the usage."""

    model_config = ConfigDict(strict=True, extra="forbid")
    include_usage: bool = False


class CompletionRequest(BaseModel):
    """POST /v1/completions. Fields OpenAI has that rnnlm does not implement are accepted
    only at their neutral values (presence_penalty 0, ...), so no option is silently
    ignored; `user` is accepted and ignored, as it only labels the request."""

    model_config = ConfigDict(strict=True, extra="forbid")
    model: str
    prompt: str | Annotated[list[str], Field(min_length=1)] = ""
    max_tokens: Annotated[int, Field(ge=0)] = 16
    temperature: Annotated[float, Field(ge=0, le=2)] = 1.0  # 0: always the likeliest
    top_p: Annotated[float, Field(gt=0, le=1)] = 1.0
    top_k: Annotated[int, Field(ge=1)] | None = None
    n: Annotated[int, Field(ge=1)] = 1
    stop: str | Annotated[list[str], Field(max_length=MAX_STOPS)] | None = None
    seed: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    logprobs: Annotated[int, Field(ge=0, le=5)] | None = None
    echo: bool = False
    user: str | None = None
    presence_penalty: Annotated[float, Field(ge=0, le=0)] = 0.0
    frequency_penalty: Annotated[float, Field(ge=0, le=0)] = 0.0
    best_of: Annotated[int, Field(ge=1, le=1)] | None = None
    suffix: Annotated[str, Field(max_length=0)] | None = None

    def prompts(self) -> list[str]:
        """The prompt as a list."""
        return [self.prompt] if isinstance(self.prompt, str) else list(self.prompt)

    def stops(self) -> list[str]:
        """The stop strings as a list (empty strings mean nothing and are dropped)."""
        stop = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return [s for s in stop if s]


class InspectRequest(BaseModel):
    """POST /v1/inspect: a text to look inside, the units to show and how many to rank."""

    model_config = ConfigDict(strict=True, extra="forbid")
    model: str
    text: Annotated[str, Field(min_length=2)]
    top_k: Annotated[int, Field(ge=1, le=20)] = 5
    units: list[Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=2,
                                                                    max_length=2)]] = []
    state: Annotated[str, Field(pattern="^(hidden|cell)$")] = "hidden"
    rank: Annotated[int, Field(ge=0, le=100)] = 10
