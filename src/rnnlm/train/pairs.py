"""Training an encoder–decoder on parallel pairs: the language models' loop (train/trainer.py:
budget, schedule, clipping, progress bar, TensorBoard, checkpoints, exact resume) with its own
starting point (pairs → split → tokenizers → model) and step (masked loss per target token).

The loss of a batch is the sum over its real target tokens (EOD included, padding marked
IGNORE as in documents mode) divided by their number, label smoothing and coverage added.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import torch
import torch.nn.functional as F

from rnnlm.checkpoint import MODEL, SOURCE_TOKENIZER, load_weights
from rnnlm.config import RunConfig
from rnnlm.data.corpora import load_corpus
from rnnlm.data.pairs import (
    PairBatches,
    Pairs,
    corpus_pairs,
    describe_pairs,
    encode_sources,
    encode_targets,
)
from rnnlm.models.seq2seq import Seq2Seq
from rnnlm.models.state import IGNORE
from rnnlm.runtime import autocast, pick_device, pick_precision, reuse_freed_memory
from rnnlm.tokenizers import Tokenizer, build_tokenizer, fit_tokenizer, load_tokenizer
from rnnlm.train.distributed import ALONE, World
from rnnlm.train.progress import Progress, fmt_duration
from rnnlm.train.runlog import RunLog
from rnnlm.train.setup import Start
from rnnlm.train.trainer import Trainer
from rnnlm.translation import Translator

SAMPLES = 3  # validation sources translated (greedily) at each evaluation


def pairs_of(config: RunConfig) -> dict[str, Pairs]:
    """The train/val/test pairs of a run's corpus, split as every verb splits them."""
    return corpus_pairs(load_corpus(config.data.corpus), config.seq2seq.pairs or "tsv",
                        config.data.val_fraction, config.seq2seq.test_pairs)


def fit_tokenizers(config: RunConfig, train: Pairs) -> tuple[Tokenizer, Tokenizer | None]:
    """The target tokenizer (--tokenizer, fitted on both sides when shared) and the source's
    own (None when shared), fitted on the training pairs only."""
    d, s = config.data, config.seq2seq
    if s.source_tokenizer == "shared":
        return fit_tokenizer(d, "\n".join(train.sources + train.targets)), None
    vocab = s.source_vocab_size if s.source_vocab_size is not None else d.vocab_size
    return (fit_tokenizer(d, "\n".join(train.targets)),
            build_tokenizer(s.source_tokenizer, "\n".join(train.sources), vocab))


def load_tokenizers(run_dir: Path) -> tuple[Tokenizer, Tokenizer | None]:
    """A pairs run's target tokenizer and its source tokenizer (None when shared)."""
    source = run_dir / SOURCE_TOKENIZER
    return (load_tokenizer(run_dir / "tokenizer.json"),
            load_tokenizer(source) if source.is_file() else None)


def prepare_pairs(config: RunConfig, run_dir: Path, resuming: bool) -> tuple[Start, Pairs,
                                                                              Tokenizer | None]:
    """A pairs run ready to train: its config as used (vocabulary sizes, precision), model,
    tokenizers, batches, and the validation pairs."""
    config = config.resolve()
    t, d, s = config.train, config.data, config.seq2seq
    device = pick_device(t.device)
    if device.type == "cpu":
        reuse_freed_memory()
    torch.manual_seed(t.seed)
    parts = pairs_of(config)
    target_tok, source_tok = load_tokenizers(run_dir) if resuming else \
        fit_tokenizers(config, parts["train"])
    src_tok = source_tok or target_tok
    config = dataclasses.replace(
        config, model=dataclasses.replace(config.model, vocab_size=target_tok.vocab_size + 2),
        seq2seq=dataclasses.replace(s, source_ids=src_tok.vocab_size),
        train=dataclasses.replace(t, precision=pick_precision(t.precision, device)))
    model = Seq2Seq(config.model, config.seq2seq)
    if resuming:
        load_weights(model, run_dir / "last" / MODEL)
    model.to(device)
    train = parts["train"]
    batches = PairBatches(encode_sources(src_tok, train.sources, s.max_source_length),
                          encode_targets(target_tok, train.targets), d.batch_size, t.seed,
                          d.max_length, device)
    split = f"{d.corpus[0]}: {describe_pairs(parts)} (no source in two splits)"
    return Start(config, device, target_tok, model, batches, None, split), parts["val"], \
        source_tok


