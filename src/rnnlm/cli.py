"""The `rnnlm` command: a table of verbs, each a library function whose signature is the command.

A verb function's positional parameters are the command's arguments and its keyword-only
parameters its options, each declared once as `Annotated[type, Arg(help, ...)]`; a parameter
annotated `Fields(SomeConfig)` takes the flags of that config dataclass's fields (declared on
the fields) and receives the ones given, as {field: value}. Parameters without an `Arg` are
for library callers only. A verb may have a `show` function that prints its result, with
options of its own (--json). This module only parses, calls and prints errors.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import inspect
import sys
import typing
from collections.abc import Callable
from types import NoneType, UnionType
from typing import Annotated, Any, NoReturn

from rnnlm.config import GROUPS
from rnnlm.errors import RnnlmError
from rnnlm.options import Arg, Fields, flag

# verb → "module:function" under rnnlm.verbs, with the function that prints its result; a
# dict of them is a verb with actions (rnnlm ngram train).
Entry = tuple[str, str | None]
VERBS: dict[str, Entry | dict[str, Entry]] = {
    "train": ("train:train", None),
    "sample": ("sample:sample", None),
    "translate": ("translate:translate", None),
    "caption": ("caption:caption", None),
    "eval": ("evaluate:evaluate", "evaluate:show"),
    "compare": ("compare:compare", "compare:show"),
    "ngram": {"train": ("ngram:train", "ngram:show_report"),
              "eval": ("ngram:evaluate", "evaluate:show"),
              "sample": ("ngram:sample", "ngram:show_text")},
    "corpus": {"list": ("corpus:list_corpora", "corpus:show_corpora"),
               "get": ("corpus:get", "corpus:show_paths"),
               "arxiv": ("corpus:arxiv", "corpus:show_added"),
               "prepare": ("corpus:prepare", "corpus:show_prepared")},
    "export": ("export:export", None),
    "serve": ("serve:serve", None),
    "inspect": ("inspect:inspect", None),
    "bench": ("bench:bench", None),
    "demo": ("demo:demo", None),
}


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors."""

    def error(self, message: str) -> NoReturn:
        """Print `rnnlm: error: ...` on one line and exit with status 2."""
        self.exit(2, f"rnnlm: error: {message} (see `{self.prog} --help`)\n")


def function(name: str) -> Callable[..., Any]:
    """rnnlm.verbs.MODULE.FUNCTION from "MODULE:FUNCTION"."""
    module, attr = name.split(":")
    return getattr(importlib.import_module(f"rnnlm.verbs.{module}"), attr)


def summary(obj: object) -> str:
    """The first line of a docstring: a verb's help."""
    return (inspect.getdoc(obj) or "").splitlines()[0].rstrip(".")


def plain(annotation: Any) -> tuple[Any, bool]:
    """(the value type, whether it is a list) of an annotation such as `list[str] | None`."""
    if isinstance(annotation, UnionType) or typing.get_origin(annotation) is typing.Union:
        annotation = next(a for a in typing.get_args(annotation) if a is not NoneType)
    if typing.get_origin(annotation) is list:
        return typing.get_args(annotation)[0], True
    return annotation, False


