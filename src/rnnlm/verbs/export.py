"""`rnnlm export`: a trained run as files that run without PyTorch (ONNX)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from rnnlm.export.onnx import SEQUENCE, SIDECAR, STEP, export_onnx
from rnnlm.options import Arg
from rnnlm.verbs import Checkpoint, Run

FORMATS = ("onnx",)


def export(run: Run, *,
           format: Annotated[str, Arg("what to write", choices=FORMATS)] = "onnx",
           out: Annotated[str | Path | None, Arg("the folder to write (default: RUN/onnx)",
                                                 metavar="DIR")] = None,
           checkpoint: Checkpoint = "best") -> Path:
    """Export a run for runtimes without PyTorch: ONNX step and sequence models + sidecar.

    Each file's logits are checked against PyTorch's with onnxruntime before the folder is
    moved into place; a cell that ONNX cannot run is refused with a one-line error.
    """
    folder = export_onnx(run, out, checkpoint)
    print(f"wrote {folder}/: {STEP}, {SEQUENCE}, {SIDECAR}, tokenizer.json "
          f"(sample with: python examples/onnx_sample.py {folder})")
    return folder
