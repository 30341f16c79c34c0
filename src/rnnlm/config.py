"""Typed run configuration: model, data and training dataclasses, saved as config.json.

Every field carries its help text and its check, so the CLI options, the TOML config file
and the validation all come from this one place.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnlm.errors import RnnlmError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CELLS = ("lstm", "gru", "rnn", "transformer")
ACTIVATIONS = ("tanh", "relu", "relu6", "elu", "softplus", "softsign", "sigmoid")
OPTIMIZERS = ("adamw", "adam", "sgd", "rmsprop")
SCHEDULES = ("constant", "exponential", "cosine", "plateau")
DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16")
MODES = ("stream", "documents")
TOKENIZER_KINDS = ("char", "byte", "word", "bpe", "unigram", "mikolov", "hybrid")
WORD_SPLITS = ("words", "whitespace")

Check = tuple[Callable[[Any], bool], str]
POSITIVE: Check = (lambda v: v > 0, "greater than 0")
NON_NEGATIVE: Check = (lambda v: v >= 0, "0 or more")
UNIT_OPEN: Check = (lambda v: 0 <= v < 1, "in [0, 1)")
FRACTION: Check = (lambda v: 0 < v < 1, "in (0, 1)")
RATE: Check = (lambda v: 0 < v <= 1, "in (0, 1]")


def opt(default: Any, help: str, *, choices: tuple[str, ...] | None = None,
        check: Check | None = None, cli: bool = True) -> Any:
    """A config field with its CLI help, allowed choices and value check."""
    meta = {"help": help, "choices": choices, "check": check, "cli": cli}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class ModelConfig:
    """The network: embedding → recurrent cells (or transformer blocks) × layers → softmax head."""

    cell: str = opt("lstm", "recurrent cell, or a causal transformer", choices=CELLS)
    activation: str = opt("tanh", "Elman (--cell rnn) activation", choices=ACTIVATIONS)
    layers: int = opt(2, "stacked recurrent layers", check=POSITIVE)
    hidden: int = opt(640, "hidden units per layer", check=POSITIVE)
    embedding: int = opt(128, "embedding size; 0 feeds one-hot vectors", check=NON_NEGATIVE)
    dropout: float = opt(0.2, "dropout on embeddings, between layers and before the head",
                         check=UNIT_OPEN)
    tie_weights: bool = opt(False, "share the embedding and output matrices (embedding = hidden)")
    heads: int = opt(4, "transformer: attention heads (--hidden must be divisible by it)",
                     check=POSITIVE)
    block: int | None = opt(None, "transformer: positions it attends to (default: the training "
                            "window, --seq-len, or --chunk in documents mode)", check=POSITIVE)
    vocab_size: int = opt(0, "set from the tokenizer", cli=False)


@dataclass
class DataConfig:
    """Which text, how it is split, and how it is cut into batches."""

    corpus: list[str] = opt([], "corpus names or paths", cli=False)
    val_fraction: float = opt(0.1, "last fraction of the text held out for validation",
                              check=FRACTION)
    test_fraction: float = opt(0.0, "fraction after the validation part held out for testing",
                               check=UNIT_OPEN)
    tokenizer: str = opt("char", "what a token is: a character, a UTF-8 byte, a word (lossy: "
                         "<unk>), a bpe/unigram subword, mikolov (words + syllables), hybrid "
                         "(words + spelled-out new words)", choices=TOKENIZER_KINDS)
    vocab_size: int | None = opt(None, "word/mikolov/hybrid: words kept (default 10000; 0: "
                                 "all); bpe/unigram: tokens in all (default 4096, at least 256)",
                                 check=NON_NEGATIVE)
    syllables: int = opt(1000, "mikolov: most frequent syllables kept", check=NON_NEGATIVE)
    split: str = opt("words", "word: regex words and punctuation, or whitespace-separated "
                     "tokens (Penn Treebank, whose <unk> becomes ours)", choices=WORD_SPLITS)
    mode: str | None = opt(None, "stream: the text as parallel columns, state carried; "
                           "documents: each document from a zero state (default: documents "
                           "when --documents is given, else stream)", choices=MODES)
    documents: str | None = opt(None, "how the corpus splits into documents: lines, blank "
                                "(blank-line separated), jsonl:FIELD (default in documents "
                                "mode: lines)")
    seq_len: int = opt(128, "stream mode: tokens per truncated-BPTT window", check=POSITIVE)
    batch_size: int = opt(32, "parallel columns of the stream, or documents per batch",
                          check=POSITIVE)
    pack: bool = opt(False, "documents mode: run the RNN on packed sequences of true lengths "
                     "(default --no-pack: pad and mask the loss, 4% faster with buckets)")
    bucket: bool = opt(True, "documents mode, whole documents: batch documents of similar "
                       "length together (--no-bucket: random batches, more padding)")
    max_length: int | None = opt(None, "documents mode: truncate longer documents to this many "
                                 "tokens (counted in a warning)", check=POSITIVE)
    chunk: int | None = opt(None, "documents mode: cut documents into pieces of this many "
                            "tokens that carry the state from piece to piece", check=POSITIVE)
    corpus_sha256: str = opt("", "sha256 of the corpus text, set when training", cli=False)


@dataclass
class TrainConfig:
    """Optimizer, schedule, budget, evaluation and hardware."""

    optimizer: str = opt("adamw", "optimizer", choices=OPTIMIZERS)
    lr: float = opt(3e-3, "peak learning rate", check=POSITIVE)
    weight_decay: float | None = opt(None, "weight decay on matrices: decoupled with adamw "
                                     "(default 0.3), L2 with the others (default 0)",
                              check=NON_NEGATIVE)
    clip: float = opt(1.0, "clip gradients to this global L2 norm; 0 turns clipping off",
                      check=NON_NEGATIVE)
    lr_schedule: str = opt("cosine", "learning-rate schedule after warmup", choices=SCHEDULES)
    decay_rate: float = opt(0.5, "exponential: factor per --decay-steps; plateau: factor per "
                            "reduction", check=RATE)
    decay_steps: int | None = opt(None, "exponential: steps per decay factor; cosine: steps "
                                  "to reach the minimum (default: the whole budget)",
                                  check=POSITIVE)
    staircase: bool = opt(False, "exponential: decay in whole steps of --decay-steps")
    warmup_steps: int = opt(100, "linear warmup steps", check=NON_NEGATIVE)
    min_lr_ratio: float = opt(0.05, "cosine floor as a fraction of --lr", check=UNIT_OPEN)
    patience: int = opt(2, "plateau: evaluations without improvement before a reduction",
                        check=POSITIVE)
    max_steps: int | None = opt(None, "stop after this many optimizer steps", check=POSITIVE)
    max_time: float | None = opt(None, "stop after this much training time (90s, 10m, 1h)",
                                 check=POSITIVE)
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
class RunConfig:
    """Everything that defines a run; saved as config.json in the run directory."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    init_from: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict, the form of config.json."""
        return dataclasses.asdict(self)

    def save(self, path: Path) -> None:
        """Write config.json (atomically)."""
        from rnnlm.fileio import write_text_atomic

        write_text_atomic(path, json.dumps(self.to_dict(), indent=2) + "\n")

    def validate(self) -> RunConfig:
        """Check every field and the rules between fields; raise a one-line RnnlmError."""
        d = self.data
        d.mode = d.mode or ("documents" if d.documents else "stream")
        if d.mode == "documents":
            from rnnlm.data.documents import check_format

            d.documents = check_format(d.documents or "lines")
        elif d.documents or d.chunk or d.max_length:
            raise RnnlmError("--documents, --chunk and --max-length belong to documents mode; "
                             "drop --mode stream (or give --mode documents)")
        for group in (self.model, self.data, self.train):
            for f in dataclasses.fields(group):
                check_value(f, getattr(group, f.name))
        m = self.model
        if m.cell == "transformer":
            check_transformer(m, d)
        if m.tie_weights and m.embedding != m.hidden:
            raise RnnlmError(f"--tie-weights needs --embedding equal to --hidden "
                             f"(got {m.embedding} and {m.hidden}); set --embedding {m.hidden}")
        if d.split != "words" and d.tokenizer != "word":
            raise RnnlmError(f"--split {d.split} applies to --tokenizer word only (got "
                             f"{d.tokenizer}); drop --split")
        if self.data.val_fraction + self.data.test_fraction >= 0.9:
            raise RnnlmError("--val-fraction plus --test-fraction leaves under 10% of the text "
                             "for training; lower them")
        return self


