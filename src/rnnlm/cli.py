"""The `rnnlm` command: each verb parses its options and calls one library function."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from rnnlm.config import GROUPS, RunConfig, flag, from_dict, load_json, load_toml, parse_duration
from rnnlm.errors import RnnlmError

if TYPE_CHECKING:
    from rnnlm.inference.scoring import EvalResult

# Options a resumed run may change; everything else is fixed by its config.json.
RESUMABLE = {"max_steps", "max_time", "eval_every", "sample_length", "device"}


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors."""

    def error(self, message: str) -> NoReturn:
        """Print `rnnlm: error: ...` on one line and exit with status 2."""
        self.exit(2, f"rnnlm: error: {message} (see `{self.prog} --help`)\n")


def duration(text: str) -> float:
    """argparse type for --max-time."""
    try:
        return parse_duration(text)
    except RnnlmError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def unescape(text: str) -> str:
    r"""Let users type \n and \t in --prime and --stop."""
    return text.replace("\\\\", "\0").replace("\\n", "\n").replace("\\t", "\t").replace("\0", "\\")


def add_config_options(parser: argparse.ArgumentParser) -> None:
    """One option per configurable field of the model, data and train dataclasses."""
    for group_name, cls in GROUPS.items():
        group = parser.add_argument_group(f"{group_name} options")
        for f in dataclasses.fields(cls):
            if not f.metadata.get("cli"):
                continue
            kwargs: dict[str, Any] = {"dest": f"{group_name}.{f.name}",
                                      "default": argparse.SUPPRESS}
            default = f.default if f.default is not dataclasses.MISSING else None
            help_text = f"{f.metadata['help']} (default: {default})".replace("%", "%%")
            if f.type == "bool":
                kwargs["action"] = argparse.BooleanOptionalAction
            elif f.metadata.get("choices"):
                kwargs["choices"] = f.metadata["choices"]
            elif f.name == "max_time":
                kwargs["type"] = duration
            else:
                kwargs["type"] = int if f.type.startswith("int") else (
                    float if f.type.startswith("float") else str)
            group.add_argument(flag(f.name), help=help_text, **kwargs)


def explicit_options(args: argparse.Namespace) -> dict[tuple[str, str], Any]:
    """The config options given on the command line, as (group, field) → value."""
    return {tuple(k.split(".", 1)): v for k, v in vars(args).items() if "." in k}


def train_config(args: argparse.Namespace) -> RunConfig:
    """Defaults ← --config TOML ← command-line options (or the resumed run's config.json)."""
    given = explicit_options(args)
    if args.resume:
        config = load_json(Path(args.resume) / "config.json")
        for (group, name), value in given.items():
            old = getattr(getattr(config, group), name)
            if name not in RESUMABLE and value != old:
                raise RnnlmError(f"cannot change {flag(name)} when resuming (the run has "
                                 f"{old}); start a new run, or fine-tune with --init-from")
        if args.corpus or args.init_from or args.config:
            raise RnnlmError("a resumed run keeps its corpus and config; give only --resume "
                             "RUN and budget options (--max-steps, --max-time)")
    else:
        config = from_dict(load_toml(args.config), args.config) if args.config else RunConfig()
        if args.init_from:
            config.init_from = args.init_from
        fixed = [n for (g, n) in given if (g == "model" and n != "dropout")
                 or n in ("tokenizer", "vocab_size", "syllables", "split")]
        if config.init_from and fixed:
            raise RnnlmError(f"{flag(fixed[0])} cannot be set with --init-from: fine-tuning "
                             f"keeps the checkpoint's architecture and tokenizer")
        if args.corpus:
            config.data.corpus = list(args.corpus)
        if not config.data.corpus:
            raise RnnlmError("no corpus given; name one (`rnnlm corpus list`) or give a text "
                             "file: rnnlm train FILE")
    for (group, name), value in given.items():
        setattr(getattr(config, group), name, value)
    return config


def cmd_train(args: argparse.Namespace) -> None:
    """rnnlm train."""
    from rnnlm.train.trainer import train

    train(train_config(args), out=args.out, resume=args.resume)


