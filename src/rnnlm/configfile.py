"""Config files: the TOML tables `rnnlm train --config` reads and a run's config.json, read
into a RunConfig (config.py) with one-line errors that name the key or the file at fault."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from rnnlm.config import GROUPS, RunConfig
from rnnlm.errors import RnnlmError
from rnnlm.options import parse_duration

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

RENAMED = {"data": {"split": "word_split"}}  # keys of older config files → today's fields


def group_from_dict(cls: type, values: dict[str, Any], where: str) -> Any:
    """One dataclass of GROUPS from its table, refusing unknown keys by name."""
    name = next(n for n, c in GROUPS.items() if c is cls)
    values = {RENAMED.get(name, {}).get(k, k): v for k, v in values.items()}
    names = {f.name for f in dataclasses.fields(cls)}
    bad = set(values) - names
    if bad:
        raise RnnlmError(f"unknown key {sorted(bad)[0]!r} in [{name}] of {where}; "
                         f"known keys: {', '.join(sorted(names))}")
    if isinstance(values.get("max_time"), str):
        values["max_time"] = parse_duration(values["max_time"])
    return cls(**values)


def from_dict(data: dict[str, Any], source: str = "config") -> RunConfig:
    """Build a RunConfig from nested dicts, refusing unknown keys by name."""
    unknown = set(data) - {*GROUPS, "init_from"}
    if unknown:
        raise RnnlmError(f"unknown key {sorted(unknown)[0]!r} in {source}; "
                         f"expected tables [model], [data], [train], [seq2seq], [caption]")
    groups = {name: group_from_dict(cls, dict(data.get(name, {})), source)
              for name, cls in GROUPS.items()}
    return RunConfig(**groups, init_from=data.get("init_from"))


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file into nested dicts."""
    p = Path(path)
    if not p.is_file():
        raise RnnlmError(f"config file {p} does not exist; check the path given to --config")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise RnnlmError(f"config file {p} is not valid TOML ({e}); fix the syntax") from None


def read_json(path: Path) -> dict[str, Any]:
    """A JSON file of a run or model, with a one-line error when it is unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise RnnlmError(f"cannot read {path} ({e}); the run directory is damaged") from None


def load_json(path: Path) -> RunConfig:
    """Read a run's config.json. A documents-mode run saved before --chunk had a default
    (chunk null) backpropagated through whole documents: it keeps doing so (chunk 0)."""
    config = from_dict(read_json(path), str(path))
    if config.data.mode == "documents" and config.data.chunk is None:
        config.data.chunk = 0
    return config