def check_transformer(m: ModelConfig, d: DataConfig) -> None:
    """The transformer's rules: it always ties its embedding (so embedding = hidden, whatever
    --embedding and --tie-weights say), heads divide hidden, and its learned positions are
    exactly the training window's, so that every position it attends to is trained."""
    m.embedding, m.tie_weights = m.hidden, True
    if m.hidden % m.heads:
        raise RnnlmError(f"--hidden {m.hidden} is not divisible by --heads {m.heads}; choose "
                         f"--heads that divides it (e.g. {math.gcd(m.hidden, m.heads)})")
    chunked = d.mode == "documents" and d.chunk
    if d.mode == "documents" and not chunked:  # whole documents: longer ones are read in windows
        m.block = m.block or d.seq_len
        return
    name, window = ("--chunk", d.chunk) if chunked else ("--seq-len", d.seq_len)
    m.block = m.block or window
    if window > m.block:
        raise RnnlmError(f"{name} {window} is longer than --block {m.block}, the positions the "
                         f"transformer attends to; give {name} {m.block} or --block {window}")
    if window < m.block:
        raise RnnlmError(f"--block {m.block} is longer than {name} {window}: positions past the "
                         f"training window would never be trained; give --block {window} (the "
                         f"default) or {name} {m.block}")