def cmd_sample(args: argparse.Namespace) -> None:
    """rnnlm sample."""
    from rnnlm.verbs.sample import sample

    sample(args.run, prime=unescape(args.prime), length=args.length,
           temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
           greedy=args.greedy, num=args.num, seed=args.seed,
           stop=unescape(args.stop) if args.stop else None, documents=args.documents,
           checkpoint=args.checkpoint,
           device=args.device)


def cmd_eval(args: argparse.Namespace) -> None:
    """rnnlm eval."""
    from rnnlm.verbs.evaluate import evaluate

    result = evaluate(args.run, corpus=args.corpus, text=args.text, split=args.split,
                      per_token=args.per_token, checkpoint=args.checkpoint, device=args.device,
                      precision=args.precision, documents=args.documents)
    print_result(result, args.json)


def print_result(result: EvalResult, as_json: bool) -> None:
    """The scores of `rnnlm eval` and `rnnlm ngram eval`: a table, or one JSON object."""
    if as_json:
        print(json.dumps(result.to_dict()))
        return
    rows = [("text", result.source), ("tokens scored", f"{result.tokens:,}"),
            ("characters", f"{result.characters:,}"), ("bytes (UTF-8)", f"{result.bytes:,}"),
            ("bits per character", f"{result.bits_per_char:.4f}"),
            ("bits per byte", f"{result.bits_per_byte:.4f}"),
            ("nats per token", f"{result.nats_per_token:.4f}"),
            ("perplexity (per token)", f"{result.perplexity:.3f}"),
            ("unknown tokens", f"{result.unknown_tokens:,}")]
    if result.oov_rate is not None:
        rows.append(("OOV rate (words)", f"{result.oov_rate:.2%}"))
    if not result.comparable:
        rows.append(("comparable", "no: unknown words cost one <unk>, so bits per "
                                   "character are not comparable across tokenizers"))
    for name, value in rows:
        print(f"{name:<24}{value}")


def cmd_ngram(args: argparse.Namespace) -> None:
    """rnnlm ngram train | eval | sample."""
    from rnnlm.ngram import lm as commands

    if args.action == "train":
        report = commands.train(args.corpus, args.order, args.out, tokenizer=args.tokenizer,
                                documents=args.documents, val_fraction=args.val_fraction)
        print(commands.describe(report))
    elif args.action == "eval":
        print_result(commands.evaluate(args.model, text=args.text, corpus=args.corpus,
                                       split=args.split, val_fraction=args.val_fraction),
                     args.json)
    else:
        print(commands.sample(args.model, prime=unescape(args.prime), length=args.length,
                              temperature=args.temperature, seed=args.seed))


def cmd_compare(args: argparse.Namespace) -> None:
    """rnnlm compare."""
    from rnnlm.verbs.compare import compare, format_table

    rows = compare(args.models, text=args.text, corpus=args.corpus, split=args.split,
                   val_fraction=args.val_fraction, device=args.device)
    if args.json:
        print(json.dumps([r.to_dict() for r in rows]))
    else:
        print(format_table(rows))


def cmd_corpus(args: argparse.Namespace) -> None:
    """rnnlm corpus list | get NAME | arxiv --query Q --max N --out FILE."""
    from rnnlm.data.corpora import get_corpus, list_corpora

    if args.action == "arxiv":
        from rnnlm.data.arxiv import build_arxiv

        if not args.query or not args.out:
            raise RnnlmError("corpus arxiv needs --query and --out, e.g. --query "
                             "'cat:cs.NE OR cat:cs.LG' --max 7200 --out abstracts.txt")
        added = build_arxiv(args.query, args.max, args.out, api_url=args.api_url,
                            delay=args.delay)
        print(f"added {added:,} abstracts to {args.out} (ids in {args.out}.ids)")
    elif args.action == "list":
        for name, where, description in list_corpora():
            print(f"{name:<15}{where:<12}{description}")
    else:
        for path in get_corpus(args.name):
            print(path)


def cmd_bench(args: argparse.Namespace) -> None:
    """rnnlm bench [--budget 2m,5m,10m]."""
    if args.budget:
        from rnnlm.bench.budget import budget_table

        budget_table([parse_duration(b) for b in args.budget.split(",")], args.corpus,
                     args.families.split(","), args.out, device=args.device)
    else:
        from rnnlm.bench.suite import bench

        bench(args.corpus, device=args.device, quick=args.quick, json_path=args.json)


