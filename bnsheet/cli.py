"""The ``bnsheet`` command: build and verify (SPEC §5). Exit 0 ok, 1 a node fails, 2 unusable input."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import engines
from .builder import DEFAULT_PATH, build
from .errors import BnsheetError
from .graph import LANGUAGES
from .inputs import DEFAULT_EPS, DEFAULT_LR, DEFAULT_MOMENTUM, DEFAULT_SEED
from .verifier import verify


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"bnsheet: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bnsheet", description="Batch Normalization as a live spreadsheet.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    b = commands.add_parser("build", help="write the workbook")
    b.add_argument("-o", "--output", default=str(DEFAULT_PATH), help=f"where to write (default {DEFAULT_PATH})")
    b.add_argument("--n", type=int, help="batch size N (rows); default 4, or the rows of --x")
    b.add_argument("--d", type=int, help="features D (columns); default 3, or the columns of --x")
    b.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed for inputs not given")
    b.add_argument("--eps", type=float, default=DEFAULT_EPS, help="eps added to the variance")
    for name, shape in (("x", "NxD"), ("gamma", "1xD"), ("beta", "1xD"), ("dout", "NxD"),
                        ("running-mean", "1xD"), ("running-var", "1xD")):  # fmt: skip
        b.add_argument(f"--{name}", metavar="CSV", help=f"{name} ({shape}) from a CSV file")
    b.add_argument("--momentum", type=float, default=DEFAULT_MOMENTUM, help="momentum of the running statistics")
    b.add_argument("--unbiased", action="store_true", help="running variance with the unbiased N/(N-1) estimate")
    b.add_argument("--lr", type=float, default=DEFAULT_LR, help="learning rate of the SGD step")
    b.add_argument("--lang", choices=LANGUAGES, default="en", help="language of every word in the workbook")
    b.add_argument("--quiet", action="store_true", help="no progress bar")

    v = commands.add_parser("verify", help="recalculate a workbook and check it against the reference")
    v.add_argument("path")
    v.add_argument("--engine", choices=engines.NAMES, help="formula engine (default: the fastest installed)")
    v.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "build":
            path = build(
                args.output, n=args.n, d=args.d, seed=args.seed, eps=args.eps,
                x=args.x, gamma=args.gamma, beta=args.beta, dout=args.dout, running_mean=args.running_mean,
                running_var=args.running_var, momentum=args.momentum, unbiased=args.unbiased, lr=args.lr,
                lang=args.lang, progress=not args.quiet and sys.stderr.isatty(),
            )  # fmt: skip
            print(f"wrote {path}")
            return 0
        report = verify(args.path, engine=args.engine)
    except BnsheetError as exc:
        print(f"bnsheet: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bnsheet: interrupted", file=sys.stderr)
        return 130
    print(report.to_json() if args.json else report.to_text())
    return 0 if report.ok else 1