def smoothed_loss(logits: torch.Tensor, targets: torch.Tensor, smoothing: float
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """(nats, the training loss), each summed over the real target tokens of logits
    (B, T, V) and targets (B, T) (padding IGNORE): the loss spreads `smoothing` of each
    target's probability over the vocabulary (label smoothing, as F.cross_entropy does it),
    from one log_softmax."""
    logp = F.log_softmax(logits.float(), -1).flatten(0, 1)  # (B·T, V)
    flat = targets.flatten()
    nats = F.nll_loss(logp, flat, ignore_index=IGNORE, reduction="sum")
    if not smoothing:
        return nats, nats
    spread = -(logp.mean(-1) * (flat != IGNORE)).sum()
    return nats, (1 - smoothing) * nats + smoothing * spread


class Seq2SeqTrainer(Trainer):
    """The language models' Trainer with an encoder–decoder's data, step and validation."""

    def prepare(self, config: RunConfig, run_dir: Path, resuming: bool, world: World = ALONE
                ) -> Start:
        """Pairs → tokenizers → model → batches (one process: pairs runs are not sharded)."""
        start, self.val_pairs, self.source_tokenizer = prepare_pairs(config, run_dir, resuming)
        self.translator = Translator(start.model, self.source_tokenizer or start.tokenizer,
                                     start.tokenizer, start.config, start.device,
                                     start.config.train.precision)
        return start

    def train_step(self, lr: float) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimizer step on the next batch of pairs: (nats per real target token, the
        gradient norm)."""
        batch, _ = self.batches.next()
        s = self.config.seq2seq
        with autocast(self.device, self.precision):
            out = self.model(batch.src, batch.src_lengths, batch.inputs)  # logits (B, T, V)
        real = batch.targets != IGNORE  # (B, T): documents mode's padding mask
        nats, loss = smoothed_loss(out.logits, batch.targets, s.label_smoothing)
        if s.coverage:
            loss = loss + s.coverage * (out.coverage * real).sum()
        return self.optimize(lr, loss, nats, batch.tokens)

    def validate(self, log: RunLog | None, bar: Progress | None) -> dict[str, float]:
        """Teacher-forced nats per target token over the validation pairs (what `rnnlm eval`
        reports as perplexity), best/ on improvement, last/ always (after the report)."""
        self.model.eval()
        nats, tokens = self.translator.nats(self.val_pairs)
        val = {"val_nats_per_token": nats / tokens, "val_tokens": tokens}
        improved = val["val_nats_per_token"] < self.best.get("val_nats_per_token", math.inf)
        if log is not None and bar is not None:
            log.log(self.step, elapsed=self.elapsed, **val)
            bar.write(f"step {self.step:>6} | {fmt_duration(self.elapsed):>8} | val "
                      f"{val['val_nats_per_token']:.4f} nats/token, perplexity "
                      f"{math.exp(val['val_nats_per_token']):.2f}{' (best)' if improved else ''}")
            if self.config.train.sample_length:
                sources = self.val_pairs.sources[:: max(1, len(self.val_pairs) // SAMPLES)]
                outputs = self.translator.translate(sources[:SAMPLES])
                text = "\n".join(f"{src} → {out[0].text}" for src, out
                                 in zip(sources, outputs, strict=False))
                self.write_sample(log, bar, text)
            log.flush()
        self.model.train()
        return self.keep(val, improved)

    def summary(self) -> str:
        """The best validation loss and what to do next."""
        return (f"best val {self.best['val_nats_per_token']:.4f} nats per target token "
                f"({self.best['val_tokens']:,} tokens); translate with: "
                f"rnnlm translate {self.run_dir} \"...\"")
