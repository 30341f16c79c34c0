"""The rules between options that belong to one kind of model or one group of options: the
encoder–decoder's, the captioner's, the transformer's, the recurrent cells' and AWD-LSTM's.
RunConfig.validate() (config.py) calls them; each raises a one-line RnnlmError that names
the fix."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rnnlm.errors import RnnlmError
from rnnlm.options import check_pairs, flag

if TYPE_CHECKING:
    from rnnlm.config import DataConfig, ModelConfig, RunConfig, Seq2SeqConfig

# AWD-LSTM's regularizers (models/awd.py): the recurrent LM's, in training only.
REGULARIZERS = ("dropout_input", "dropout_hidden", "dropout_output", "dropout_embedding",
                "weight_drop", "ar", "tar")


def check_model(m: ModelConfig) -> None:
    """The network's own rules: CReLU's even width, tied matrices of one shape."""
    if m.cell == "rnn" and m.activation == "crelu" and m.hidden % 2:
        raise RnnlmError(f"--activation crelu needs an even --hidden (got {m.hidden}): a "
                         f"layer's state is [relu(a), relu(-a)] of its --hidden / 2 "
                         f"pre-activations; give --hidden {m.hidden + 1}")
    if m.tie_weights and m.embedding != m.hidden:
        raise RnnlmError(f"--tie-weights needs --embedding equal to --hidden "
                         f"(got {m.embedding} and {m.hidden}); set --embedding {m.hidden}")


def check_seq2seq(m: ModelConfig, s: Seq2SeqConfig) -> None:
    """The encoder–decoder's rules: an LSTM or GRU, an even hidden size (the bidirectional
    encoder's two directions fill it), copying only within one vocabulary."""
    check_pairs(s.pairs or "")
    if m.cell not in ("lstm", "gru"):
        raise RnnlmError(f"--pairs trains an LSTM or GRU encoder–decoder (got --cell {m.cell}); "
                         f"give --cell lstm or --cell gru")
    if m.hidden % 2:
        raise RnnlmError(f"--hidden {m.hidden} must be even with --pairs: each direction of the "
                         f"bidirectional encoder has half of it")
    if not m.embedding:
        raise RnnlmError("--pairs needs --embedding of 1 or more (one-hot inputs are for "
                         "language models)")
    if s.copy and s.source_tokenizer != "shared":
        raise RnnlmError("--copy copies source tokens into the output, so both sides need one "
                         "vocabulary; give --source-tokenizer shared")
    if s.coverage and not s.copy:
        raise RnnlmError("--coverage applies to the pointer-generator; give --copy too")


def check_caption(c: RunConfig) -> None:
    """The captioner's rules: an LSTM or GRU decoder with embeddings, not also on pairs."""
    if c.pairs:
        raise RnnlmError("--captions and --pairs are two kinds of run; give one of them")
    if c.model.cell not in ("lstm", "gru"):
        raise RnnlmError(f"--captions trains an LSTM or GRU decoder (got --cell "
                         f"{c.model.cell}); give --cell lstm or --cell gru")
    if not c.model.embedding:
        raise RnnlmError("--captions needs --embedding of 1 or more")
    if c.caption.fine_tune and c.caption.encoder == "cnn":
        raise RnnlmError("--fine-tune applies to the pretrained encoder; the cnn is always "
                         "trained (drop --fine-tune)")


def check_awd(c: RunConfig) -> None:
    """AWD-LSTM's training options' rules: variable windows are a recurrent model's stream
    windows; NT-ASGD averages a language model trained at a constant lr."""
    d, t = c.data, c.train
    if d.variable_bptt and d.mode == "documents":
        raise RnnlmError("--variable-bptt varies stream-mode windows; documents mode cuts "
                         "documents with --chunk (drop --variable-bptt)")
    if d.variable_bptt and c.model.cell == "transformer":
        raise RnnlmError("--variable-bptt draws windows longer than --seq-len, past the "
                         "transformer's --block; drop it, or train a recurrent --cell")
    if t.optimizer == "ntasgd" and (c.pairs or c.captions):
        raise RnnlmError("--optimizer ntasgd averages a language model's weights; give another "
                         "--optimizer with --pairs or --captions")
    if t.optimizer == "ntasgd" and t.lr_schedule not in (None, "constant"):
        raise RnnlmError(f"--optimizer ntasgd keeps the lr constant, as AWD-LSTM does; drop "
                         f"--lr-schedule {t.lr_schedule}")


def check_regularizers(c: RunConfig) -> None:
    """AWD-LSTM's regularizers belong to the recurrent language model; locked dropout between
    layers needs two layers or more."""
    given = [flag(name) for name in REGULARIZERS if getattr(c.model, name)]
    kind = "--pairs" if c.pairs else "--captions" if c.captions else None
    if given and (kind or c.model.cell not in ("lstm", "gru", "rnn")):
        raise RnnlmError(f"{given[0]} regularizes the recurrent language model (lstm, gru, "
                         f"rnn), not {kind or '--cell ' + c.model.cell}; drop it")
    if c.model.dropout_hidden and c.model.layers < 2:
        raise RnnlmError("--dropout-hidden acts between recurrent layers; give --layers 2 or "
                         "more, or drop it")


def check_transformer(m: ModelConfig, d: DataConfig) -> None:
    """The transformer's rules: heads divide hidden, its embedding is tied, and its learned
    positions are exactly the training window's, so that every position it attends to is
    trained (whole documents longer than the block are read in windows)."""
    if m.hidden % m.heads:
        raise RnnlmError(f"--hidden {m.hidden} is not divisible by --heads {m.heads}; choose "
                         f"--heads that divides it (e.g. {math.gcd(m.hidden, m.heads)})")
    if m.block is None or (d.mode == "documents" and not d.chunk):
        return
    name, window = ("--chunk", d.chunk) if d.mode == "documents" else ("--seq-len", d.seq_len)
    if window > m.block:
        raise RnnlmError(f"{name} {window} is longer than --block {m.block}, the positions the "
                         f"transformer attends to; give {name} {m.block} or --block {window}")
    if window < m.block:
        raise RnnlmError(f"--block {m.block} is longer than {name} {window}: positions past the "
                         f"training window would never be trained; give --block {window} (the "
                         f"default) or {name} {m.block}")