GROUPS: dict[str, type] = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig}


def flag(name: str) -> str:
    """The CLI spelling of a field name."""
    return "--" + name.replace("_", "-")


def check_value(f: dataclasses.Field, value: Any) -> None:
    """Raise if a field's value is outside its choices or fails its check."""
    choices, check = f.metadata.get("choices"), f.metadata.get("check")
    if choices and value not in choices:
        raise RnnlmError(f"{flag(f.name)} must be one of {', '.join(choices)} (got {value!r})")
    if check and value is not None and not check[0](value):
        raise RnnlmError(f"{flag(f.name)} must be {check[1]} (got {value})")


def from_dict(data: dict[str, Any], source: str = "config") -> RunConfig:
    """Build a RunConfig from nested dicts, refusing unknown keys by name."""
    known_top = {"model", "data", "train", "init_from"}
    unknown = set(data) - known_top
    if unknown:
        raise RnnlmError(f"unknown key {sorted(unknown)[0]!r} in {source}; "
                         f"expected tables [model], [data], [train]")
    groups = {}
    for name, cls in GROUPS.items():
        values = dict(data.get(name, {}))
        names = {f.name for f in dataclasses.fields(cls)}
        bad = set(values) - names
        if bad:
            raise RnnlmError(f"unknown key {sorted(bad)[0]!r} in [{name}] of {source}; "
                             f"known keys: {', '.join(sorted(names))}")
        if name == "train" and isinstance(values.get("max_time"), str):
            values["max_time"] = parse_duration(values["max_time"])
        groups[name] = cls(**values)
    return RunConfig(**groups, init_from=data.get("init_from"))


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file into nested dicts."""
    p = Path(path)
    if not p.is_file():
        raise RnnlmError(f"config file {p} does not exist; check the path given to --config")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise RnnlmError(f"config file {p} is not valid TOML ({e}); fix the syntax") from None


def load_json(path: Path) -> RunConfig:
    """Read a run's config.json."""
    try:
        return from_dict(json.loads(path.read_text(encoding="utf-8")), str(path))
    except (OSError, json.JSONDecodeError) as e:
        raise RnnlmError(f"cannot read {path} ({e}); the run directory is damaged") from None


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([hms]?)")


def parse_duration(text: str | float) -> float:
    """'90s', '10m', '1h30m' or a plain number of seconds → seconds."""
    if isinstance(text, int | float):
        return float(text)
    s = text.strip().lower()
    parts = _DURATION.findall(s)
    if not s or "".join(n + u for n, u in parts) != s.replace(" ", ""):
        raise RnnlmError(f"cannot read the duration {text!r}; write it like 90s, 10m or 1h30m")
    scale = {"h": 3600.0, "m": 60.0, "s": 1.0, "": 1.0}
    return sum(float(n) * scale[u] for n, u in parts)
