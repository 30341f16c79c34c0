"""Stop strings that never reach the client, not even when one arrives split over tokens.

Generated tokens are held back while the text they end with could still be the start of a
stop string; a token is released only once no stop string can begin inside it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Token:
    """One generated (or echoed) token: its text, and with logprobs its log-probability in
    nats and the top alternatives {text: log-probability}."""

    text: str
    logprob: float | None = None
    top: dict[str, float] | None = None


class StopText:
    """Holds back tokens that might begin a stop string; push() says what may be sent."""

    def __init__(self, stops: list[str]) -> None:
        self.stops = [s for s in stops if s]
        self.pending: list[Token] = []

    def held(self, text: str) -> int:
        """Characters at the end of text that are a proper start of some stop string."""
        for k in range(min(len(text), max(map(len, self.stops), default=1) - 1), 0, -1):
            if any(s.startswith(text[-k:]) for s in self.stops):
                return k
        return 0

    def push(self, token: Token) -> tuple[list[Token], bool]:
        """Add a token; (the tokens now safe to send, whether a stop string was reached).
        At a stop, the token holding its start is cut there (dropped if nothing is left)."""
        if not self.stops:
            return [token], False
        self.pending.append(token)
        text = "".join(t.text for t in self.pending)
        hits = [i for i in (text.find(s) for s in self.stops) if i >= 0]
        cut = min(hits) if hits else len(text) - self.held(text)
        out, start = [], 0
        for t in self.pending:
            end = start + len(t.text)
            if end > cut:
                if hits and cut > start:
                    out.append(Token(t.text[: cut - start], t.logprob, t.top))
                break
            out.append(t)
            start = end
        self.pending = [] if hits else self.pending[len(out):]
        return out, bool(hits)

    def flush(self) -> list[Token]:
        """The tokens still held (the stream ended without reaching a stop string)."""
        out, self.pending = self.pending, []
        return out
