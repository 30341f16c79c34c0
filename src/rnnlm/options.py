"""How an option is declared and read: each config field and verb parameter carries an `Arg`
(help, choices, value check, parser), from which the CLI builds its flags and the config its
checks; and the small parsers of option text (durations, escapes, document and pairs formats)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rnnlm.errors import RnnlmError

DOCUMENT_FORMATS = "lines (one per line), blank (separated by blank lines), jsonl:FIELD"
PAIRS_FORMATS = "tsv (source TAB target) or jsonl:SRC,TGT"

Check = tuple[Callable[[Any], bool], str]
POSITIVE: Check = (lambda v: v > 0, "greater than 0")
NON_NEGATIVE: Check = (lambda v: v >= 0, "0 or more")
UNIT_OPEN: Check = (lambda v: 0 <= v < 1, "in [0, 1)")
FRACTION: Check = (lambda v: 0 < v < 1, "in (0, 1)")
RATE: Check = (lambda v: 0 < v <= 1, "in (0, 1]")


@dataclass(frozen=True)
class Arg:
    """How an option looks on the command line: its help, allowed choices, a check of its
    value, a parser for its text, and a metavar."""

    help: str
    choices: tuple[str, ...] | None = None
    check: Check | None = None
    parse: Callable[[str], Any] | None = None
    metavar: str | None = None


@dataclass(frozen=True)
class Fields:
    """A verb parameter that takes the command-line fields of a config dataclass as flags
    (all of them, or the named ones); the verb receives the given ones as {field: value}."""

    cls: type
    names: tuple[str, ...] = ()


def opt(default: Any, help: str, *, cli: bool = True, **arg: Any) -> Any:
    """A config field with its option declaration (cli=False: set by rnnlm, not a flag)."""
    meta = {"arg": Arg(help, **arg), "cli": cli}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


def unescape(text: str) -> str:
    r"""Let users type \n and \t in option values (--prime, --stop)."""
    return text.replace("\\\\", "\0").replace("\\n", "\n").replace("\\t", "\t").replace("\0", "\\")


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([hms]?)")


def parse_duration(text: str | float) -> float:
    """'90s', '10m', '1h30m' or a plain number of seconds → seconds."""
    if isinstance(text, int | float):
        return float(text)
    s = text.strip().lower()
    parts = _DURATION.findall(s)
    if not s or "".join(n + u for n, u in parts) != s.replace(" ", ""):
        raise RnnlmError(f"cannot read the duration {text!r}; write it like 90s, 10m or 1h30m")
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "": 1.0}
    return sum(float(n) * scale[u] for n, u in parts)


def flag(name: str) -> str:
    """The CLI spelling of a field or parameter name."""
    return "--" + name.replace("_", "-")


def check_value(f: dataclasses.Field, value: Any) -> None:
    """Raise if a field's value is outside its choices or fails its check."""
    arg: Arg = f.metadata["arg"]
    if arg.choices and value is not None and value not in arg.choices:
        raise RnnlmError(f"{flag(f.name)} must be one of {', '.join(arg.choices)} "
                         f"(got {value!r})")
    if arg.check and value is not None and not arg.check[0](value):
        raise RnnlmError(f"{flag(f.name)} must be {arg.check[1]} (got {value})")


def check_format(fmt: str) -> str:
    """Return fmt if it names a document format, else a one-line error."""
    if fmt in ("lines", "blank") or (fmt.startswith("jsonl:") and len(fmt) > len("jsonl:")):
        return fmt
    raise RnnlmError(f"--documents must be {DOCUMENT_FORMATS} (got {fmt!r})")


def check_pairs(fmt: str) -> str:
    """Return fmt if it names a pairs format, else a one-line error."""
    fields = fmt[len("jsonl:"):].split(",") if fmt.startswith("jsonl:") else []
    if fmt == "tsv" or (len(fields) == 2 and all(f.strip() for f in fields)):
        return fmt
    raise RnnlmError(f"--pairs must be {PAIRS_FORMATS} (got {fmt!r})")
