"""`rnnlm translate`: translate (or summarize) sentences with an encoder–decoder run."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, TextIO

from rnnlm.data.text import read_text
from rnnlm.errors import RnnlmError
from rnnlm.inference.beam import Hypothesis
from rnnlm.inference.fusion import load_fusion, rerank
from rnnlm.options import Arg
from rnnlm.translation import Translator
from rnnlm.verbs import Checkpoint, Device, Run


def translate(run: Run, text: Annotated[str | None, Arg(
                  "a sentence (default: --file, else one per line of stdin)")] = None, *,
              file: Annotated[str | None, Arg("one source per line", metavar="FILE")] = None,
              beam: Annotated[int, Arg("beam size; 1 is greedy search")] = 5,
              alpha: Annotated[float, Arg("GNMT length penalty α (0: none)")] = 0.6,
              max_ratio: Annotated[float, Arg(
                  "an output is at most this many times its source's tokens, + 10")] = 2.0,
              nbest: Annotated[int, Arg("print the K best outputs of each input, tab-separated "
                                        "from their scores", metavar="K")] = 1,
              batch_size: Annotated[int, Arg("inputs searched at once")] = 64,
              lm: Annotated[str | None, Arg(
                  "shallow fusion with this target-side rnnlm language model (a documents-mode "
                  "run with the decoder's tokenizer)", metavar="RUN")] = None,
              lm_weight: Annotated[float, Arg("λ: the language model's weight in fusion and "
                                              "reranking")] = 0.2,
              rerank_nbest: Annotated[bool, Arg(
                  "with --lm: rerank the beam's hypotheses by adding λ × the language model's "
                  "log-probability, instead of fusing it in at every step")] = False,
              attention: Annotated[str | None, Arg(
                  "draw the attention of the first input as a heatmap (matplotlib)",
                  metavar="OUT.png")] = None,
              checkpoint: Checkpoint = "best", device: Device = "auto",
              out: TextIO | None = None) -> list[list[Hypothesis]]:
    """Translate or summarize: one output line per input line, in order.

    The inputs are the sentence given, or the lines of --file, or of stdin. --nbest K prints
    K lines per input (score TAB output). With --lm, a language model's log-probabilities are
    added at every search step (shallow fusion) or, with --rerank-nbest, to the beam's final
    hypotheses (n-best reranking).
    """
    out = out or sys.stdout
    if beam < 1:
        raise RnnlmError(f"--beam must be 1 or more (got {beam}); 1 is greedy search")
    translator = Translator.load(run, device=device, which=checkpoint)
    sources = inputs(text, file)
    fusion = load_fusion(lm, lm_weight, translator) if lm else None
    hyps = translator.translate(sources, beam, alpha, max_ratio,
                                beam if rerank_nbest else nbest, batch_size,
                                None if rerank_nbest else fusion, attention=bool(attention))
    if rerank_nbest and fusion is not None:
        hyps = [rerank(h, fusion, translator.boundaries, alpha)[:nbest] for h in hyps]
    for found in hyps:
        for h in found:
            out.write(f"{h.score:.4f}\t{h.text}\n" if nbest > 1 else h.text + "\n")
    out.flush()
    if attention:
        from rnnlm.inference.heatmap import draw_attention

        draw_attention(translator, sources[0], hyps[0][0], Path(attention))
    return hyps


def inputs(text: str | None, file: str | None) -> list[str]:
    """The sources: the sentence given, the lines of a file, or stdin's lines."""
    if text is not None and file is not None:
        raise RnnlmError("give a sentence or --file, not both")
    if text is not None:
        return [text]
    body = read_text(Path(file)) if file is not None else sys.stdin.read()
    lines = body.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line
    if not lines:
        raise RnnlmError(f"{file or 'stdin'} holds no lines to translate")
    return [line.rstrip("\r") for line in lines]