def cmd_demo(args: argparse.Namespace) -> None:
    """rnnlm demo."""
    from rnnlm.verbs.demo import demo

    demo(max_time=args.max_time)


def add_ngram_parser(verbs: argparse._SubParsersAction) -> None:
    """rnnlm ngram train | eval | sample: Kneser–Ney n-gram baselines in ARPA files."""
    from rnnlm.ngram.documents import DOCUMENTS
    from rnnlm.tokenizers import TOKENIZERS

    p = verbs.add_parser("ngram", help="n-gram (Kneser–Ney) models: train, eval, sample")
    actions = p.add_subparsers(dest="action", required=True, parser_class=Parser)
    a = actions.add_parser("train", help="count a corpus's train split, write an ARPA file")
    a.add_argument("corpus", nargs="+", help="a registered corpus name, or text files/folders")
    a.add_argument("--order", type=int, default=5, help="n of the n-grams (default: 5)")
    a.add_argument("--tokenizer", choices=tuple(TOKENIZERS), default="char",
                   help="char, byte, ...; word: whitespace-separated tokens, all kept")
    a.add_argument("--documents", choices=DOCUMENTS, default="stream",
                   help="lines: each line a sentence, <s> ... </s> (default: stream)")
    a.add_argument("--out", required=True, metavar="MODEL.arpa",
                   help="the ARPA file; the tokenizer goes to MODEL.arpa.tokenizer.json")
    a.add_argument("--val-fraction", type=float, default=0.1,
                   help="held-out end of a single-text corpus, not counted (default: 0.1)")
    a.set_defaults(func=cmd_ngram)

    a = actions.add_parser("eval", help="score held-out text (same output as rnnlm eval)")
    a.add_argument("model", metavar="MODEL.arpa")
    a.add_argument("--text", help="a text file to score whole (or split with --split)")
    a.add_argument("--corpus", help="a registered corpus or path (default split: val)")
    a.add_argument("--split", choices=("all", "train", "val", "test"))
    a.add_argument("--val-fraction", type=float, default=0.1,
                   help="the held-out fraction the model was trained with (default: 0.1)")
    a.add_argument("--json", action="store_true", help="print one JSON object")
    a.set_defaults(func=cmd_ngram)

    a = actions.add_parser("sample", help="generate text from an n-gram model")
    a.add_argument("model", metavar="MODEL.arpa")
    a.add_argument("--prime", default="", help=r"text to start from (\n for newline)")
    a.add_argument("--length", type=int, default=500, help="tokens to generate")
    a.add_argument("--temperature", type=float, default=1.0, help="p ** (1 / temperature)")
    a.add_argument("--seed", type=int, help="random seed (default: fresh)")
    a.set_defaults(func=cmd_ngram)


