"""The ``asgbench`` command: one small module per verb group, each parse -> library call -> print.

Library errors (AsgbenchError) become one line on stderr and exit code 2. Heavy libraries are imported
inside the handlers, so ``--help`` stays instant.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from asgbench import __version__
from asgbench.cli import data, demo, evaluate, inventory, pretrain, report
from asgbench.errors import AsgbenchError

Handler = Callable[[argparse.Namespace], int]
VERB_GROUPS = (inventory, data, evaluate, report, pretrain, demo)


class OneLineParser(argparse.ArgumentParser):
    """argparse's errors as one line naming the command's help, instead of the whole usage block."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="asgbench",
        description="Benchmark, evaluation harness and pre-training kit for chest X-ray vision-language models.",
    )
    parser.add_argument("--version", action="version", version=f"asgbench {__version__}")
    verbs = parser.add_subparsers(dest="verb", metavar="COMMAND")
    for group in VERB_GROUPS:
        group.register(verbs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    try:
        return handler(args)
    except AsgbenchError as exc:
        message = " ".join(str(exc).split())
        print(f"asgbench: error: {message}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:   # a folder or file the system refused (permissions, full disk): the input, not a bug
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"asgbench: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("asgbench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
