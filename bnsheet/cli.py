"""The ``bnsheet`` command: build, verify and experiment (SPEC §5). Exit 0 ok, 1 a node fails, 2 unusable input."""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from . import build, build_class, engines
from .checking.proposal import propose_map
from .checking.verify import verify
from .errors import BnsheetError, InputError
from .experiment import training
from .grading import feedback
from .grading import workers as workers_module
from .grading.gradebook import grade_all, submissions
from .model.graph import LANGUAGES
from .model.inputs import DEFAULT_EPS, DEFAULT_LR, DEFAULT_MOMENTUM, DEFAULT_SEED
from .version import __version__
from .writing import exercise, roster
from .writing.build import DEFAULT_PATH
from .writing.files import replacing


def _scales(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a comma-separated list of numbers: {text!r}") from None


def _count(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        count = -1
    if count < 0:
        raise argparse.ArgumentTypeError(f"not a count (0 or more): {text!r}")
    return count


# A negative number, as an option's value may be; argparse (3.11) knows only -1 and -.5 for one and
# takes -1e-5 for an option ("--eps: expected one argument").
_NEGATIVE_NUMBER = re.compile(r"-(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|-inf(?:inity)?|-nan", re.IGNORECASE)

# The inputs build takes from CSV files, with the shape each must have.
_CSV_INPUTS = {"x": "NxD", "gamma": "1xD", "beta": "1xD", "dout": "NxD", "running-mean": "1xD", "running-var": "1xD"}


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 2, and an option's value may be any
    negative number, for the range checks to refuse with their own message (``--eps -1e-5``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.valued: set[str] = set()  # the options that take a value

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        action = super().add_argument(*args, **kwargs)
        if action.option_strings and action.nargs is None:
            self.valued.update(action.option_strings)
        return action

    def parse_known_args(self, args: Iterable[str] | None = None, namespace: Any = None) -> Any:
        given = list(sys.argv[1:] if args is None else args)
        joined: list[str] = []
        for arg in given:
            if joined and joined[-1] in self.valued and _NEGATIVE_NUMBER.fullmatch(arg):
                joined[-1] = f"{joined[-1]}={arg}"
            else:
                joined.append(arg)
        return super().parse_known_args(joined, namespace)

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"bnsheet: {message}\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bnsheet", description="Batch Normalization as a live spreadsheet.")
    parser.add_argument("--version", action="version", version=f"bnsheet {__version__}")
    commands = parser.add_subparsers(dest="command", title="commands", metavar="COMMAND", parser_class=_Parser)

    b = commands.add_parser("build", help="write the workbook")
    b.add_argument("-o", "--output", help=f"where to write (default {DEFAULT_PATH}, its folder made if missing)")
    b.add_argument("--n", type=int, help="batch size N (rows); default 4, or the rows of --x")
    b.add_argument(
        "--d", type=int, help="features D (columns); default 3, or the columns of --x, or 8 with --from-experiment"
    )
    b.add_argument("--seed", type=int, default=DEFAULT_SEED, help="seed for inputs not given")
    b.add_argument("--eps", type=float, default=DEFAULT_EPS, help="eps added to the variance")
    for name, shape in _CSV_INPUTS.items():
        b.add_argument(f"--{name}", metavar="CSV", help=f"{name} ({shape}) from a CSV file")
    b.add_argument("--momentum", type=float, default=DEFAULT_MOMENTUM, help="momentum of the running statistics")
    b.add_argument("--unbiased", action="store_true", help="running variance with the unbiased N/(N-1) estimate")
    b.add_argument("--lr", type=float, default=DEFAULT_LR, help="learning rate of the SGD step")
    b.add_argument("--lang", choices=LANGUAGES, default="en", help="language of every word in the workbook")
    b.add_argument("--quiet", action="store_true", help="no progress bar")
    b.add_argument("--force", action="store_true", help="replace an existing file that bnsheet did not write")
    b.add_argument(
        "--exercise",
        metavar="NODES",
        help="leave these blocks empty for a learner: backward, forward, all, or names such as dxhat,dvar",
    )
    b.add_argument(
        "--hints",
        choices=exercise.HINT_CHOICES,
        help="with --exercise: what an exercise's sheet gives besides its task: rule (default: the sheets to read "
        "and the local derivative rule), math (also the node's own math line) or none",
    )
    b.add_argument(
        "--points",
        metavar="NODE=P,...",
        help="with --exercise: points of exercise nodes, such as dxhat=2,dvar=3 (1 for each node not named)",
    )
    b.add_argument(
        "--roster",
        metavar="CSV",
        help="with --exercise: one workbook per student of this CSV (ids in a column named id, or the first), "
        "each with its own inputs, written to -o FOLDER/<id>.xlsx",
    )
    b.add_argument(
        "--from-experiment",
        action="store_true",
        help="x, gamma, beta, dout from a real batch of the experiment's network (--d: how many features)",
    )
    b.add_argument("--layer", type=int, help="with --from-experiment: which BN layer, 1-5 (default 1)")

    e = commands.add_parser("experiment", help="train the 5x100 network with and without BN (needs the extra)")
    e.add_argument("-o", "--output", default=str(training.DEFAULT_FOLDER), help="folder for CSV and PNG")
    e.add_argument("--epochs", type=int, default=training.DEFAULT_EPOCHS, help="epochs per run")
    e.add_argument(
        "--scales",
        type=_scales,
        default=training.DEFAULT_SCALES,
        metavar="S,S,...",
        help="initial weight scales, comma-separated",
    )
    e.add_argument("--lr", type=float, default=training.DEFAULT_LR, help="SGD learning rate")
    e.add_argument("--target", type=float, default=training.DEFAULT_TARGET, help="test accuracy to reach")
    e.add_argument("--seed", type=int, default=training.DEFAULT_SEED, help="seed of weights, split and shuffles")
    e.add_argument("--quiet", action="store_true", help="no progress bar")

    v = commands.add_parser("verify", help="recalculate a workbook and check it against the reference")
    v.add_argument("path")
    v.add_argument(
        "--engine",
        choices=[*engines.NAMES, engines.ALL],
        help="formula engine (default: the fastest installed); all: every installed engine, compared",
    )  # fmt: skip
    v.add_argument(
        "--trials", type=_count, metavar="K",
        help="hidden input sets to check at besides the workbook's own (default 3; 1 above 300 k formula cells)",
    )  # fmt: skip
    v.add_argument("--seed", type=int, help="seed of the hidden input sets (default: a fresh one, named in the report)")
    v.add_argument("--map", metavar="MAP.toml", help="where the blocks sit, for a workbook laid out by hand")
    v.add_argument("--json", action="store_true", help="print the report as JSON (docs/verify-report.schema.json)")
    v.add_argument("--junit", metavar="FILE.xml", help="also write the report as JUnit XML (replaced if it exists)")
    v.add_argument("--quiet", action="store_true", help="no progress bar")

    m = commands.add_parser("map", help="propose a map of where the blocks sit in a workbook laid out by hand")
    m.add_argument("path")
    m.add_argument("-o", "--output", metavar="FILE", help="write the map here (a new file) instead of stdout")

    g = commands.add_parser("grade", help="grade learners' exercise workbooks (files or folders)")
    g.add_argument("paths", nargs="+", metavar="PATH")
    g.add_argument(
        "--engine",
        choices=[*engines.NAMES, engines.ALL],
        help="formula engine (default: the fastest installed); all: graded by the default, every installed "
        "engine asked too, and where they disagree said",
    )
    g.add_argument(
        "--roster", metavar="CSV", help="the class's roster: each file's inputs checked against the students'"
    )
    g.add_argument("--gradebook", metavar="CSV", help="also write a gradebook to import into an LMS: a row per student")
    g.add_argument("--feedback", metavar="DIR", help="also write per submission a copy marked with what is wrong")
    form = g.add_mutually_exclusive_group()
    form.add_argument("--csv", action="store_true", help="print one CSV row per file and node")
    form.add_argument("--json", action="store_true", help="print one JSON record per file and node")
    return parser


def _progress(args: argparse.Namespace) -> bool:
    """Progress bars go to stderr, only where someone watches it."""
    return not args.quiet and sys.stderr.isatty()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``) and return its exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        # no command: the usage and the list of commands, on stderr with status 2, as for any
        # other unusable command line (status 1 means a node fails)
        parser.print_help(sys.stderr)
        return 2
    try:
        if args.command == "build":
            return _build(args)
        if args.command == "experiment":
            passed = training.reproduce(
                Path(args.output),
                scales=args.scales,
                epochs=args.epochs,
                lr=args.lr,
                target=args.target,
                seed=args.seed,
                progress=_progress(args),
            )
            return 0 if passed else 1
        if args.command == "grade":
            return _grade(args)
        if args.command == "map":
            return _map(args)
        junit = _junit_target(args.junit)
        report = verify(
            args.path, engine=args.engine, progress=_progress(args), trials=args.trials, seed=args.seed, blocks=args.map
        )
        if junit is not None:
            with replacing(junit) as temporary:
                temporary.write_text(report.to_junit(), encoding="utf-8")
    except BnsheetError as exc:
        print(f"bnsheet: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bnsheet: interrupted", file=sys.stderr)
        return 130
    print(report.to_json() if args.json else report.to_text())
    return 0 if report.ok else 1


def _build(args: argparse.Namespace) -> int:
    given = {"x": args.x, "gamma": args.gamma, "beta": args.beta, "dout": args.dout}
    for option in ("hints", "points"):
        if getattr(args, option) is not None and args.exercise is None:
            raise InputError(f"--{option} goes with --exercise NODES")
    args.hints = args.hints or exercise.DEFAULT_HINTS
    if args.roster is not None:
        return _build_class(args, given)
    source = ""
    if args.from_experiment:
        clashing = [f"--{name}" for name, value in [("n", args.n), *given.items()] if value is not None]
        if clashing:
            raise InputError(f"--from-experiment takes the batch from the network; drop {', '.join(clashing)}")
        layer, features = args.layer or 1, args.d or training.WORKBOOK_FEATURES
        given = training.workbook_inputs(layer, features, seed=args.seed, eps=args.eps)
        source = (
            f" (BN layer {layer} of the experiment's network, last step of epoch {training.CAPTURE_EPOCHS} "
            f"at weight scale {training.CAPTURE_SCALE:g}: all {training.BATCH} samples, "
            f"features 1-{features} of {training.WIDTH})"
        )
    elif args.layer is not None:
        raise InputError("--layer goes with --from-experiment")
    path = build(
        args.output,
        n=args.n,
        d=None if args.from_experiment else args.d,
        seed=args.seed,
        eps=args.eps,
        running_mean=args.running_mean,
        running_var=args.running_var,
        momentum=args.momentum,
        unbiased=args.unbiased,
        lr=args.lr,
        lang=args.lang,
        progress=_progress(args),
        exercise=args.exercise,
        force=args.force,
        hints=args.hints,
        points=args.points,
        **given,
    )
    print(f"wrote {path}{source}")
    return 0


def _build_class(args: argparse.Namespace, given: dict[str, str | None]) -> int:
    """One workbook per student of the roster, into the folder -o names."""
    drawn = [f"--{name}" for name, value in given.items() if value is not None]
    drawn += [f"--{n}" for n in ("running-mean", "running-var") if getattr(args, n.replace("-", "_")) is not None]
    drawn += ["--from-experiment"] * args.from_experiment + ["--force"] * args.force
    drawn += ["--seed"] * (args.seed != DEFAULT_SEED)
    if args.exercise is None or args.output is None:
        raise InputError("--roster writes a class's exercise workbooks: give --exercise NODES and -o FOLDER")
    if drawn:
        raise InputError(f"--roster draws each student's inputs from the student's own seed; drop {', '.join(drawn)}")
    paths = build_class(
        args.output, args.roster, exercise=args.exercise, n=args.n, d=args.d, eps=args.eps, momentum=args.momentum,
        unbiased=args.unbiased, lr=args.lr, lang=args.lang, progress=_progress(args), hints=args.hints,
        points=args.points,
    )  # fmt: skip
    print(f"wrote {len(paths)} workbooks to {args.output}")
    return 0


def _junit_target(name: str | None) -> Path | None:
    """Where --junit writes: a name ending in .xml; its folder is made if missing, and an existing
    report replaced, as pytest's --junitxml does. Anything else (a workbook given by mistake, a
    folder) is refused before verify runs."""
    if name is None:
        return None
    path = Path(name)
    if path.suffix.lower() != ".xml":
        raise InputError(f"--junit {name}: the report's name must end in .xml")
    if path.is_dir():
        raise InputError(f"--junit {name}: is a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise InputError(f"--junit {name}: {path.parent} is not a folder") from None
    except OSError as exc:
        raise InputError(f"--junit {name}: cannot make the folder {path.parent} ({exc.strerror})") from None
    return path


def _map(args: argparse.Namespace) -> int:
    """Propose a map: TOML on stdout, or in a new file (an existing one is never replaced)."""
    target = Path(args.output) if args.output else None
    if target is not None and target.exists():
        raise InputError(f"{target}: exists; the map is not written over it (remove it or choose another name)")
    text = propose_map(args.path)
    if target is None:
        print(text, end="")
        return 0
    try:
        with target.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise InputError(f"{target}: exists; the map is not written over it") from None
    except OSError as exc:
        raise InputError(f"{target}: cannot write the map ({exc.strerror})") from None
    print(f"wrote {target}")
    return 0


def _grade(args: argparse.Namespace) -> int:
    """Grade, print, and say 0 all correct, 1 something is not, 2 no file could be graded."""
    students = roster.read(args.roster) if args.roster is not None else None
    gradebook = Path(args.gradebook) if args.gradebook is not None else None
    if gradebook is not None and (gradebook.exists() or not gradebook.parent.is_dir()):
        state = "exists already; choose a new name" if gradebook.exists() else "is in a folder that does not exist"
        raise InputError(f"--gradebook {gradebook}: {state}")
    if args.feedback is not None:
        feedback.check_folder(Path(args.feedback), submissions(args.paths))
    workers = workers_module.cores() if len(submissions(args.paths)) >= workers_module.PARALLEL_FROM else 1
    book = grade_all(args.paths, engine=args.engine, roster=students, workers=workers)
    if gradebook is not None:
        with replacing(gradebook) as temporary:
            temporary.write_text(book.to_lms_csv(), encoding="utf-8")
    if args.feedback is not None:
        feedback.write_all(book, Path(args.feedback))
    if not book.grades:
        for _, reason in book.unusable:
            print(f"bnsheet: {reason}", file=sys.stderr)
        return 2
    print(book.to_csv() if args.csv else book.to_json() if args.json else book.to_text(), end="" if args.csv else "\n")
    return 0 if book.ok else 1
