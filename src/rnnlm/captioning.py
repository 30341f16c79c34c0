"""A trained image captioner with its tokenizer and config: the object users load to describe
pictures and to score a captioner, as translation.Translator is for encoder–decoders.

Captions are compared as the COCO caption evaluation compares them: lowercased, punctuation
removed (inference/cider.py: tokenize); the model is trained on that form too. Scores: BLEU-1..4
(sacreBLEU, every reference of an image) and CIDEr-D, beside two baselines scored the same
way: the most frequent training caption for every image, and nearest-neighbour retrieval (the
consensus caption of the training image whose pooled encoder features are closest).
"""

from __future__ import annotations

import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnlm.checkpoint import MODEL, load_weights, resolve
from rnnlm.config import RunConfig
from rnnlm.configfile import load_json
from rnnlm.data.buckets import pad_batch
from rnnlm.data.captions import Captions, load_images
from rnnlm.data.documents import Boundaries
from rnnlm.data.pairs import encode_targets
from rnnlm.errors import RnnlmError
from rnnlm.inference.beam import Hypothesis, beam_search, greedy
from rnnlm.inference.cider import cider_d, tokenize
from rnnlm.inference.metrics import bleu_orders
from rnnlm.models.caption.model import ShowAttendTell
from rnnlm.models.state import lm_loss
from rnnlm.runtime import autocast, pick_device
from rnnlm.tokenizers import Tokenizer, load_tokenizer

IMAGES_AT_ONCE = 32  # images through the encoder per forward call


def caption_text(caption: str) -> str:
    """A caption in the form captions are trained and scored in: lowercase words, no
    punctuation."""
    return " ".join(tokenize(caption))


@dataclass
class CaptionResult:
    """Scores of captions against every reference of their images (0–100; CIDEr-D ×100 as
    the COCO tables print it)."""

    source: str
    images: int
    search: str
    bleu: dict[str, Any]  # bleu1..bleu4 and bleu_signature
    cider: float
    nats_per_token: float | None = None
    tokens: int = 0
    seconds: float = 0.0
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def perplexity(self) -> float:
        """Per caption token (EOD included), teacher-forced."""
        return math.exp(self.nats_per_token) if self.nats_per_token is not None else math.nan

    def to_dict(self) -> dict[str, Any]:
        """Plain dict, perplexity included (for --json)."""
        return {**asdict(self), "perplexity": self.perplexity}


def unwritten(tokenizer: Tokenizer, bod: int) -> list[int]:
    """Ids a caption is never written with: <unk>, BOD, and a word tokenizer's bare space,
    which only ever comes before an unknown word (written alone, it leaves two spaces)."""
    ids = [*tokenizer.special_ids(), bod]
    space = tokenizer.encode(" ").tolist() if tokenizer.kind == "word" else []
    return ids + [i for i in space if len(space) == 1 and i not in ids]


def score(outputs: list[str], references: list[list[str]]) -> tuple[dict[str, Any], float]:
    """(BLEU-1..4 with sacreBLEU's signature, CIDEr-D × 100) of captions, both sides in the
    scored form."""
    refs = [[caption_text(r) for r in rs] for rs in references]
    hyps = [caption_text(o) for o in outputs]
    return bleu_orders(hyps, refs), 100 * cider_d(hyps, refs)[0]


