"""Text → one id sequence for counting and scoring: a stream, or one sentence per line with
<s> as context at its start and </s> predicted at its end; and the ARPA spelling of each id.

In `lines` mode the n-gram vocabulary is the tokenizer's ids followed by <s> and </s>
(ids V and V+1); the newline itself is never a token there (</s> takes its place; a character
tokenizer still has an id for it, which keeps only the uniform share of probability and is
never sampled). A final newline ends the last line, it does not open an empty one; other
empty lines are sentences of their own (<s> </s>).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnnlm.errors import RnnlmError
from rnnlm.tokenizers import TOKENIZERS, Tokenizer, build_tokenizer, load_tokenizer
from rnnlm.tokenizers.word import WordTokenizer

DOCUMENTS = ("stream", "lines")
BOS, EOS, UNK = "<s>", "</s>", "<unk>"


def fit_tokenizer(kind: str, text: str, documents: str = "stream") -> Tokenizer:
    """A tokenizer of type `kind` fitted on the training text; `word` is KenLM's convention:
    whitespace-separated tokens, all of them kept (a literal <unk> is the unknown token), and
    in lines mode no line-break token (</s> takes its place)."""
    if kind not in TOKENIZERS:
        raise RnnlmError(f"unknown tokenizer {kind!r}; choose one of {', '.join(TOKENIZERS)}")
    if kind == "word":
        words = text.replace("\n", " ") if documents == "lines" else text
        return build_tokenizer(kind, words, vocab_size=0, split="whitespace")
    return build_tokenizer(kind, text)


def load_tokenizer_file(path: Path) -> Tokenizer:
    """Read the tokenizer JSON written beside an ARPA file."""
    if not Path(path).is_file():
        raise RnnlmError(f"no tokenizer file {path}; an n-gram model needs the one "
                         f"`rnnlm ngram train` wrote beside it")
    return load_tokenizer(Path(path))


def split_lines(text: str) -> list[str]:
    """The lines of text; a final newline does not start another line."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def encode_documents(tok: Tokenizer, text: str, documents: str) -> np.ndarray:
    """The whole text as ids: the tokenizer's ids (stream), or <s> line </s> per line (lines)."""
    if documents == "stream":
        return np.asarray(tok.encode(text), dtype=np.int64)
    bos, eos = np.array([tok.vocab_size]), np.array([tok.vocab_size + 1])
    parts = []
    for line in split_lines(text):
        parts += [bos, np.asarray(tok.encode(line), dtype=np.int64), eos]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def escape(text: str) -> str:
    r"""A token's text as one ARPA word, unchanged where possible (KenLM looks words up
    verbatim): whitespace, unprintable characters and a leading '<' (reserved for <s>, </s>,
    <unk> and specials) become \xHH, \uHHHH or \UHHHHHHHH, and a backslash becomes \\ only
    where what follows it starts with x, u, U or a backslash: the spelling stays one-to-one."""
    def coded(i: int) -> str:
        c = text[i]
        if c.isspace() or not c.isprintable() or (i == 0 and c == "<"):
            code = ord(c)
            return (f"\\x{code:02x}" if code < 0x100 else
                    f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        return c

    out = [coded(i) for i in range(len(text))]
    for i, c in enumerate(text):
        if c == "\\" and i + 1 < len(text) and out[i + 1][0] in "xuU\\":
            out[i] = "\\\\"
    return "".join(out)


def token_names(tok: Tokenizer, documents: str) -> list[str]:
    """One distinct ARPA word per n-gram id: <unk>, the tokenizer's specials by name, each other
    token's escaped text (`<idN>` where that is empty or shared), then <s> </s> in lines mode."""
    if isinstance(tok, WordTokenizer):  # the words themselves, not their decoded spacing
        names = [UNK, *map(escape, tok.words)]
    else:
        names = [escape(tok.decode([i])) for i in range(tok.vocab_size)]
    for i, name in zip(tok.special_ids(), tok.specials, strict=True):
        names[i] = name
    if tok.unk_id is not None:
        names[tok.unk_id] = UNK
    seen: dict[str, int] = {}
    for name in names:
        seen[name] = seen.get(name, 0) + 1
    specials = set(tok.special_ids())
    names = [f"<id{i}>" if i not in specials and (not n or seen[n] > 1) else n
             for i, n in enumerate(names)]
    if documents == "lines":
        names += [BOS, EOS]
    if len(set(names)) < len(names):
        raise RnnlmError(f"the {tok.kind} tokenizer's specials clash with <s>, </s> or each "
                         f"other ({', '.join(tok.specials)}); rename them")
    return names