def build_parser() -> Parser:
    """All verbs and their options."""
    parser = Parser(prog="rnnlm", description="Recurrent neural-network language models.")
    verbs = parser.add_subparsers(dest="verb", required=True, parser_class=Parser)

    p = verbs.add_parser("train", help="train a model on a corpus")
    p.add_argument("corpus", nargs="*", help="a registered corpus name, or text files/folders")
    p.add_argument("--out", help="run directory (default: runs/<corpus>)")
    p.add_argument("--resume", metavar="RUN", help="continue a run from its last/ checkpoint")
    p.add_argument("--init-from", metavar="CHECKPOINT",
                   help="fine-tune: start from a trained model (its architecture and "
                        "tokenizer; a char vocabulary gains the new characters)")
    p.add_argument("--config", metavar="FILE.toml", help="[model], [data], [train] tables")
    add_config_options(p)
    p.set_defaults(func=cmd_train)

    p = verbs.add_parser("sample", help="generate text from a trained model")
    p.add_argument("run", help="run directory or checkpoint directory")
    p.add_argument("--prime", default="", help=r"text to start from (\n for newline)")
    p.add_argument("--length", type=int,
                   help="tokens to generate (characters, bytes, words or subwords, as the "
                        "model's --tokenizer; default 500, a whole document up to 10,000)")
    p.add_argument("--temperature", type=float, default=0.8, help="divides the logits")
    p.add_argument("--top-k", type=int, help="sample among the k most likely tokens")
    p.add_argument("--top-p", type=float, help="sample from the smallest set with this mass")
    p.add_argument("--greedy", action="store_true", help="always the most likely token")
    p.add_argument("--num", type=int, default=1, help="independent samples")
    p.add_argument("--seed", type=int, help="random seed (default: fresh)")
    p.add_argument("--stop", help=r"stop a sample once it ends with this text (\n allowed)")
    p.add_argument("--documents", type=int, metavar="N",
                   help="documents-mode runs: N whole documents, each to its end token")
    p.add_argument("--checkpoint", choices=("best", "last"), default="best")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    p.set_defaults(func=cmd_sample)

    p = verbs.add_parser("eval", help="score held-out text (full pass)")
    p.add_argument("run", help="run directory or checkpoint directory")
    p.add_argument("--corpus", help="a registered corpus or path (default: the run's own)")
    p.add_argument("--text", help="a text file to score whole (or split with --split)")
    p.add_argument("--split", choices=("all", "train", "val", "test"),
                   help="part to score (default: val of a corpus, all of --text)")
    p.add_argument("--documents", metavar="FORMAT",
                   help="documents-mode runs: how the text splits into documents (lines, "
                        "blank, jsonl:FIELD; default: the run's); each scored from a zero state")
    p.add_argument("--per-token", metavar="OUT.tsv", help="write every token's log-probability")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--checkpoint", choices=("best", "last"), default="best")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--precision", choices=("fp32", "bf16"),
                   help="default: the run's training precision")
    p.set_defaults(func=cmd_eval)

    add_ngram_parser(verbs)

    p = verbs.add_parser("compare", help="score one text with several models, one scale")
    p.add_argument("models", nargs="+", metavar="RUN_OR_ARPA", help="run dirs or .arpa files")
    p.add_argument("--text", help="the text file every model scores whole")
    p.add_argument("--corpus", help="or: a registered corpus or path, scored on --split")
    p.add_argument("--split", default="val", choices=("train", "val", "test"),
                   help="part of --corpus to score (default: val)")
    p.add_argument("--val-fraction", type=float, default=0.1,
                   help="--corpus without official splits: the held-out fraction (default 0.1)")
    p.add_argument("--json", action="store_true", help="print a JSON list of rows")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    p.set_defaults(func=cmd_compare)

    p = verbs.add_parser("corpus", help="list or fetch named corpora; build an arXiv corpus")
    p.add_argument("action", choices=("list", "get", "arxiv"))
    p.add_argument("name", nargs="?", help="corpus to fetch (get)")
    arxiv = p.add_argument_group("arxiv: abstracts from the arXiv API, one per line")
    arxiv.add_argument("--query", help="arXiv search query, e.g. 'cat:cs.NE OR cat:cs.LG'")
    arxiv.add_argument("--max", type=int, default=7200, help="abstracts wanted in all")
    arxiv.add_argument("--out", help="abstracts file (appended to; ids go to OUT.ids)")
    arxiv.add_argument("--api-url", default="http://export.arxiv.org/api/query",
                       help="an endpoint with the arXiv API's interface (a mirror)")
    arxiv.add_argument("--delay", type=float, default=3.0,
                       help="seconds between requests (the API's terms ask for 3)")
    p.set_defaults(func=cmd_corpus)

    p = verbs.add_parser("bench", help="speed against the machine's limit; quality by budget")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument("--quick", action="store_true", help="one small shape, seconds in all")
    p.add_argument("--corpus", default="shakespeare", help="text for training and vocabulary")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))
    p.add_argument("--budget", metavar="TIMES",
                   help="instead: train every family for each wall-clock budget (e.g. "
                        "2m,5m,10m) and tabulate val bits/char (markdown, JSON, PNG)")
    p.add_argument("--families", default="lstm,gru,rnn,transformer,nanogpt",
                   help="--budget: model families to train")
    p.add_argument("--out", default="runs/budget", help="--budget: runs and results folder")
    p.set_defaults(func=cmd_bench)

    p = verbs.add_parser("demo", help="train on the default corpus and print samples")
    p.add_argument("--max-time", type=duration, default=210.0, help="training time")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: one-line errors on stderr, exit status 2 for bad input."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verb == "corpus" and args.action == "get" and not args.name:
        parser.error("corpus get needs a NAME (see `rnnlm corpus list`)")
    try:
        args.func(args)
    except RnnlmError as e:
        print(f"rnnlm: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. `rnnlm sample RUN | head`
        sys.stderr.close()
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