class ImageCaptioner:
    """Describe images, or score a captioner, with a trained captioning run."""

    def __init__(self, model: ShowAttendTell, tokenizer: Tokenizer, config: RunConfig,
                 device: torch.device, precision: str = "fp32") -> None:
        self.model, self.tokenizer, self.config = model, tokenizer, config
        self.device, self.precision = device, precision
        self.boundaries = Boundaries.after(tokenizer)
        self.image_size = model.encoder.image_size
        model.forbid(unwritten(tokenizer, self.boundaries.bod))

    @classmethod
    def load(cls, path: str | Path, device: str = "auto", which: str = "best"
             ) -> ImageCaptioner:
        """Load a captioning run directory (its best/ or last/ checkpoint) or a checkpoint."""
        ckpt = resolve(path, which)
        config = load_json(ckpt / "config.json").resolve()
        if not config.captions:
            kind = "an encoder–decoder" if config.pairs else "a language model"
            raise RnnlmError(f"{path} is {kind}, not an image captioner; caption with a run "
                             f"trained with --captions")
        tokenizer = load_tokenizer(ckpt / "tokenizer.json")
        model = ShowAttendTell(config.model, config.caption, config.seq2seq.attention)
        load_weights(model, ckpt / MODEL)
        dev = pick_device(device)
        return cls(model.to(dev).eval(), tokenizer, config, dev)

    @torch.no_grad()
    def features(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 images (N, 3, H, W) → feature grids (N, S, C), a few at a time."""
        was = self.model.training
        self.model.eval()
        out = []
        for start in range(0, len(images), IMAGES_AT_ONCE):
            batch = images[start: start + IMAGES_AT_ONCE].to(self.device)
            with autocast(self.device, self.precision):
                out.append(self.model.features(batch).float())
        self.model.train(was)
        return torch.cat(out)  # (N, S, C)

    def describe(self, features: torch.Tensor, beam: int = 1, alpha: float = 0.0,
                 attention: bool = False, batch_size: int = 64) -> list[Hypothesis]:
        """The best caption of each feature grid (N, S, C): greedy (beam 1) or beam search."""
        if beam < 1:
            raise RnnlmError(f"--beam must be 1 or more (got {beam}); 1 is greedy search")
        was = self.model.training
        self.model.eval()
        out: list[Hypothesis] = []
        b, limit = self.boundaries, self.config.caption.max_words
        for start in range(0, len(features), batch_size):
            grid = features[start: start + batch_size].to(self.device)
            limits = [limit] * len(grid)
            with torch.no_grad(), autocast(self.device, self.precision):
                memory, state = self.model.encode(grid)
                found = greedy(self.model, memory, state, b.bod, b.eod, limits, None,
                               attention) if beam == 1 else \
                    [h[0] for h in beam_search(self.model, memory, state, b.bod, b.eod, beam,
                                               limits, alpha, 1, None, attention)]
            for h in found:
                h.text = self.tokenizer.decode(h.ids).strip()
            out += found
        self.model.train(was)
        return out

    def caption(self, paths: list[Path], beam: int = 5, attention: bool = False
                ) -> list[Hypothesis]:
        """The caption of each image file, in the order given."""
        return self.describe(self.features(load_images(paths, self.image_size)), beam,
                             attention=attention)

    def nats(self, features: torch.Tensor, captions: list[list[str]], batch_size: int = 64
             ) -> tuple[float, int]:
        """Teacher-forced total nats and target tokens (EOD included) of every reference
        caption of each grid."""
        rows = [i for i, refs in enumerate(captions) for _ in refs]
        ids = encode_targets(self.tokenizer, [caption_text(c) for refs in captions
                                              for c in refs])
        total, tokens = 0.0, 0
        was = self.model.training
        self.model.eval()
        for start in range(0, len(ids), batch_size):
            part = list(range(start, min(start + batch_size, len(ids))))
            grid = features[[rows[i] for i in part]].to(self.device)
            inputs, targets, _ = pad_batch([ids[i] for i in part], self.device)
            with torch.no_grad(), autocast(self.device, self.precision):
                out = self.model(grid, inputs)
            total += float(lm_loss(out.logits, targets, reduction="sum"))
            tokens += sum(len(ids[i]) - 1 for i in part)
        self.model.train(was)
        return total, tokens

    def evaluate(self, test: Captions, source: str, beam: int = 5,
                 train: Captions | None = None) -> CaptionResult:
        """BLEU-1..4 and CIDEr-D of the captions of held-out images, their teacher-forced nats
        per token, and (given the training images) the two baselines."""
        features = self.features(load_images(test.images, self.image_size))
        start = time.perf_counter()
        hyps = [h.text for h in self.describe(features, beam)]
        seconds = time.perf_counter() - start
        bleu, cider = score(hyps, test.captions)
        total, tokens = self.nats(features, test.captions)
        result = CaptionResult(source, len(test), "greedy" if beam == 1 else f"beam {beam}",
                               bleu, cider, total / tokens, tokens, seconds)
        if train is not None:
            near = nearest_neighbour(self.features(load_images(train.images, self.image_size)),
                                     features, train.captions)
            for name, outputs in (("most frequent caption",
                                   [most_frequent(train.captions)] * len(test)),
                                  ("nearest neighbour", near)):
                b, c = score(outputs, test.captions)
                result.baselines[name] = {**{k: v for k, v in b.items()
                                             if k != "bleu_signature"}, "cider": c}
        return result


def most_frequent(captions: list[list[str]]) -> str:
    """The training caption written most often (in the scored form; ties: the first)."""
    counts = Counter(caption_text(c) for refs in captions for c in refs)
    return counts.most_common(1)[0][0]


def consensus(captions: list[str]) -> str:
    """The caption that agrees most with the image's other captions (CIDEr-D against them)."""
    if len(captions) == 1:
        return captions[0]
    scores = cider_d(captions, [[c for j, c in enumerate(captions) if j != i]
                                for i in range(len(captions))])[1]
    return captions[int(np.argmax(scores))]


def nearest_neighbour(train: torch.Tensor, test: torch.Tensor, captions: list[list[str]]
                      ) -> list[str]:
    """For each test grid (N, S, C), the consensus caption of the training image (grids
    (M, S, C)) whose mean feature is closest in cosine similarity."""
    a = torch.nn.functional.normalize(train.mean(1), dim=-1)  # (M, C)
    b = torch.nn.functional.normalize(test.mean(1), dim=-1)  # (N, C)
    nearest = (b @ a.T).argmax(1).tolist()  # (N,)
    return [consensus(captions[i]) for i in nearest]

