"""ARPA files (the text format of SRILM and KenLM): written atomically, read strictly.

    \\data\\
    ngram 1=V
    ngram 2=...

    \\1-grams:
    log10 p <TAB> word <TAB> log10 backoff
    ...
    \\end\\

Words are the ids' names from names.token_names (the tokenizer file beside the ARPA file
gives them back); a file whose 1-grams include <s> or </s> is a documents-mode model, and
its vocabulary is the tokenizer's followed by <s> and </s>. Numbers have 8 decimals, so
a model read back scores text like the one written to within 1e-8 log10 per stored value.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from rnnlm.errors import RnnlmError
from rnnlm.fileio import write_atomic
from rnnlm.ngram.backoff import NgramModel
from rnnlm.ngram.names import BOS, EOS

HEADER = re.compile(r"ngram\s+(\d+)\s*=\s*(\d+)")


def ngram_strings(model: NgramModel, names: list[str]) -> list[list[str]]:
    """Each stored n-gram as its words joined by spaces, order by order."""
    strings = [list(names)]
    for n in range(2, model.order + 1):
        keys = model.keys[n - 1]
        prev = strings[-1]
        strings.append([f"{prev[c]} {names[w]}" for c, w in
                        zip((keys // model.vocab).tolist(), (keys % model.vocab).tolist(),
                            strict=True)])
    return strings


def write_arpa(path: Path, model: NgramModel, names: list[str]) -> None:
    """Write the model as an ARPA file, atomically (backoff weights on n-grams that are
    contexts of longer ones)."""
    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="\n") as f:
            f.write("\\data\\\n")
            for n, keys in enumerate(model.keys, 1):
                f.write(f"ngram {n}={len(keys)}\n")
            for n, strings in enumerate(ngram_strings(model, names), 1):
                f.write(f"\n\\{n}-grams:\n")
                context = model.is_context(n).tolist()
                lines = [f"{p:.8f}\t{s}\t{b:.8f}\n" if c else f"{p:.8f}\t{s}\n"
                         for p, s, b, c in zip(model.logprob[n - 1].tolist(), strings,
                                               model.backoff[n - 1].tolist(), context,
                                               strict=True)]
                f.write("".join(lines))
            f.write("\n\\end\\\n")

    write_atomic(Path(path), write)


class ArpaReader:
    """Parses one ARPA file against a vocabulary; errors name the file and line."""

    def __init__(self, path: Path, names: list[str], vocab_source: str) -> None:
        self.path, self.names, self.vocab_source = Path(path), names, vocab_source
        self.ids = {name: i for i, name in enumerate(names)}

    def fail(self, line: int, problem: str) -> RnnlmError:
        """A one-line error at a line of the file."""
        return RnnlmError(f"{self.path}, line {line}: {problem}")

    def read(self) -> NgramModel:
        """The model the file holds."""
        try:
            lines = self.path.read_text(encoding="utf-8").split("\n")
        except (OSError, UnicodeDecodeError) as e:
            raise RnnlmError(f"cannot read the ARPA file {self.path} ({e}); check the path"
                             ) from None
        i = 0
        while i < len(lines) and not lines[i].strip():
            i += 1
        if i == len(lines) or lines[i].strip() != "\\data\\":
            raise self.fail(i + 1, "an ARPA file starts with \\data\\; this is not one")
        i += 1
        counts: list[int] = []
        while i < len(lines) and not lines[i].startswith("\\"):
            if lines[i].strip():
                m = HEADER.fullmatch(lines[i].strip())
                if not m or int(m.group(1)) != len(counts) + 1:
                    raise self.fail(i + 1, f"expected 'ngram {len(counts) + 1}=COUNT', got "
                                           f"{lines[i].strip()!r}")
                counts.append(int(m.group(2)))
            i += 1
        if not counts:
            raise self.fail(i + 1, "the \\data\\ header lists no 'ngram N=COUNT' lines")
        sections = []
        for n, count in enumerate(counts, 1):
            if i >= len(lines) or lines[i].strip() != f"\\{n}-grams:":
                raise self.fail(i + 1, f"expected the section header \\{n}-grams:")
            header, i = i + 1, i + 1
            start = i
            while i < len(lines) and not lines[i].startswith("\\"):
                i += 1
            numbers = [k for k in range(start, i) if lines[k].strip()]
            if len(numbers) != count:
                raise self.fail(header, f"\\data\\ says ngram {n}={count} but the section "
                                        f"has {len(numbers)} entries")
            sections.append(numbers)
        if i >= len(lines) or lines[i].strip() != "\\end\\":
            raise self.fail(i + 1, "expected \\end\\ after the last section")
        unigrams = {lines[k].split()[1] for k in sections[0] if len(lines[k].split()) > 1}
        if BOS in unigrams or EOS in unigrams:  # a documents-mode model
            self.names = [*self.names, BOS, EOS]
            self.ids = {name: i for i, name in enumerate(self.names)}
        model = NgramModel(len(self.names), [], [], [], self.ids.get(BOS), self.ids.get(EOS))
        for n, numbers in enumerate(sections, 1):
            self.section(model, n, n == len(sections), lines, numbers)
        missing = [name for name, lp in zip(self.names, model.logprob[0], strict=True)
                   if np.isnan(lp)]
        if missing:
            raise RnnlmError(f"{self.vocab_source} has {len(missing)} token(s) that "
                             f"{self.path} lacks (e.g. {missing[0]!r}): the tokenizer file "
                             f"belongs to another model; use the one written with it")
        return model

    def section(self, model: NgramModel, n: int, top: bool, lines: list[str],
                numbers: list[int]) -> None:
        """Parse the entries of order n (their line indices) into the model's tables."""
        fields, width = split_fields([lines[k] for k in numbers])
        bad = np.flatnonzero((width != n + 1) & ((width != n + 2) | top))
        if len(bad):
            k = numbers[bad[0]]
            raise self.fail(k + 1, f"a {n}-gram entry is a log10 probability, {n} word(s)"
                                   f"{'' if top else ' and an optional backoff weight'}; "
                                   f"got {lines[k].strip()!r}")
        first = np.cumsum(width) - width  # each entry's first field
        logprob = self.numbers(fields[first], numbers, "log10 probability")
        has_backoff = np.flatnonzero(width == n + 2)
        backoff = np.zeros(len(numbers))
        backoff[has_backoff] = self.numbers(fields[first[has_backoff] + n + 1],
                                            [numbers[j] for j in has_backoff.tolist()],
                                            "log10 backoff weight")
        get = self.ids.get
        names = fields[first[:, None] + np.arange(1, n + 1)].ravel().tolist()
        words = np.array([get(w, -1) for w in names], dtype=np.int64).reshape(-1, n)
        unknown = np.flatnonzero((words < 0).any(axis=1))
        if len(unknown):
            j = unknown[0]
            word = next(w for w in lines[numbers[j]].split()[1: n + 1] if w not in self.ids)
            raise self.fail(numbers[j] + 1, f"the word {word!r} is not in the vocabulary of "
                                            f"{self.vocab_source}: the tokenizer file belongs "
                                            f"to another model; use the one written with it")
        context = words[:, 0]
        for j in range(1, n - 1):
            context = model.find(j + 1, context, words[:, j])
        if n > 2 and (context < 0).any():
            j = int(np.flatnonzero(context < 0)[0])
            raise self.fail(numbers[j] + 1, f"the {n}-gram's first {n - 1} words are not a "
                                            f"{n - 1}-gram of the file (ARPA files hold every "
                                            f"prefix)")
        keys = context * model.vocab + words[:, -1] if n > 1 else words[:, 0]
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        dup = np.flatnonzero(keys[1:] == keys[:-1])
        if len(dup):
            raise self.fail(numbers[order[dup[0] + 1]] + 1, f"this {n}-gram is listed twice")
        if n == 1:
            full = np.full(model.vocab, np.nan)
            full[keys] = logprob[order]
            model.keys.append(np.arange(model.vocab, dtype=np.int64))
            model.logprob.append(full)
            model.backoff.append(np.zeros(model.vocab))
            model.backoff[0][keys] = backoff[order]
        else:
            model.keys.append(keys)
            model.logprob.append(logprob[order])
            model.backoff.append(backoff[order])

    def numbers(self, texts: np.ndarray, numbers: list[int], what: str) -> np.ndarray:
        """Fields as float64 log10 values (probabilities must be ≤ 0), or the line at fault."""
        try:
            values = texts.astype(np.float64)
        except ValueError:
            values = np.full(len(texts), np.nan)
            for j, text in enumerate(texts.tolist()):
                try:
                    values[j] = float(text)
                except ValueError:
                    break
        bad = ~np.isfinite(values) | ((values > 0) if what == "log10 probability" else False)
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            raise self.fail(numbers[j] + 1, f"{texts[j]!r} is not a valid {what}")
        return values


def split_fields(lines: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The whitespace-separated fields of all lines as one object array, and each line's
    number of fields: one str.split of the whole text, widths counted on its bytes."""
    text = "\n".join(lines)
    fields = np.array(text.split(), dtype=object)
    data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    space = (data == 32) | ((data >= 9) & (data <= 13)) | ((data >= 28) & (data <= 31))
    starts = ~space
    starts[1:] &= space[:-1]
    line = np.searchsorted(np.flatnonzero(data == 10), np.flatnonzero(starts))
    width = np.bincount(line, minlength=len(lines))
    if width.sum() != len(fields):  # other Unicode whitespace: split line by line
        rows = [line.split() for line in lines]
        width = np.array([len(r) for r in rows], dtype=np.int64)
        fields = np.array([f for r in rows for f in r], dtype=object)
    return fields, width


def read_arpa(path: Path, names: list[str], vocab_source: str) -> NgramModel:
    """Read an ARPA file whose words are `names` (id order), e.g. from its tokenizer file."""
    return ArpaReader(path, names, vocab_source).read()
