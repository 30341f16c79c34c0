"""Training an image captioner: the language models' loop (train/trainer.py: budget, schedule,
clipping, progress bar, TensorBoard, checkpoints, exact resume) with its own starting point
(captions → split by image → word tokenizer → model → image features) and step (masked loss
per caption token plus the doubly stochastic attention loss).

Each caption is a pair whose "source" is its image's index, so the encoder–decoder's batches
(data/pairs.py: captions of similar length together, shuffled every epoch, a resumable
position) serve unchanged. A frozen encoder's feature grids are computed once, for every
image and its left–right mirror; a trained one (the scratch CNN, or --fine-tune) reads the
images themselves at every step. The best checkpoint is the one with the highest CIDEr-D of
greedy captions on the validation images.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from rnnlm.captioning import ImageCaptioner, caption_text, score
from rnnlm.checkpoint import MODEL, load_weights
from rnnlm.config import RunConfig
from rnnlm.data.captions import Captions, load_images, read_captions, split_captions
from rnnlm.data.pairs import PairBatches, encode_targets
from rnnlm.errors import RnnlmError
from rnnlm.models.caption.model import ShowAttendTell, doubly_stochastic
from rnnlm.models.state import IGNORE
from rnnlm.runtime import autocast, pick_device, pick_precision, reuse_freed_memory
from rnnlm.tokenizers import Tokenizer, build_tokenizer, load_tokenizer
from rnnlm.train.distributed import ALONE, World
from rnnlm.train.pairs import smoothed_loss
from rnnlm.train.progress import Progress, fmt_duration
from rnnlm.train.runlog import RunLog
from rnnlm.train.setup import Start
from rnnlm.train.trainer import Trainer

MIN_COUNT = 5  # default vocabulary: words seen this often in the training captions
SAMPLES = 3  # validation images captioned in the log at each evaluation


def captions_of(config: RunConfig) -> dict[str, Captions]:
    """The train/val/test images of a captioning run, split as every verb splits them."""
    if len(config.data.corpus) != 1:
        raise RnnlmError("a captioning run reads one images folder; give rnnlm train "
                         "IMAGES_DIR --captions FILE")
    every = read_captions(config.caption.captions or "", config.data.corpus[0])
    c = config.caption
    val = len(every) // 16 if c.val_images is None else c.val_images
    test = len(every) // 8 if c.test_images is None else c.test_images
    return split_captions(every, val, test)


def fit_caption_tokenizer(config: RunConfig, train: Captions) -> Tokenizer:
    """A word tokenizer of the training captions' words (--vocab-size, or every word seen
    MIN_COUNT times: rarer words are <unk>, as in Karpathy's and Xu's set-ups)."""
    texts = [caption_text(c) for refs in train.captions for c in refs]
    vocab = config.data.vocab_size
    if vocab is None:
        counts = Counter(w for t in texts for w in t.split())
        vocab = sum(n >= MIN_COUNT for n in counts.values()) + 1  # + the space token
    return build_tokenizer(config.data.tokenizer, "\n".join(texts), vocab)


def describe_split(parts: dict[str, Captions]) -> str:
    """How the images were split, in words."""
    return ", ".join(f"{name} {len(p):,} images ({sum(map(len, p.captions)):,} captions)"
                     for name, p in parts.items())


class CaptionTrainer(Trainer):
    """The language models' Trainer with a captioner's data, step and validation."""

    def prepare(self, config: RunConfig, run_dir: Path, resuming: bool, world: World = ALONE
                ) -> Start:
        """Captions → tokenizer → model → features or images → batches (one process)."""
        config = config.resolve()
        t, d, c = config.train, config.data, config.caption
        device = pick_device(t.device)
        if device.type == "cpu":
            reuse_freed_memory()
        torch.manual_seed(t.seed)
        parts = captions_of(config)
        train = parts["train"]
        tokenizer = load_tokenizer(run_dir / "tokenizer.json") if resuming else \
            fit_caption_tokenizer(config, train)
        config = dataclasses.replace(
            config, model=dataclasses.replace(config.model, vocab_size=tokenizer.vocab_size + 2),
            train=dataclasses.replace(t, precision=pick_precision(t.precision, device)))
        model = ShowAttendTell(config.model, c, config.seq2seq.attention,
                               pretrained=c.encoder != "cnn" and not resuming)
        if resuming:
            load_weights(model, run_dir / "last" / MODEL)
        self.frozen = c.encoder != "cnn" and not c.fine_tune
        if self.frozen:
            model.encoder.freeze()
        model.to(device)
        self.captioner = ImageCaptioner(model, tokenizer, config, device,
                                        config.train.precision)
        size = model.encoder.image_size
        images = load_images(train.images, size)  # (N, 3, size, size) uint8
        if self.frozen:  # (N, 2, S, C): each image's grid, and its mirror's
            start = time.perf_counter()
            self.cache = torch.stack([self.captioner.features(images),
                                      self.captioner.features(images.flip(-1))], 1)
            print(f"encoder: {len(images):,} training images and their mirrors through the "
                  f"frozen {c.encoder} once, {time.perf_counter() - start:.1f} s; its grids "
                  f"are reused at every step")
        else:
            self.images = images.to(device)
        self.val_images = parts["val"]
        val_pixels = load_images(self.val_images.images, size)  # (N, 3, size, size)
        # a frozen encoder's grids once; a trained one's at every validation, from the pixels
        self.val_input = self.captioner.features(val_pixels) if self.frozen else val_pixels
        rows = [i for i, refs in enumerate(train.captions) for _ in refs]
        targets = encode_targets(tokenizer, [caption_text(x) for refs in train.captions
                                             for x in refs])
        batches = PairBatches([np.array([r]) for r in rows], targets, d.batch_size, t.seed,
                              d.max_length, device)
        split = f"{Path(c.captions or '').name}: {describe_split(parts)} (no image in two splits)"
        return Start(config, device, tokenizer, model, batches, None, split)

    def grids(self, rows: torch.Tensor) -> torch.Tensor:
        """The feature grids (B, S, C) of these training images, each mirrored with
        probability ½ under --flip (drawn from torch's generator, so resume is exact)."""
        flip = torch.rand(len(rows)) < 0.5 if self.config.caption.flip else \
            torch.zeros(len(rows), dtype=torch.bool)
        if self.frozen:
            return self.cache[rows, flip.long()].to(self.device)
        images = self.images[rows.to(self.device)]  # (B, 3, H, W)
        images = torch.where(flip.to(self.device)[:, None, None, None], images.flip(-1), images)
        return self.model.features(images)

    def train_step(self, lr: float) -> tuple[torch.Tensor, torch.Tensor]:
        """One optimizer step on the next batch of captions: (nats per real caption token,
        the gradient norm)."""
        batch, _ = self.batches.next()
        with autocast(self.device, self.precision):
            out = self.model(self.grids(batch.src[:, 0].cpu()), batch.inputs)  # (B, T, V)
        real = batch.targets != IGNORE  # (B, T)
        nats, loss = smoothed_loss(out.logits, batch.targets, 0.0)
        lam = self.config.caption.doubly_stochastic
        if lam:
            loss = loss + lam * doubly_stochastic(out.weights.float(), real)
        return self.optimize(lr, loss, nats, batch.tokens)

    def validate(self, log: RunLog | None, bar: Progress | None) -> dict[str, float]:
        """Greedy captions of the validation images (BLEU-4, CIDEr-D: best/ on a higher
        CIDEr-D) and their teacher-forced nats per token; last/ always."""
        self.model.eval()
        features = self.val_input if self.frozen else self.captioner.features(self.val_input)
        hyps = self.captioner.describe(features)
        bleu, cider = score([h.text for h in hyps], self.val_images.captions)
        nats, tokens = self.captioner.nats(features, self.val_images.captions)
        val = {"val_cider": cider, "val_bleu4": bleu["bleu4"],
               "val_nats_per_token": nats / tokens, "val_tokens": tokens}
        improved = cider > self.best.get("val_cider", -math.inf)
        if log is not None and bar is not None:
            log.log(self.step, elapsed=self.elapsed, **val)
            bar.write(f"step {self.step:>6} | {fmt_duration(self.elapsed):>8} | val CIDEr-D "
                      f"{cider:.1f}, BLEU-4 {bleu['bleu4']:.1f}, {nats / tokens:.4f} nats/token"
                      f"{' (best)' if improved else ''}")
            if self.config.train.sample_length:
                every = max(1, len(hyps) // SAMPLES)
                text = "\n".join(f"{self.val_images.images[i].name} → {hyps[i].text}"
                                 for i in range(0, len(hyps), every)[:SAMPLES])
                self.write_sample(log, bar, text)
            log.flush()
        self.model.train()
        return self.keep(val, improved)

    def summary(self) -> str:
        """The best validation score and what to do next."""
        return (f"best val CIDEr-D {self.best['val_cider']:.1f} (BLEU-4 "
                f"{self.best['val_bleu4']:.1f}, greedy, {len(self.val_images):,} images); "
                f"caption with: rnnlm caption {self.run_dir} IMAGE.jpg")
