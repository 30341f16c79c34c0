"""A trained encoder–decoder with its tokenizers and config: the object users load to
translate (or summarize) and to score pairs, as language_model.LanguageModel is for LMs."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import torch

from rnnlm.checkpoint import MODEL, SOURCE_TOKENIZER, load_weights, resolve
from rnnlm.config import RunConfig
from rnnlm.configfile import load_json
from rnnlm.data.buckets import pad_batch
from rnnlm.data.documents import Boundaries
from rnnlm.data.pairs import Pairs, encode_sources, encode_targets, pad_sources
from rnnlm.errors import RnnlmError
from rnnlm.fileio import write_text_atomic
from rnnlm.inference.beam import Fusion, Hypothesis, beam_search, greedy
from rnnlm.inference.metrics import PairsResult, bleu_chrf, rouge
from rnnlm.models.seq2seq import Seq2Seq
from rnnlm.models.state import lm_loss
from rnnlm.runtime import autocast, pick_device
from rnnlm.tokenizers import Tokenizer, load_tokenizer

EXTRA_LENGTH = 10  # output tokens allowed beyond max_ratio × the source's


class Translator:
    """Translate or summarize sources, or score pairs, with a trained encoder–decoder."""

    def __init__(self, model: Seq2Seq, source_tokenizer: Tokenizer, tokenizer: Tokenizer,
                 config: RunConfig, device: torch.device, precision: str = "fp32",
                 path: Path | None = None) -> None:
        self.model, self.source_tokenizer, self.tokenizer = model, source_tokenizer, tokenizer
        self.config, self.device, self.precision, self.path = config, device, precision, path
        self.boundaries = Boundaries.after(tokenizer)

    @classmethod
    def load(cls, path: str | Path, device: str = "auto", which: str = "best") -> Translator:
        """Load a pairs run directory (its best/ or last/ checkpoint) or a checkpoint."""
        ckpt = resolve(path, which)
        config = load_json(ckpt / "config.json").resolve()
        if config.captions:
            raise RnnlmError(f"{path} is an image captioner, not an encoder–decoder; describe "
                             f"images with `rnnlm caption {path} IMAGE.jpg`")
        if not config.pairs:
            raise RnnlmError(f"{path} is a language model, not an encoder–decoder; translate "
                             f"with a run trained with --pairs (sample this one with `rnnlm "
                             f"sample {path}`)")
        tokenizer = load_tokenizer(ckpt / "tokenizer.json")
        source = ckpt / SOURCE_TOKENIZER
        source_tokenizer = load_tokenizer(source) if source.is_file() else tokenizer
        dev = pick_device(device)
        model = Seq2Seq(config.model, config.seq2seq)
        load_weights(model, ckpt / MODEL)
        return cls(model.to(dev).eval(), source_tokenizer, tokenizer, config, dev, "fp32", ckpt)

    def encode(self, sources: list[str]) -> list[np.ndarray]:
        """Source ids, truncated (with a count printed) to the model's --max-source-length."""
        empty = next((i for i, s in enumerate(sources, 1) if not s.strip()), None)
        if empty is not None:
            raise RnnlmError(f"input {empty} is empty; give one non-empty sentence per line")
        return encode_sources(self.source_tokenizer, sources,
                              self.config.seq2seq.max_source_length, "input")

    def translate(self, sources: list[str], beam: int = 1, alpha: float = 0.6,
                  max_ratio: float = 2.0, nbest: int = 1, batch_size: int = 64,
                  lm: Fusion | None = None, attention: bool = False
                  ) -> list[list[Hypothesis]]:
        """The nbest outputs of each source, in input order: greedy (beam 1) or beam search,
        batch_size sources at a time (sorted by length, so little padding), the output at
        most max_ratio × the source's tokens + EXTRA_LENGTH long."""
        if beam < 1:
            raise RnnlmError(f"--beam must be 1 or more (got {beam}); 1 is greedy search")
        if not 1 <= nbest <= beam:
            raise RnnlmError(f"--nbest must be between 1 and --beam {beam} (got {nbest})")
        ids = self.encode(sources)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out: list[list[Hypothesis]] = [[] for _ in ids]
        was_training = self.model.training
        self.model.eval()
        for start in range(0, len(order), batch_size):
            rows = order[start: start + batch_size]
            src, lengths = pad_sources([ids[i] for i in rows], self.device)
            limits = [int(max_ratio * len(ids[i])) + EXTRA_LENGTH for i in rows]
            with torch.no_grad(), autocast(self.device, self.precision):
                memory, state = self.model.encode(src, lengths)
                b = self.boundaries
                if beam == 1:
                    found = [[h] for h in greedy(self.model, memory, state, b.bod, b.eod, limits,
                                                 lm, attention)]
                else:
                    found = beam_search(self.model, memory, state, b.bod, b.eod, beam, limits,
                                        alpha, nbest, lm, attention)
            for i, hyps in zip(rows, found, strict=True):
                for h in hyps:
                    h.text = self.tokenizer.decode(h.ids)
                out[i] = hyps
        self.model.train(was_training)
        return out

    def nats(self, pairs: Pairs, batch_size: int = 64) -> tuple[float, int]:
        """Teacher-forced total nats and target tokens (EOD included) of pairs."""
        src_ids = self.encode(pairs.sources)
        tgt_ids = encode_targets(self.tokenizer, pairs.targets)
        order = sorted(range(len(pairs)), key=lambda i: len(tgt_ids[i]))
        total, tokens = 0.0, 0
        for start in range(0, len(order), batch_size):
            rows = order[start: start + batch_size]
            src, lengths = pad_sources([src_ids[i] for i in rows], self.device)
            inputs, targets, _ = pad_batch([tgt_ids[i] for i in rows], self.device)
            with torch.no_grad(), autocast(self.device, self.precision):
                out = self.model(src, lengths, inputs)
            total += float(lm_loss(out.logits, targets, reduction="sum"))
            tokens += int(sum(len(tgt_ids[i]) - 1 for i in rows))
        return total, tokens

    def perplexity(self, pairs: Pairs) -> float:
        """Per target token (EOD included), teacher-forced."""
        total, tokens = self.nats(pairs)
        return math.exp(total / tokens)

    def evaluate(self, pairs: Pairs, source: str, beam: int = 5, alpha: float = 0.6,
                 max_ratio: float = 2.0, lm: Fusion | None = None, with_rouge: bool = False,
                 outputs: str | Path | None = None, batch_size: int = 64) -> PairsResult:
        """BLEU and chrF (and ROUGE) of the search's outputs against every reference, and the
        teacher-forced nats per target token, on held-out pairs."""
        start = time.perf_counter()
        hyps = [h[0].text for h in self.translate(pairs.sources, beam, alpha, max_ratio, 1,
                                                  batch_size, lm)]
        seconds = time.perf_counter() - start
        if outputs:
            write_text_atomic(Path(outputs), "".join(h.replace("\n", " ") + "\n" for h in hyps))
        total, tokens = self.nats(pairs)
        search = ("greedy" if beam == 1 else f"beam {beam}, α {alpha:g}") + \
            (f", LM fusion λ {lm.weight:g}" if lm else "")
        scores = bleu_chrf(hyps, pairs.references)
        return PairsResult(source, len(pairs), search, total / tokens, tokens, **scores,
                           rouge=rouge(hyps, pairs.references) if with_rouge else {},
                           seconds=seconds)
