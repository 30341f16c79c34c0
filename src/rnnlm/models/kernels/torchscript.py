"""TorchScript for the hand-written recurrence loops, with an eager fallback.

TorchScript is deprecated but still compiles a Python time loop into one graph; torch.compile
instead unrolls the loop, which takes minutes of compiling per sequence length.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch

Loops = tuple[Callable[..., Any], Callable[..., Any]]  # (forward loop, backward loop)
_compiled: dict[str, Loops] = {}


def compile_loops(name: str, loops: Loops) -> Loops:
    """A recurrence's two loops (forward, backward) compiled by TorchScript, once per process;
    the eager ones, with one warning, when that fails."""
    if name not in _compiled:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # TorchScript's notice
                _compiled[name] = (torch.jit.script(loops[0]), torch.jit.script(loops[1]))
        except Exception as err:  # any compiler failure: run eagerly
            first = (str(err).strip().splitlines() or [type(err).__name__])[0]
            warnings.warn(f"{name} recurrence not compiled ({first}); running it eagerly",
                          RuntimeWarning, stacklevel=2)
            _compiled[name] = loops
    return _compiled[name]


def reset_compiled() -> None:
    """Forget the compiled loops (tests force a failing compiler)."""
    _compiled.clear()