def reader(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """An argparse type from a parser that raises RnnlmError."""
    def read(text: str) -> Any:
        try:
            return parse(text)
        except RnnlmError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    read.__name__ = getattr(parse, "__name__", "value")  # argparse names it in its errors
    return read


def help_text(text: str, default: Any) -> str:
    """The help with the default shown (argparse expands %, so it is escaped)."""
    hidden = default is None or default is False or default is inspect.Parameter.empty
    shown = "" if hidden else f" (default: {default})"
    return (text + shown).replace("%", "%%")


def kind_options(kind: Any, arg: Arg, negatable: bool) -> dict[str, Any]:
    """The argparse keywords for a value of type kind: a flag for a bool (--x/--no-x when
    negatable), else a type."""
    if kind is bool:
        return {"action": argparse.BooleanOptionalAction if negatable else "store_true"}
    options: dict[str, Any] = {"type": reader(arg.parse or kind)}
    if arg.choices:
        options["choices"] = arg.choices
    if arg.metavar:
        options["metavar"] = arg.metavar
    return options


def add_parameter(parser: argparse.ArgumentParser, p: inspect.Parameter, kind: Any, many: bool,
                  arg: Arg) -> None:
    """One argument (positional parameter) or option (keyword-only) of a verb."""
    options = {"help": help_text(arg.help, p.default), "default": argparse.SUPPRESS,
               **kind_options(kind, arg, negatable=p.default is True)}
    optional = p.default is not inspect.Parameter.empty
    if p.kind is inspect.Parameter.KEYWORD_ONLY:
        parser.add_argument(flag(p.name), dest=p.name, required=not optional,
                            **options)
        return
    options.setdefault("metavar", p.name.upper())
    if many or optional:
        options["nargs"] = ("*" if optional else "+") if many else "?"
    parser.add_argument(p.name, **options)


def add_fields(parser: argparse.ArgumentParser, name: str, fields: Fields) -> None:
    """The flags of a config dataclass's command-line fields, into dest NAME.FIELD."""
    group_name = next(g for g, cls in GROUPS.items() if cls is fields.cls)
    group = parser.add_argument_group(f"{group_name} options")
    hints = typing.get_type_hints(fields.cls)
    for f in dataclasses.fields(fields.cls):
        if not f.metadata["cli"] or (fields.names and f.name not in fields.names):
            continue
        arg: Arg = f.metadata["arg"]
        default = f.default if f.default is not dataclasses.MISSING else None
        options = kind_options(plain(hints[f.name])[0], arg, negatable=True)
        if "type" in options and "choices" not in options:
            options.setdefault("metavar", f.name.upper())
        group.add_argument(flag(f.name), dest=f"{name}.{f.name}",
                           default=argparse.SUPPRESS, help=help_text(arg.help, default),
                           **options)


def parameters(fn: Callable[..., Any], skip: int = 0
               ) -> list[tuple[inspect.Parameter, Any, tuple[Any, ...]]]:
    """fn's command-line parameters (after the first `skip`): (parameter, type, markers)."""
    found = []
    namespace = vars(sys.modules[fn.__module__])
    for p in list(inspect.signature(fn).parameters.values())[skip:]:
        annotation = eval(p.annotation, namespace) if isinstance(p.annotation, str) \
            else p.annotation  # verbs postpone their annotations (strings)
        if typing.get_origin(annotation) is Annotated:
            kind, *markers = typing.get_args(annotation)
            found.append((p, kind, tuple(markers)))
    return found


def functions(entry: Entry) -> list[tuple[Callable[..., Any], int]]:
    """A verb's function, and its show function (whose first parameter is the result)."""
    run, show = entry
    return [(function(run), 0)] + ([(function(show), 1)] if show else [])


def add_verb(parser: argparse.ArgumentParser, entry: Entry) -> None:
    """The arguments of a verb function and of its show function."""
    for fn, skip in functions(entry):
        for p, kind, markers in parameters(fn, skip):
            for marker in markers:
                if isinstance(marker, Fields):
                    add_fields(parser, p.name, marker)
                elif isinstance(marker, Arg):
                    add_parameter(parser, p, *plain(kind), marker)
    parser.set_defaults(entry=entry)


def given(fn: Callable[..., Any], args: argparse.Namespace, skip: int = 0) -> dict[str, Any]:
    """The keyword arguments for fn from the parsed command line (only what was given)."""
    values = vars(args)
    out: dict[str, Any] = {}
    for p, _, markers in parameters(fn, skip):
        if any(isinstance(m, Fields) for m in markers):
            prefix = p.name + "."
            out[p.name] = {k[len(prefix):]: v for k, v in values.items() if k.startswith(prefix)}
        elif p.name in values:
            out[p.name] = values[p.name]
    return out


def build_parser() -> Parser:
    """All verbs and their options."""
    parser = Parser(prog="rnnlm", description="Recurrent neural-network language models.")
    verbs = parser.add_subparsers(dest="verb", required=True, parser_class=Parser)
    for name, entry in VERBS.items():
        if isinstance(entry, tuple):
            add_verb(verbs.add_parser(name, help=summary(function(entry[0]))), entry)
            continue
        module = importlib.import_module("rnnlm.verbs." + next(iter(entry.values()))[0]
                                         .split(":")[0])
        group = verbs.add_parser(name, help=summary(module))
        actions = group.add_subparsers(dest="action", required=True, parser_class=Parser)
        for action, sub in entry.items():
            add_verb(actions.add_parser(action, help=summary(function(sub[0]))), sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: one-line errors on stderr, exit status 2 for bad input."""
    args = build_parser().parse_args(argv)
    (run, _), *show = functions(args.entry)
    try:
        result = run(**given(run, args))
        for fn, skip in show:
            fn(result, **given(fn, args, skip))
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
