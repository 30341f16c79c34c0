"""Typed run configuration: model, data and training dataclasses, saved as config.json.

A leaf module (it imports only options.py, errors.py and config_rules.py): every default
lives here, and the rules between options here and, for each kind of model, in
config_rules.py. Each field carries its option declaration (`options.Arg`: help text,
choices, value check), so the CLI flags, the TOML config file and the checks all come from
the fields. `RunConfig.resolve()` returns a new config with every `None` meaning "depends on
other options" filled in; `validate()` only checks.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnlm.config_rules import (
    REGULARIZERS,
    check_awd,
    check_caption,
    check_model,
    check_regularizers,
    check_seq2seq,
    check_transformer,
)
from rnnlm.errors import RnnlmError
from rnnlm.options import (
    FRACTION,
    NON_NEGATIVE,
    PAIRS_FORMATS,
    POSITIVE,
    RATE,
    UNIT_OPEN,
    check_format,
    check_value,
    flag,
    opt,
    parse_duration,
)

MIN_CELLS = ("mingru", "minlstm")  # Feng et al. 2024: parallel-scan cells in residual blocks
CELLS = ("lstm", "gru", "rnn", *MIN_CELLS, "transformer")
ACTIVATIONS = ("tanh", "relu", "relu6", "elu", "softplus", "softsign", "sigmoid", "crelu")
OPTIMIZERS = ("adamw", "adam", "sgd", "rmsprop", "ntasgd")
SCHEDULES = ("constant", "exponential", "cosine", "plateau")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16")
MODES = ("stream", "documents")
TOKENIZER_KINDS = ("char", "byte", "word", "bpe", "unigram", "mikolov", "hybrid")
WORD_SPLITS = ("words", "whitespace")
SPLITS = ("all", "train", "val", "test")  # parts of a corpus a model can be scored on
CHECKPOINTS = ("best", "last")
# The data options a corpus's token ids depend on (a prepared corpus and an n-gram model
# are keyed by them; the rest are about batches).
ID_OPTIONS = ("tokenizer", "vocab_size", "syllables", "word_split", "mode", "documents",
              "val_fraction", "test_fraction")

DEFAULT_MAX_TIME = 600.0  # seconds of training when neither --max-steps nor --max-time is given
ADAMW_DECAY = 0.3  # default decoupled weight decay (adamw only: as L2 it would be far too strong)
# --lr, --clip and --lr-schedule when not given: most optimizers, and ntasgd (AWD-LSTM's word
# models, Merity et al. 2018: plain SGD at a constant 30, clipped to 0.25)
LR, CLIP, SCHEDULE = {"ntasgd": 30.0}, {"ntasgd": 0.25}, {"ntasgd": "constant"}
DEFAULT_LR, DEFAULT_CLIP, DEFAULT_SCHEDULE = 3e-3, 1.0, "cosine"
DEFAULT_DOCUMENTS = "lines"  # the document format of documents mode when none is given
ATTENTIONS = ("bahdanau", "dot", "general")  # additive, Luong dot, Luong general
SOURCE_TOKENIZERS = ("shared", *TOKENIZER_KINDS)  # shared: one tokenizer fitted on both sides
IMAGE_ENCODERS = ("efficientnet-lite0", "cnn")  # ImageNet-pretrained, or trained from scratch

@dataclass
class ModelConfig:
    """The network: embedding → recurrent cells (or min-cell or transformer blocks) × layers →
    softmax head."""

    cell: str = opt("lstm", "recurrent cell (mingru, minlstm: Feng et al. 2024's parallel-scan "
                    "cells in residual blocks), or a causal transformer", choices=CELLS)
    activation: str = opt("tanh", "Elman (--cell rnn) activation; crelu = [relu(a), relu(-a)] "
                          "doubles its width, so a layer computes --hidden / 2 pre-activations "
                          "(--hidden even; half the weights of a tanh layer)", choices=ACTIVATIONS)
    layers: int = opt(2, "stacked recurrent layers", check=POSITIVE)
    hidden: int = opt(640, "hidden units per layer", check=POSITIVE)
    embedding: int = opt(128, "embedding size; 0 feeds one-hot vectors (transformer, mingru, "
                         "minlstm: always --hidden)", check=NON_NEGATIVE)
    dropout: float = opt(0.2, "dropout on embeddings, between layers and before the head, "
                         "where no --dropout-input/-hidden/-output replaces it", check=UNIT_OPEN)
    dropout_input: float = opt(0.0, "locked dropout on the embeddings: one mask per sequence "
                               "for all its steps (replaces --dropout there)", check=UNIT_OPEN)
    dropout_hidden: float = opt(0.0, "locked dropout between recurrent layers (replaces "
                                "--dropout there)", check=UNIT_OPEN)
    dropout_output: float = opt(0.0, "locked dropout before the head (replaces --dropout "
                                "there)", check=UNIT_OPEN)
    dropout_embedding: float = opt(0.0, "drop whole words: rows of the embedding matrix "
                                   "zeroed, the rest scaled by 1/(1 − p)", check=UNIT_OPEN)
    weight_drop: float = opt(0.0, "DropConnect on the recurrent matrices W_hh (the fused "
                             "kernels run on a dropped copy)", check=UNIT_OPEN)
    ar: float = opt(0.0, "α of activation regularization α·mean(h²) of the last layer's "
                    "dropped outputs, added to the loss optimized (the logged training loss "
                    "stays the cross-entropy)", check=NON_NEGATIVE)
    tar: float = opt(0.0, "β of temporal activation regularization β·mean((h_t − h_{t−1})²) "
                     "of the last layer's undropped outputs, likewise", check=NON_NEGATIVE)
    tie_weights: bool = opt(False, "share the embedding and output matrices (embedding = "
                            "hidden; the transformer always ties them)")
    heads: int = opt(4, "transformer: attention heads (--hidden must be divisible by it)",
                     check=POSITIVE)
    block: int | None = opt(None, "transformer: positions it attends to (default: the training "
                            "window, --seq-len, or --chunk in documents mode)", check=POSITIVE)
    expansion: float = opt(1.5, "mingru/minlstm: each min-cell's units as a multiple of "
                           "--hidden (down-projected back to --hidden)", check=POSITIVE)
    conv_kernel: int = opt(4, "mingru/minlstm: tokens the causal depthwise convolution before "
                           "each min-cell reads (1: none before)", check=POSITIVE)
    vocab_size: int = opt(0, "set from the tokenizer", cli=False)


@dataclass
class DataConfig:
    """Which text, how it is split, what a token is, and how it is cut into batches."""

    corpus: list[str] = opt([], "corpus names or paths", cli=False)
    val_fraction: float = opt(0.1, "last fraction of the text (documents mode: of the "
                              "documents) held out for validation, for corpora without "
                              "official splits", check=FRACTION)
    test_fraction: float = opt(0.0, "fraction after the validation part held out for testing",
                               check=UNIT_OPEN)
    tokenizer: str = opt("char", "what a token is: a character, a UTF-8 byte, a word (lossy: "
                         "<unk>), a bpe/unigram subword, mikolov (words + syllables), hybrid "
                         "(words + spelled-out new words)", choices=TOKENIZER_KINDS)
    vocab_size: int | None = opt(None, "word/mikolov/hybrid: words kept (default 10000; 0: "
                                 "all); bpe/unigram: tokens in all (default 4096, at least 256)",
                                 check=NON_NEGATIVE)
    syllables: int = opt(1000, "mikolov: most frequent syllables kept", check=NON_NEGATIVE)
    word_split: str = opt("words", "word: regex words and punctuation, or whitespace-separated "
                          "tokens (Penn Treebank, whose <unk> becomes ours)", choices=WORD_SPLITS)
    mode: str | None = opt(None, "stream: the text as parallel columns, state carried; "
                           "documents: each document from a zero state (default: documents "
                           "when --documents is given, else stream)", choices=MODES)
    documents: str | None = opt(None, "how the corpus splits into documents: lines, blank "
                                "(blank-line separated), jsonl:FIELD (default in documents "
                                "mode: lines)", metavar="FORMAT")
    seq_len: int = opt(128, "stream mode: tokens per truncated-BPTT window", check=POSITIVE)
    variable_bptt: bool = opt(False, "stream mode: draw each window's length as AWD-LSTM does "
                              "(about --seq-len, 5% of windows about half of it, ± 5 tokens, "
                              "in [5, --seq-len + 15]) and scale each step's lr by length / "
                              "--seq-len (the lr logged is the schedule's); no CUDA graph")
    batch_size: int = opt(32, "parallel columns of the stream, or documents per batch",
                          check=POSITIVE)
    pack: bool = opt(False, "documents mode: run the RNN on packed sequences of true lengths "
                     "(default --no-pack: pad and mask the loss, faster on CPUs)")
    bucket: bool = opt(True, "documents mode, whole documents: batch documents of similar "
                       "length together (--no-bucket: random batches, more padding)")
    max_length: int | None = opt(None, "documents mode: truncate longer documents to this many "
                                 "tokens (counted in a warning)", check=POSITIVE)
    chunk: int | None = opt(None, "documents mode: backpropagate through pieces of this many "
                            "tokens, the state carried from piece to piece (default: --seq-len, "
                            "so one step's memory is bounded whatever the documents' lengths; "
                            "0: whole documents in one piece)", check=NON_NEGATIVE)
    tokenizer_from: str | None = opt(None, "use this run's tokenizer instead of fitting one "
                                     "(an LM for `translate --lm` takes its decoder's)",
                                     metavar="RUN")
    corpus_sha256: str = opt("", "sha256 of the corpus text, set when training", cli=False)


@dataclass
class TrainConfig:
    """Optimizer, schedule, budget, evaluation and hardware."""

    optimizer: str = opt("adamw", "optimizer; ntasgd: SGD that starts averaging the weights "
                         "once validation stalls (AWD-LSTM's NT-ASGD)", choices=OPTIMIZERS)
    lr: float | None = opt(None, f"peak learning rate (default {DEFAULT_LR:g}; ntasgd: "
                           f"{LR['ntasgd']:g}, AWD-LSTM's for word models)", check=POSITIVE)
    weight_decay: float | None = opt(None, f"weight decay on matrices: decoupled with adamw "
                                     f"(default {ADAMW_DECAY}), L2 with the others (default 0)",
                                     check=NON_NEGATIVE)
    clip: float | None = opt(None, f"clip gradients to this global L2 norm; 0 turns clipping "
                             f"off (default {DEFAULT_CLIP:g}; ntasgd: {CLIP['ntasgd']:g})",
                             check=NON_NEGATIVE)
    lr_schedule: str | None = opt(None, f"learning-rate schedule after warmup (default "
                                  f"{DEFAULT_SCHEDULE}; ntasgd: constant, the only one it takes)",
                                  choices=SCHEDULES)
    decay_rate: float = opt(0.5, "exponential: factor per --decay-steps; plateau: factor per "
                            "reduction", check=RATE)
    decay_steps: int | None = opt(None, "exponential: steps per decay factor; cosine: steps "
                                  "to reach the minimum (default: the run's first budget)",
                                  check=POSITIVE)
    staircase: bool = opt(False, "exponential: decay in whole steps of --decay-steps")
    warmup_steps: int = opt(100, "linear warmup steps", check=NON_NEGATIVE)
    min_lr_ratio: float = opt(0.05, "cosine floor as a fraction of --lr", check=UNIT_OPEN)
    overfit_decay: float = opt(0.25, "cosine: once a validation pass is no better than the "
                               "best before it, decay to the floor over this fraction of the "
                               "steps taken so far and end the run there, so a longer budget "
                               "never overfits (0: keep the horizon)", check=NON_NEGATIVE)
    patience: int = opt(2, "plateau: evaluations without improvement before a reduction",
                        check=POSITIVE)
    nonmono: int = opt(5, "ntasgd: start averaging the weights once a validation loss is "
                       "worse than the best of the evaluations (every --eval-every steps) more "
                       "than this many before it", check=POSITIVE)
    max_steps: int | None = opt(None, "stop after this many optimizer steps", check=POSITIVE)
    max_time: float | None = opt(None, f"stop after this much training time (90s, 10m, 1h; "
                                 f"{DEFAULT_MAX_TIME / 60:g}m if neither budget is given)",
                                 check=POSITIVE, parse=parse_duration)
    eval_every: int = opt(500, "steps between full validation passes and checkpoints",
                          check=POSITIVE)
    sample_length: int = opt(200, "tokens sampled at each evaluation", check=NON_NEGATIVE)
    seed: int = opt(1337, "random seed for initialization, dropout and data order")
    device: str = opt("auto", "where to train", choices=DEVICES)
    precision: str = opt("auto", "bf16 autocast or fp32 (auto: bf16 where the device has it)",
                         choices=PRECISIONS)
    cuda_graph: bool = opt(True, "on a GPU, replay each stream-mode RNN training step as one "
                           "captured CUDA graph (far less CPU time per step)")


@dataclass
class Seq2SeqConfig:
    """An encoder–decoder on parallel pairs (translation, summarization): the [seq2seq] table.
    The encoder and decoder take --cell, --layers, --hidden, --embedding, --dropout and
    --tie-weights (decoder embeddings tied to its output layer) from [model]; the target side
    uses --tokenizer and --vocab-size from [data]."""

    pairs: str | None = opt(None, f"train an encoder–decoder on parallel pairs: {PAIRS_FORMATS}",
                            metavar="FORMAT")
    source_tokenizer: str = opt("shared", "the source side's tokenizer (shared: one "
                                "--tokenizer fitted on both sides)", choices=SOURCE_TOKENIZERS)
    source_vocab_size: int | None = opt(None, "the source tokenizer's --vocab-size (default: "
                                        "--vocab-size)", check=NON_NEGATIVE)
    attention: str = opt("bahdanau", "attention score: bahdanau (additive), dot or general "
                         "(Luong)", choices=ATTENTIONS)
    input_feeding: bool = opt(True, "feed the last attentional vector into the decoder's next "
                              "step (Luong et al. 2015)")
    label_smoothing: float = opt(0.1, "share of each target's probability spread over the "
                                 "vocabulary in the training loss", check=UNIT_OPEN)
    copy: bool = opt(False, "pointer-generator: mix copying source tokens into the output "
                     "distribution (See et al. 2017; needs --source-tokenizer shared)")
    coverage: float = opt(0.0, "weight of the coverage loss (with --copy; 0: no coverage)",
                          check=NON_NEGATIVE)
    max_source_length: int = opt(200, "source tokens the encoder reads; longer sources are "
                                 "truncated, and counted in a warning", check=POSITIVE)
    test_pairs: int = opt(2000, "pairs held out for testing when the corpus has no official "
                          "test split (whole groups of one source sentence)", check=NON_NEGATIVE)
    source_ids: int = opt(0, "set from the source tokenizer", cli=False)


@dataclass
class CaptionConfig:
    """An image captioner (Show, Attend and Tell): the [caption] table. The corpus is the
    images folder; the decoder takes --cell, --layers, --hidden, --embedding, --dropout from
    [model], --attention from [seq2seq] and --tokenizer, --vocab-size from [data]."""

    captions: str | None = opt(None, "train an image captioner on this captions file (Kaggle "
                               "captions.txt, Flickr8k.token.txt, Karpathy's dataset_*.json); "
                               "the corpus is the images folder", metavar="FILE")
    encoder: str = opt("efficientnet-lite0", "the image encoder: ImageNet-pretrained "
                       "EfficientNet-Lite0 (rnnlm[vision]) or a small CNN trained from scratch",
                       choices=IMAGE_ENCODERS)
    fine_tune: bool = opt(False, "train the pretrained encoder too (default: frozen, its "
                          "features computed once)")
    grid: int = opt(7, "the encoder's feature grid is grid × grid cells to attend over",
                    check=POSITIVE)
    doubly_stochastic: float = opt(1.0, "λ of the doubly stochastic attention loss "
                                   "Σ_cells (1 − Σ_t α)² (Xu et al. 2015; 0: none)",
                                   check=NON_NEGATIVE)
    flip: bool = opt(True, "augment: each training caption also sees its image flipped "
                     "left–right (half of the steps)")
    val_images: int | None = opt(None, "images held out for validation when the captions "
                                 "have no official split (default: 1/16 of them)",
                                 check=NON_NEGATIVE)
    test_images: int | None = opt(None, "images held out for testing when the captions have "
                                  "no official split (default: 1/8 of them)", check=NON_NEGATIVE)
    max_words: int = opt(40, "the longest caption generated, in tokens", check=POSITIVE)


GROUPS: dict[str, type] = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig,
                           "seq2seq": Seq2SeqConfig, "caption": CaptionConfig}
# Options a resumed run may change (its budget and where it runs); the rest is the run's.
RESUMABLE = {"max_steps", "max_time", "eval_every", "sample_length", "device"}
# Options --init-from keeps from the checkpoint: its architecture (regularizers aside) and
# tokenizer.
FINE_TUNE_FIXED = {*(f.name for f in dataclasses.fields(ModelConfig)
                     if f.name not in ("dropout", *REGULARIZERS)),
                   "tokenizer", "vocab_size", "syllables", "word_split"}


@dataclass
class RunConfig:
    """Everything that defines a run; saved as config.json in the run directory."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    init_from: str | None = None
    seq2seq: Seq2SeqConfig = field(default_factory=Seq2SeqConfig)
    caption: CaptionConfig = field(default_factory=CaptionConfig)

    @property
    def pairs(self) -> bool:
        """Whether the run is an encoder–decoder on parallel pairs."""
        return self.seq2seq.pairs is not None

    @property
    def captions(self) -> bool:
        """Whether the run is an image captioner."""
        return self.caption.captions is not None

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict, the form of config.json."""
        return dataclasses.asdict(self)

    def save(self, path: Path) -> None:
        """Write config.json (atomically)."""
        from rnnlm.fileio import write_text_atomic

        write_text_atomic(path, json.dumps(self.to_dict(), indent=2) + "\n")

    def resolve(self) -> RunConfig:
        """A new, checked config with every default that depends on other options filled in:
        the mode and document format, the transformer's tied embedding and block, the
        min-cells' embedding, the optimizer's weight decay, lr, clip and schedule, the time
        budget."""
        m, d, t = self.model, self.data, self.train
        if self.pairs or self.captions:  # targets are documents (BOD .. EOD), each whole
            d = dataclasses.replace(d, mode="documents", documents=None, chunk=0)
        mode = d.mode or ("documents" if d.documents else "stream")
        data = dataclasses.replace(d, mode=mode)
        if mode == "documents" and not (self.pairs or self.captions):  # pieces of the window
            # unless told otherwise
            window = m.block if m.cell == "transformer" and m.block else d.seq_len
            data = dataclasses.replace(data, documents=d.documents or DEFAULT_DOCUMENTS,
                                       chunk=window if d.chunk is None else d.chunk)
        model = m
        if m.cell == "transformer":  # always tied, so its embedding is its width
            window = data.chunk if mode == "documents" and data.chunk else d.seq_len
            model = dataclasses.replace(m, embedding=m.hidden, tie_weights=True,
                                        block=m.block or window)
        elif m.cell in MIN_CELLS:  # the residual stream is the embedding
            model = dataclasses.replace(m, embedding=m.hidden)
        decay = t.weight_decay if t.weight_decay is not None else (
            ADAMW_DECAY if t.optimizer == "adamw" else 0.0)
        budget = t.max_time if t.max_steps or t.max_time else DEFAULT_MAX_TIME
        o = t.optimizer
        train = dataclasses.replace(
            t, weight_decay=decay, max_time=budget,
            lr=t.lr if t.lr is not None else LR.get(o, DEFAULT_LR),
            clip=t.clip if t.clip is not None else CLIP.get(o, DEFAULT_CLIP),
            lr_schedule=t.lr_schedule or SCHEDULE.get(o, DEFAULT_SCHEDULE))
        return RunConfig(model, data, train, self.init_from, self.seq2seq, self.caption).validate()

    def validate(self) -> RunConfig:
        """Check every field and the rules between fields; raise a one-line RnnlmError."""
        for group in (self.model, self.data, self.train, self.seq2seq, self.caption):
            for f in dataclasses.fields(group):
                check_value(f, getattr(group, f.name))
        m, d = self.model, self.data
        if self.pairs:
            check_seq2seq(m, self.seq2seq)
        if self.captions:
            check_caption(self)
        if d.mode == "documents" and d.documents:
            check_format(d.documents)
        elif d.mode == "stream" and (d.documents or d.chunk or d.max_length):
            raise RnnlmError("--documents, --chunk and --max-length belong to documents mode; "
                             "drop --mode stream (or give --mode documents)")
        if m.cell == "transformer":
            check_transformer(m, d)
        check_model(m)
        check_awd(self)
        check_regularizers(self)
        if d.word_split != "words" and d.tokenizer != "word":
            raise RnnlmError(f"--word-split {d.word_split} applies to --tokenizer word only "
                             f"(got {d.tokenizer}); drop --word-split")
        if d.val_fraction + d.test_fraction >= 0.9:
            raise RnnlmError("--val-fraction plus --test-fraction leaves under 10% of the text "
                             "for training; lower them")
        return self

    def with_options(self, options: dict[str, dict[str, Any]], resuming: bool = False
                     ) -> RunConfig:
        """A copy with the given options ({group: {field: value}}) on top. A resumed run may
        change only its budget, evaluation and device; a fine-tuned one (init_from) keeps the
        checkpoint's architecture and tokenizer."""
        for group, values in options.items():
            for name, value in values.items():
                old = getattr(getattr(self, group), name)
                if resuming and name not in RESUMABLE and value != old:
                    raise RnnlmError(f"cannot change {flag(name)} when resuming (the run has "
                                     f"{old}); start a new run, or fine-tune with --init-from")
                if self.init_from and name in FINE_TUNE_FIXED and not resuming:
                    raise RnnlmError(f"{flag(name)} cannot be set with --init-from: "
                                     f"fine-tuning keeps the checkpoint's architecture and "
                                     f"tokenizer")
        changed = {group: dataclasses.replace(getattr(self, group), **options.get(group, {}))
                   for group in GROUPS}
        return RunConfig(**changed, init_from=self.init_from)
