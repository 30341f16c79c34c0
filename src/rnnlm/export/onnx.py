"""`rnnlm export --format onnx`: a run's model as two ONNX files and a JSON sidecar, enough for
a program without PyTorch (examples/onnx_sample.py) to prime and sample it.

    step.onnx      ids (batch,) int64 + state → logits (batch, V) fp32 + state
    sequence.onnx  ids (batch, time) int64 + state → logits (batch, time, V) + final state
    rnnlm.json     the state tensors' names and shapes, the vocabulary as bytes per id, how to
                   encode a prime, the ids never to sample, BOD/EOD of a documents-mode run
    tokenizer.json the run's tokenizer (its HuggingFace model, for bpe and unigram primes)

The graphs come from torch.onnx's exporter (torch.export; recurrences as ONNX Scan) over the
traceable programs in export/graphs.py. Before the folder is moved into place, onnxruntime
runs both files on a probe of other batch and length than the export's example and their
logits must match PyTorch's; the files are written into OUT.partial and renamed, so a crash
leaves no half-written export under OUT.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rnnlm.errors import RnnlmError
from rnnlm.export.graphs import (
    RecurrentSequence,
    RecurrentStep,
    TransformerSequence,
    TransformerStep,
)
from rnnlm.fileio import fsync_dir, replace_dir, write_text_atomic
from rnnlm.language_model import LanguageModel
from rnnlm.models.rnn import GATES, RNNLanguageModel
from rnnlm.models.transformer import TransformerLanguageModel
from rnnlm.tokenizers import save_tokenizer

FORMAT, VERSION = "rnnlm-onnx", 1
STEP, SEQUENCE, SIDECAR = "step.onnx", "sequence.onnx", "rnnlm.json"
TOLERANCE = 1e-4  # the largest |ONNX − PyTorch| logit (fp32) the probe accepts
ENCODERS = {"char": "characters", "byte": "bytes", "bpe": "huggingface",
            "unigram": "huggingface"}  # how a program without rnnlm encodes a prime


@dataclass
class Programs:
    """The two traceable modules of a model and the state tensors they take, in order."""

    step: nn.Module
    sequence: nn.Module
    state: list[dict[str, Any]]  # name, shape (with "batch"), dtype


def programs(model: nn.Module) -> Programs:
    """The step and sequence programs of a model, or a one-line refusal naming its cell."""
    cfg = getattr(model, "cfg", None)
    if isinstance(model, TransformerLanguageModel):
        shape = [1, "batch", model.block - 1]
        return Programs(TransformerStep(model), TransformerSequence(model),
                        [dict(name="context", shape=shape, dtype="int64")])
    if isinstance(model, RNNLanguageModel) and cfg.cell in GATES:
        names = ["h", "c"] if cfg.cell == "lstm" else ["h"]
        shape = [cfg.layers, "batch", cfg.hidden]
        return Programs(RecurrentStep(model), RecurrentSequence(model),
                        [dict(name=n, shape=shape, dtype="float32") for n in names])
    cell = getattr(cfg, "cell", type(model).__name__)
    raise RnnlmError(f"cannot export the {cell} cell to ONNX: rnnlm has no ONNX program for "
                     f"it (it exports lstm, gru, rnn with every activation, and transformer)")


def example_sizes(model: nn.Module) -> tuple[int, int]:
    """(batch, time) of the tracing example: sizes none of the model's own dimensions has,
    so that torch.export never mistakes them for a fixed dimension."""
    cfg = model.cfg
    taken = {cfg.layers, cfg.hidden, cfg.vocab_size, cfg.embedding, cfg.heads, cfg.block,
             3 * cfg.hidden, 4 * cfg.hidden, (cfg.block or 2) - 1}
    free = [n for n in range(5, 64) if n not in taken]
    return free[0], free[1]


def zero_state(state: list[dict[str, Any]], batch: int) -> list[torch.Tensor]:
    """The zero state for `batch` streams."""
    dtypes = {"float32": torch.float32, "int64": torch.int64}
    return [torch.zeros([batch if d == "batch" else d for d in s["shape"]],
                        dtype=dtypes[s["dtype"]]) for s in state]


def export_program(program: nn.Module, ids: torch.Tensor, state: list[torch.Tensor],
                   names: list[str], path: Path, cell: str) -> None:
    """torch.onnx.export of one program with batch (and time) dynamic, quietly."""
    batch, time = torch.export.Dim("batch"), torch.export.Dim("time")
    ids_dims = {0: batch, 1: time} if ids.dim() == 2 else {0: batch}
    state_dims = tuple({1: batch} for _ in state)  # (…, batch, …) every state tensor
    if isinstance(program, RecurrentStep | RecurrentSequence):
        shapes = (ids_dims, state_dims)  # forward(ids, *state): the state is one argument
    else:
        shapes = (ids_dims, *state_dims)
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    try:
        logger.setLevel(logging.ERROR)
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(program, (ids, *state), str(path), dynamo=True,
                              dynamic_shapes=shapes, input_names=["ids", *names],
                              output_names=["logits", *[f"{n}_out" for n in names]],
                              external_data=False, verbose=False)
    except Exception as e:  # the exporter raises many kinds; the user needs its first line
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise RnnlmError(f"cannot export the {cell} cell to ONNX: torch.onnx failed ({first})"
                         ) from None
    finally:
        logger.setLevel(level)


def probe(model: nn.Module, folder: Path, state: list[dict[str, Any]], batch: int,
          time: int) -> float:
    """The largest |logit| difference between onnxruntime (both files) and PyTorch on random
    ids of a batch and length the export did not see; the step file stepped through them."""
    import onnxruntime as ort

    ids = torch.randint(0, model.cfg.vocab_size, (batch, time),
                        generator=torch.Generator().manual_seed(0))
    zeros = [s.numpy() for s in zero_state(state, batch)]
    names = [s["name"] for s in state]
    with torch.no_grad():
        torch_state = None
        expected = []
        for t in range(time):  # the model stepped, as generation runs it
            logits, torch_state = model(ids[:, t: t + 1], torch_state)  # (B, 1, V)
            expected.append(logits[:, 0])
        whole = model(ids)[0].numpy()  # (B, T, V)
    options = ort.SessionOptions()
    options.log_severity_level = 3
    sequence = ort.InferenceSession(str(folder / SEQUENCE), options)
    got = sequence.run(None, {"ids": ids.numpy(), **dict(zip(names, zeros, strict=True))})[0]
    worst = float(np.abs(got - whole).max())
    step = ort.InferenceSession(str(folder / STEP), options)
    carried = zeros
    for t in range(time):
        out = step.run(None, {"ids": ids[:, t].numpy(), **dict(zip(names, carried, strict=True))})
        carried = out[1:]
        worst = max(worst, float(np.abs(out[0] - expected[t].numpy()).max()))
    return worst


def sidecar(lm: LanguageModel, state: list[dict[str, Any]], difference: float) -> dict[str, Any]:
    """What a sampler needs besides the graphs: names, shapes, vocabulary, ids, boundaries."""
    cfg, tok, b = lm.config.model, lm.tokenizer, lm.boundaries
    never = tok.special_ids() + ([b.bod] if b else [])
    if b and lm.config.data.documents == "lines":
        never += lm.line_break_ids  # as LanguageModel.generate: EOD ends a line document
    tokens = [tok.token_bytes(i).hex() for i in range(tok.vocab_size)]
    tokens += [""] * (cfg.vocab_size - tok.vocab_size)  # BOD, EOD: no text
    return {
        "format": FORMAT, "version": VERSION,
        "model": {"cell": cfg.cell, "activation": cfg.activation if cfg.cell == "rnn" else None,
                  "layers": cfg.layers, "hidden": cfg.hidden, "vocab_size": cfg.vocab_size},
        "files": {"step": STEP, "sequence": SEQUENCE, "tokenizer": "tokenizer.json"},
        "inputs": {"step": {"ids": ["batch"]}, "sequence": {"ids": ["batch", "time"]}},
        "state": state,
        "outputs": ["logits", *[f"{s['name']}_out" for s in state]],
        "tokenizer": {"kind": tok.kind, "prime_encoder": ENCODERS.get(tok.kind),
                      "token_bytes_hex": tokens},
        "start_ids": lm.encode_prime("")[0].tolist(),  # a sample with no prime starts here
        "never_sample": sorted(set(never)),
        "documents": None if b is None else {"format": lm.config.data.documents,
                                             "bod": b.bod, "eod": b.eod},
        "checked": {"max_abs_logit_difference": difference, "against": "PyTorch, fp32"},
    }


def export_onnx(run: str | Path, out: str | Path | None = None, checkpoint: str = "best"
                ) -> Path:
    """Write a run's step and sequence models, sidecar and tokenizer to `out` (default: onnx/
    in the run directory, beside its checkpoints); returns the folder."""
    try:
        import onnxruntime  # noqa: F401  (the probe needs it; fail before any work)
        import onnxscript  # noqa: F401  (torch.onnx's exporter needs it)
    except ImportError as e:
        raise RnnlmError(f"ONNX export needs {e.name}: pip install 'rnnlm[onnx]'") from None
    lm = LanguageModel.load(run, device="cpu", which=checkpoint, precision="fp32")
    model = lm.model.float().eval()
    progs = programs(model)
    folder = Path(out) if out is not None else lm.path.parent / "onnx"  # beside best/, last/
    partial = folder.with_name(folder.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    batch, time = example_sizes(model)
    names = [s["name"] for s in progs.state]
    ids = torch.randint(0, model.cfg.vocab_size, (batch, time))
    export_program(progs.step, ids[:, 0], zero_state(progs.state, batch), names,
                   partial / STEP, model.cfg.cell)
    export_program(progs.sequence, ids, zero_state(progs.state, batch), names,
                   partial / SEQUENCE, model.cfg.cell)
    difference = probe(model, partial, progs.state, batch + 1, time + 2)
    if not difference <= TOLERANCE:
        shutil.rmtree(partial)
        raise RnnlmError(f"cannot export the {model.cfg.cell} cell to ONNX: onnxruntime's "
                         f"logits differ from PyTorch's by {difference:.2g} (over "
                         f"{TOLERANCE:g}); please report it")
    save_tokenizer(lm.tokenizer, partial / "tokenizer.json")
    write_text_atomic(partial / SIDECAR, json.dumps(sidecar(lm, progs.state, difference),
                                                    indent=1) + "\n")
    for f in partial.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    fsync_dir(partial)
    replace_dir(partial, folder)
    return folder
