"""The ARPA spelling of each n-gram id: one distinct word per id, as KenLM looks them up.

A documents-mode model's vocabulary is the tokenizer's ids followed by the begin- and
end-of-document ids (data.documents.Boundaries), written <s> and </s> as in every ARPA file.
"""

from __future__ import annotations

from rnnlm.errors import RnnlmError
from rnnlm.tokenizers import Tokenizer
from rnnlm.tokenizers.word import WordTokenizer

BOS, EOS, UNK = "<s>", "</s>", "<unk>"


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


def token_names(tok: Tokenizer, documents: bool) -> list[str]:
    """One distinct ARPA word per n-gram id: <unk>, the tokenizer's specials by name, each other
    token's escaped text (`<idN>` where that is empty or shared), then <s> </s> for documents."""
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
    if documents:
        names += [BOS, EOS]
    if len(set(names)) < len(names):
        raise RnnlmError(f"the {tok.kind} tokenizer's specials clash with <s>, </s> or each "
                         f"other ({', '.join(tok.specials)}); rename them")
    return names
