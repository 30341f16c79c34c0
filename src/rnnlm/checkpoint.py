"""Checkpoints: a directory of safetensors + JSON, written so a crash never leaves it torn.

A checkpoint directory holds model.safetensors, config.json, tokenizer.json and state.json,
plus trainer.safetensors (optimizer moments, RNG states, the carried hidden state) in `last/`.
It is built as NAME.partial/ and state.json is written last; then NAME/ → NAME.old/,
NAME.partial/ → NAME/, NAME.old/ removed. A kill -9 at any moment leaves one complete copy,
which `recover` puts back under NAME/. Nothing is ever unpickled.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, load_model, save_file, save_model

from rnnlm.config import RunConfig
from rnnlm.configfile import load_json
from rnnlm.errors import RnnlmError
from rnnlm.fileio import fsync_dir, replace_dir, write_text_atomic
from rnnlm.models import LanguageModelNet, build_model
from rnnlm.tokenizers import Tokenizer, load_tokenizer, save_tokenizer

MODEL, TRAINER, STATE = "model.safetensors", "trainer.safetensors", "state.json"
SOURCE_TOKENIZER = "source_tokenizer.json"  # an encoder–decoder's source side, if not shared
PICKLE_SUFFIXES = {".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle"}


def is_complete(path: Path) -> bool:
    """A checkpoint directory is complete once its state.json exists (it is written last)."""
    return (path / STATE).is_file()


def save_checkpoint(path: Path, model: LanguageModelNet, config: RunConfig, tokenizer: Tokenizer,
                    state: dict[str, Any], tensors: dict[str, torch.Tensor] | None = None,
                    source_tokenizer: Tokenizer | None = None) -> None:
    """Write a complete checkpoint to `path` atomically (see the module docstring); an
    encoder–decoder with a source tokenizer of its own also gets source_tokenizer.json."""
    partial = path.with_name(path.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    save_weights(model, partial / MODEL)
    if tensors:
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()},
                  str(partial / TRAINER))
    config.save(partial / "config.json")
    save_tokenizer(tokenizer, partial / "tokenizer.json")
    if source_tokenizer is not None:
        save_tokenizer(source_tokenizer, partial / SOURCE_TOKENIZER)
    for f in partial.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    write_text_atomic(partial / STATE, json.dumps(state, indent=1) + "\n")
    fsync_dir(partial)
    replace_dir(partial, path)


def recover(path: Path) -> None:
    """Finish or roll back an interrupted save_checkpoint so `path` is complete (if any copy is)."""
    partial, old = path.with_name(path.name + ".partial"), path.with_name(path.name + ".old")
    if not is_complete(path):
        for candidate in (partial, old):
            if is_complete(candidate):
                shutil.rmtree(path, ignore_errors=True)
                candidate.rename(path)
                break
    for leftover in (partial, old):
        if leftover.exists() and is_complete(path):
            shutil.rmtree(leftover, ignore_errors=True)


def refuse_pickle(path: Path) -> None:
    """Refuse PyTorch/pickle files: unpickling can run arbitrary code."""
    head = path.read_bytes()[:2] if path.is_file() else b""
    if path.suffix.lower() in PICKLE_SUFFIXES or head[:1] == b"\x80" or head == b"PK":
        raise RnnlmError(f"{path} is a PyTorch pickle file; rnnlm never unpickles files (that can "
                         f"run arbitrary code). Give an rnnlm run or checkpoint directory")


def resolve(path: str | Path, which: str = "best") -> Path:
    """A run directory (→ its best/ or last/ checkpoint) or a checkpoint directory → the latter."""
    p = Path(path)
    if not p.exists():
        raise RnnlmError(f"no such run or checkpoint: {p}; give a run directory (runs/NAME) or "
                         f"its best/ or last/ folder")
    if p.is_file():
        if p.name == MODEL:
            return resolve(p.parent)
        refuse_pickle(p)
        raise RnnlmError(f"{p} is a file; give an rnnlm run or checkpoint directory")
    if (p / MODEL).exists() or (p / STATE).exists():
        return p
    order = [which] + [w for w in ("best", "last") if w != which]
    for name in order:
        for candidate in (p / name, p / f"{name}.partial", p / f"{name}.old"):
            if is_complete(candidate):
                return candidate
    raise RnnlmError(f"{p} holds no complete checkpoint (no best/ or last/ with state.json); "
                     f"train it first or give another run")


def read_state(ckpt: Path) -> dict[str, Any]:
    """state.json of a checkpoint."""
    try:
        return json.loads((ckpt / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise RnnlmError(f"checkpoint {ckpt} is corrupted or truncated ({STATE}: {e}); "
                         f"use the run's other checkpoint (best/ or last/) or retrain") from None


def load_model_dir(ckpt: Path, device: torch.device | str = "cpu"
                   ) -> tuple[LanguageModelNet, Tokenizer, RunConfig]:
    """Model (on device, eval mode), tokenizer and config of a checkpoint directory."""
    for name in (MODEL, "config.json", "tokenizer.json"):
        if not (ckpt / name).is_file():
            raise RnnlmError(f"checkpoint {ckpt} lacks {name}; it is not a complete rnnlm "
                             f"checkpoint (use the run's best/ or last/ folder)")
    config = load_json(ckpt / "config.json").resolve()
    if config.pairs:
        raise RnnlmError(f"{ckpt} is an encoder–decoder (trained with --pairs), not a language "
                         f"model; use `rnnlm translate {ckpt.parent}` (and `rnnlm eval`)")
    if config.captions:
        raise RnnlmError(f"{ckpt} is an image captioner (trained with --captions), not a "
                         f"language model; use `rnnlm caption {ckpt.parent} IMAGE.jpg` (and "
                         f"`rnnlm eval`)")
    tokenizer = load_tokenizer(ckpt / "tokenizer.json")
    if tokenizer.kind != config.data.tokenizer:
        raise RnnlmError(f"{ckpt}: tokenizer.json is a {tokenizer.kind} tokenizer but config.json "
                         f"says {config.data.tokenizer}; the files come from different runs")
    boundaries = 2 if config.data.mode == "documents" else 0  # BOD and EOD follow the tokenizer
    if tokenizer.vocab_size + boundaries != config.model.vocab_size:
        raise RnnlmError(f"{ckpt}: tokenizer.json has {tokenizer.vocab_size} ids but config.json "
                         f"says {config.model.vocab_size}; the files come from different runs")
    model = build_model(config.model, device)
    load_weights(model, ckpt / MODEL)
    return model.to(device).eval(), tokenizer, config


def save_weights(model: LanguageModelNet, file: Path) -> None:
    """Weights as safetensors, written from a CPU copy when the model is on a GPU (where cuDNN
    packs each RNN's weights into one buffer, which safetensors refuses to save in pieces)."""
    if any(p.device.type != "cpu" for p in model.parameters()):
        model = copy.deepcopy(model).cpu()
    save_model(model, str(file))


def load_weights(model: LanguageModelNet, file: Path) -> None:
    """Load safetensors weights into a CPU model; one-line errors for damage and mismatch."""
    try:
        load_model(model, str(file), strict=True)
    except SafetensorError as e:
        raise RnnlmError(f"checkpoint file {file} is corrupted or truncated ({e}); use the "
                         f"run's other checkpoint (best/ or last/) or retrain") from None
    except RuntimeError as e:
        detail = str(e).splitlines()
        reason = next((line.strip() for line in detail[1:] if line.strip()), detail[0])
        raise RnnlmError(f"checkpoint {file} does not fit its config.json ({reason}); the "
                         f"weights come from a different model configuration") from None


def load_tensors(file: Path) -> dict[str, torch.Tensor]:
    """The trainer tensors of a checkpoint (optimizer, RNG, hidden state)."""
    try:
        return load_file(str(file))
    except (SafetensorError, OSError) as e:
        raise RnnlmError(f"checkpoint file {file} is corrupted or truncated ({e}); resume "
                         f"from another copy or retrain") from None
