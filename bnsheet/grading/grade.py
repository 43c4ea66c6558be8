"""Grade: recalculate a learner's exercise workbook and judge each exercise block against the
NumPy reference — correct, wrong, empty or error — with a diagnosis of the usual mistakes.

Any formula that computes the right numbers passes; how it is written is only looked at to explain
a mistake. Each block is judged on its own: where a learner's block upstream is wrong, the block
is judged again with the expected values substituted upstream, so one mistake is counted once.
"""

from __future__ import annotations

import functools
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import engines, tables
from ..a1 import Area
from ..engines import libreoffice
from ..engines.substitute import substitute
from ..layout import defined_name
from ..model import trials as model_trials
from ..model.graph import Graph, load
from ..model.inputs import Inputs
from ..reading import vetting
from ..reading.blocks import check_input_shapes, locate, read_inputs, stored_inputs
from ..reading.xlsx import XlsxFile
from ..values import Values
from ..writing import exercise as exercise_module
from ..writing import roster as roster_module
from ..writing.roster import Roster
from . import identity
from .judge import Judge, NodeGrade

if TYPE_CHECKING:
    import pandas as pd

TRIALS = model_trials.DEFAULT_COUNT  # hidden input sets each block is judged at, besides its own
COLUMNS = ["node", "sheet", "shape", "status", "points", "cells", "wrong_cells", "diagnosis", "wrong"]


