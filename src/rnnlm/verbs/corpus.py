"""Corpora: list the registered ones, fetch one, build an arXiv corpus, or prepare one's
token ids for training."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from rnnlm.config import ID_OPTIONS, DataConfig, RunConfig
from rnnlm.data.arxiv import API_URL, build_arxiv
from rnnlm.data.corpora import get_corpus
from rnnlm.data.corpora import list_corpora as rows
from rnnlm.data.prepared import Prepared, prepare_corpus
from rnnlm.options import Arg, Fields


def list_corpora() -> list[tuple[str, str, str]]:
    """List the registered corpora and where each would come from now."""
    return rows()


def show_corpora(rows: list[tuple[str, str, str]]) -> None:
    """One line per corpus: name, where it comes from, what it is."""
    for name, where, description in rows:
        print(f"{name:<15}{where:<12}{description}")


def get(name: Annotated[str, Arg("the corpus (`rnnlm corpus list`)")]) -> list[Path]:
    """Fetch a registered corpus (mirror, cache or a sha256-checked download)."""
    return get_corpus(name)


def show_paths(paths: list[Path]) -> None:
    """The corpus's local files, one per line."""
    for path in paths:
        print(path)


def arxiv(*, query: Annotated[str, Arg("arXiv search query, e.g. 'cat:cs.NE OR cat:cs.LG'")],
          out: Annotated[str, Arg("abstracts file (appended to; ids go to OUT.ids)")],
          max: Annotated[int, Arg("abstracts wanted in all")] = 7200,
          api_url: Annotated[str, Arg("an endpoint with the arXiv API's interface (a mirror)")
                             ] = API_URL,
          delay: Annotated[float, Arg("seconds between requests (the API's terms ask for 3)")
                           ] = 3.0) -> tuple[int, str]:
    """Build a corpus of arXiv abstracts from the arXiv API, one per line."""
    return build_arxiv(query, max, out, api_url=api_url, delay=delay), out


def show_added(added: tuple[int, str]) -> None:
    """How many abstracts were added, and where."""
    count, out = added
    print(f"added {count:,} abstracts to {out} (ids in {out}.ids)")


def prepare(corpus: Annotated[list[str], Arg("a registered corpus name, or text files/folders")],
            *, data: Annotated[dict[str, Any] | None, Fields(DataConfig, ID_OPTIONS)] = None
            ) -> Prepared:
    """Tokenize a corpus's splits once into memory-mapped id files (what `rnnlm train` with
    the same options reads; it prepares them itself on first use)."""
    config = RunConfig(data=DataConfig(corpus=corpus, **(data or {}))).resolve()
    return prepare_corpus(config.data)


def show_prepared(prepared: Prepared) -> None:
    """Where the ids are, how many per split, and how fast they were prepared."""
    for name, split in prepared.splits.items():
        unit = "documents" if split.offsets is not None else "ids"
        print(f"{name:<6}{len(split):>14,} {unit:<10}{len(split.tokens):>14,} ids  "
              f"{split.characters:>14,} characters")
    size = sum(split.bytes for split in prepared.splits.values()) / 1e6
    how = (f"prepared in {prepared.seconds:.1f} s ({size / max(prepared.seconds, 1e-9):.1f} "
           f"MB/s)" if prepared.built else "already prepared (reused)")
    print(f"{prepared.path}: {prepared.tokenizer.kind} tokenizer, "
          f"{prepared.tokenizer.vocab_size:,} ids; {how}")