@dataclass
class Grade:
    """The grade of one workbook: one NodeGrade per exercise node, each node's points (1 unless the
    workbook records others, ``--points``) and a score: the points of the nodes that are correct."""

    path: Path
    engine: str
    nodes: list[NodeGrade]
    student: str = ""  # the student the file belongs to (recorded, or its name in the roster)
    inputs: str = ""  # own, of student 17, edited; empty when the file records no student
    points: dict[str, int | float] = field(default_factory=dict)  # per node; 1 where missing
    hints: str = exercise_module.DEFAULT_HINTS  # what the exercise's sheets gave (recorded at build)
    compared: list[str] = field(default_factory=list)  # with --engine all: the engines asked too

    @property
    def correct(self) -> int:
        return sum(g.status == "correct" for g in self.nodes)

    @property
    def score(self) -> int | float:
        """The points earned: the sum of the points of the correct nodes."""
        return sum(self.points.get(g.node, 1) for g in self.nodes if g.status == "correct")

    @property
    def out_of(self) -> int | float:
        """The exercise's points: the sum over its nodes."""
        return sum(self.points.get(g.node, 1) for g in self.nodes)

    @property
    def ok(self) -> bool:
        return all(g.status == "correct" for g in self.nodes)

    @property
    def table(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(self.rows(), columns=COLUMNS + [f"status_{name}" for name in self.compared])

    def rows(self) -> list[dict[str, object]]:
        """A row per node, as :attr:`table` holds them (plain values, no pandas)."""
        return [
            {column: getattr(g, column) for column in COLUMNS if column not in ("points", "wrong")}
            | {"points": self.points.get(g.node, 1), "wrong": _cells_text(g.wrong)}
            | {f"status_{name}": g.engines.get(name, "") for name in self.compared}
            for g in self.nodes
        ]

    def to_text(self) -> str:
        """A table for a terminal, then what is wrong with each node that is not correct."""
        columns = ["node", "shape", "status", "cells", "wrong_cells"]
        shown = tables.aligned(columns, [[getattr(g, column) for column in columns] for g in self.nodes])
        compared = f"; compared with {', '.join(e for e in self.compared if e != self.engine)}" if self.compared else ""
        lines = [f"{self.path}  (engine: {self.engine}{compared})", shown]
        for g in self.nodes:
            if g.diagnosis or g.wrong:
                cells = f" [{_cells_text(g.wrong)}]" if g.wrong else ""
                lines.append(f"{g.node}: {g.status}: {g.diagnosis or 'wrong values'}{cells}")
        counted = (
            ""
            if self.out_of == len(self.nodes) and self.score == self.correct
            else (f" ({self.correct} of {len(self.nodes)} nodes correct)")
        )
        lines.append(f"score {self.score:g}/{self.out_of:g}{counted}")
        return "\n".join(lines)


def grade(
    path: str | Path, engine: str | None = None, graph: Graph | None = None, *, roster: Roster | None = None,
    trials: int = TRIALS,
) -> Grade:  # fmt: skip
    """Recalculate ``path`` with ``engine`` and judge each exercise block the file records, at the
    file's own inputs and at ``trials`` hidden input sets (model/trials.py, as verify draws them).

    A workbook that records no exercise is graded on every node. A workbook that records a
    student (writing/roster.py) has its inputs checked against the student's (and, with a
    ``roster``, against every student's): ``Grade.inputs`` says ``own``, ``of student 17`` or
    ``edited``.

    >>> from bnsheet import build
    >>> g = grade(build("output/doctest-grade.xlsx", exercise="dx1,dmu"))
    >>> [(n.node, n.status) for n in g.nodes], g.score, g.out_of
    ([('dx1', 'empty'), ('dmu', 'empty')], 0, 2)
    """
    graph = graph or template()
    engine = engine or engines.default()
    engines.require(engine)
    path = Path(path)
    if path.suffix.lower() == ".ods":
        return _grade_ods(path, engine, graph, roster=roster, trials=trials)
    vetting.vet(path)
    with XlsxFile(path) as book:
        located = locate(book, graph)
        chosen = exercise_module.recorded(book.names) or tuple(b.name for b in graph.nodes)
        names = [b.name for b in graph.nodes if b.name in chosen]
        areas = {name: area for name, area in located.items() if area is not None}
        check_input_shapes(path, graph, areas)
        typed = [name for name in names if name in areas]
        judge = Judge(book, graph, areas, engine)
        recorded = roster_module.recorded(book.names)
        drawn = model_trials.draw(areas["x"].shape, trials, _trial_seed(recorded))
        with tempfile.TemporaryDirectory(prefix="bnsheet-grade-") as folder:
            recalculate = _Recalculation(engine, book, Path(folder), judge.positions(typed), graph, areas, drawn)
            runs = recalculate(None, list(areas.values()), [areas[name] for name in typed])
            inputs = read_inputs(path, graph, areas, stored_inputs(book, graph, areas), runs[0])
            judge.expect(inputs, drawn)
            recalculate.own = inputs
            grades = {name: _missing(name) for name in names if name not in areas}
            grades |= _judge_each_on_its_own(judge, typed, runs, recalculate)
    student, verdict = identity.check(path, recorded, inputs, chosen, roster)
    return Grade(
        path, engine, [grades[name] for name in names], student=student, inputs=verdict,
        points=exercise_module.recorded_points(book.names, tuple(names)),
        hints=exercise_module.recorded_hints(book.names),
    )  # fmt: skip


def _grade_ods(path: Path, engine: str, graph: Graph, **options: Any) -> Grade:
    """The grade of an .ods workbook: of the .xlsx LibreOffice converts it to in a private
    workspace (engines.libreoffice.xlsx_of_ods, as verify does), the .ods named instead of the copy."""
    with libreoffice.xlsx_of_ods(path) as converted:
        graded = grade(converted, engine, graph, **options)
    graded.path = path
    for g in graded.nodes:
        g.diagnosis = g.diagnosis.replace(str(converted), str(path))
    return graded


def _trial_seed(recorded: tuple[str, int] | None) -> int:
    """The hidden trials' seed: fixed, so a grade repeats, and per student where the file records one."""
    return 0x5EED if recorded is None else recorded[1] ^ 0x5EED


@functools.lru_cache(maxsize=1)
def template() -> Graph:
    """The default template, parsed once per process (a class is graded file after file)."""
    return load()


class _Recalculation:
    """Recalculates the workbook at its own inputs and at each hidden trial, with some blocks
    replaced by numbers (the expected values of blocks found wrong) at each, in one engine
    session (formualizer keeps the workbook loaded); a private copy is made once where
    COLUMN(C7)-style positions must be folded for the engine (see substitute.py)."""

    def __init__(
        self, engine: str, book: XlsxFile, folder: Path, folded: list[str], graph: Graph, areas: dict[str, Area],
        drawn: list[Inputs],
    ) -> None:  # fmt: skip
        self.engine, self.book, self.folder, self.folded = engine, book, folder, folded
        self.graph, self.areas, self.drawn = graph, areas, drawn
        self.own: Inputs | None = None
        self.session: engines.Session | None = None

    def __call__(
        self, blocks: list[dict[Area, np.ndarray]] | None, areas: list[Area], judged: list[Area] | None = None
    ) -> list[Values]:
        """``blocks``: per input set (own, then each trial) the areas that hold given numbers;
        None for the first run, the workbook as it is (``areas``) and then at each trial (of
        ``judged`` at least, where given)."""
        if self.session is None:
            path = self.book.path
            if self.folded:
                path = substitute(self.book, self.folder / "folded.xlsx", {}, self.folded)
            self.session = engines.session(self.engine, path)
        sets = [self.own, *self.drawn] if blocks is not None else self.drawn
        variants = [model_trials.variant(self.graph, self.areas, one) for one in sets if one is not None]
        if blocks is None:
            return self.session.run(areas, variants, read=judged)
        variants = [v | replaced for v, replaced in zip(variants, blocks, strict=True)]
        return self.session.run(areas, variants, as_is=False)


def _missing(name: str) -> NodeGrade:
    detail = f"the sheet '{name}' or the defined name {defined_name(name)} is missing"
    return NodeGrade(name, name, "", status="error", diagnosis=detail)


def _judge_each_on_its_own(
    judge: Judge, names: list[str], runs: list[Values], recalculate: _Recalculation
) -> dict[str, NodeGrade]:
    """Judge in rounds: a failing block is final once no block it reads (transitively) is still
    undecided and failing; blocks found wrong are then replaced by their expected values and the
    rest recalculated, so a learner's block downstream is judged from correct inputs."""
    ancestors = judge.ancestors(names)
    final: dict[str, NodeGrade] = {}
    pending = list(names)
    replaced: list[str] = []
    while pending:
        tentative = {name: judge(name, [values[judge.areas[name]] for values in runs]) for name in pending}
        for name in pending:
            if name in ancestors[name] and tentative[name].status not in ("error", "empty"):
                tentative[name] = _circular(tentative[name], ancestors)
        failing = {name for name, g in tentative.items() if g.status != "correct"}
        for name in pending:
            verdict = tentative[name]
            # blocks upstream that still fail, leaving out those in a cycle with this one
            blockers = {a for a in ancestors[name] & failing if name not in ancestors[a]}
            if name not in failing or verdict.status == "empty" or not blockers:
                final[name] = verdict
                upstream = [r for r in replaced if r in ancestors[name]]
                if upstream and verdict.status != "empty":
                    verdict.note(f"judged with the expected {', '.join(upstream)} in place of the learner's")
        pending = [name for name in pending if name not in final]
        before, replaced = replaced, [name for name in names if name in final and final[name].status != "correct"]
        if pending and replaced == before:  # nothing more to substitute: what stands is final
            final |= {name: tentative[name] for name in pending}
            pending = []
        if pending:
            blocks = [{judge.areas[name]: expected[name] for name in replaced} for expected in judge.sets]
            runs = recalculate(blocks, [judge.areas[name] for name in pending])
    return final


def _circular(verdict: NodeGrade, ancestors: dict[str, set[str]]) -> NodeGrade:
    """A block that reads itself through other sheets is an error whatever numbers the engine
    shows: Gnumeric computes through a circular reference (Excel and LibreOffice report it)."""
    through = sorted(
        a for a in ancestors[verdict.node] if verdict.node in ancestors.get(a, set()) and a != verdict.node
    )
    found = NodeGrade(verdict.node, verdict.sheet, verdict.shape, status="error", cells=verdict.cells)
    found.note(
        f"a circular reference: the block reads itself through {', '.join(through)} "
        "(Excel and LibreOffice report it; Gnumeric computes through it)"
    )
    return found


def _cells_text(cells: list[tuple[str, float, Any]]) -> str:
    return ", ".join(f"{address} expected {expected:.6g} got {shown(got)}" for address, expected, got in cells)


def shown(value: Any) -> str:
    """A cell's value as a grade shows it: 6 significant digits, ``empty`` for nothing."""
    return f"{value:.6g}" if isinstance(value, float) else ("empty" if value is None else str(value))
