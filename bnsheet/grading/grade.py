"""Grade: recalculate a learner's exercise workbook and judge each exercise block against the
NumPy reference — correct, wrong, empty or error — with a diagnosis of the usual mistakes.

Any formula that computes the right numbers passes; how it is written is only looked at to explain
a mistake. Each block is judged on its own: where a learner's block upstream is wrong, the block
is judged again with the expected values substituted upstream, so one mistake is counted once.
"""

from __future__ import annotations

import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import engines, tables
from ..a1 import Area
from ..engines.substitute import substitute
from ..layout import defined_name
from ..model.graph import Graph, load
from ..reading import vetting
from ..reading.blocks import locate, read_inputs, stored_inputs
from ..reading.xlsx import XlsxFile
from ..values import Values
from ..writing import exercise as exercise_module
from .judge import Judge, NodeGrade

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = ["node", "sheet", "shape", "status", "cells", "wrong_cells", "diagnosis", "wrong"]


@dataclass
class Grade:
    """The grade of one workbook: one NodeGrade per exercise node and a score (share correct)."""

    path: Path
    engine: str
    nodes: list[NodeGrade]

    @property
    def correct(self) -> int:
        return sum(g.status == "correct" for g in self.nodes)

    @property
    def score(self) -> float:
        return self.correct / len(self.nodes) if self.nodes else 0.0

    @property
    def ok(self) -> bool:
        return all(g.status == "correct" for g in self.nodes)

    @property
    def table(self) -> pd.DataFrame:
        import pandas as pd

        rows = [asdict(g) | {"wrong": _cells_text(g.wrong)} for g in self.nodes]
        return pd.DataFrame(rows, columns=COLUMNS)

    def to_text(self) -> str:
        """A table for a terminal, then what is wrong with each node that is not correct."""
        shown = self.table[["node", "shape", "status", "cells", "wrong_cells"]]
        lines = [f"{self.path}  (engine: {self.engine})", tables.frame(shown)]
        for g in self.nodes:
            if g.diagnosis or g.wrong:
                cells = f" [{_cells_text(g.wrong)}]" if g.wrong else ""
                lines.append(f"{g.node}: {g.status}: {g.diagnosis or 'wrong values'}{cells}")
        lines.append(f"score {self.correct}/{len(self.nodes)}")
        return "\n".join(lines)


def grade(path: str | Path, engine: str | None = None, graph: Graph | None = None) -> Grade:
    """Recalculate ``path`` with ``engine`` and judge each exercise block the file records.

    A workbook that records no exercise is graded on every node.

    >>> from bnsheet import build
    >>> g = grade(build("output/doctest-grade.xlsx", exercise="dx1,dmu"))
    >>> [(n.node, n.status) for n in g.nodes], g.score
    ([('dx1', 'empty'), ('dmu', 'empty')], 0.0)
    """
    graph = graph or load()
    engine = engine or engines.default()
    engines.require(engine)
    path = Path(path)
    vetting.vet(path)
    with XlsxFile(path) as book:
        located = locate(book, graph)
        chosen = exercise_module.recorded(book.names) or tuple(b.name for b in graph.nodes)
        names = [b.name for b in graph.nodes if b.name in chosen]
        areas = {name: area for name, area in located.items() if area is not None}
        typed = [name for name in names if name in areas]
        judge = Judge(book, graph, areas)
        with tempfile.TemporaryDirectory(prefix="bnsheet-grade-") as folder:
            recalculate = _Recalculation(engine, book, Path(folder), judge.positions(typed))
            values = recalculate({}, list(areas.values()))
            judge.expect(read_inputs(path, graph, areas, stored_inputs(book, graph, areas), values))
            grades = {name: _missing(name) for name in names if name not in areas}
            grades |= _judge_each_on_its_own(judge, typed, values, recalculate)
    return Grade(path, engine, [grades[name] for name in names])


class _Recalculation:
    """Recalculates the workbook, or a copy with blocks replaced by numbers (see substitute.py);
    a copy is made as well where COLUMN(C7)-style positions must be folded for the engine."""

    def __init__(self, engine: str, book: XlsxFile, folder: Path, folded: list[str]) -> None:
        self.engine, self.book, self.folder, self.folded = engine, book, folder, folded
        self.copies = 0

    def __call__(self, blocks: dict[Area, np.ndarray], areas: list[Area]) -> Values:
        if not blocks and not self.folded:
            return engines.recalculate(self.engine, self.book.path, areas)
        self.copies += 1
        copy = substitute(self.book, self.folder / f"copy-{self.copies}.xlsx", blocks, self.folded)
        return engines.recalculate(self.engine, copy, areas)


def _missing(name: str) -> NodeGrade:
    detail = f"the sheet '{name}' or the defined name {defined_name(name)} is missing"
    return NodeGrade(name, name, "", status="error", diagnosis=detail)


def _judge_each_on_its_own(
    judge: Judge, names: list[str], values: Values, recalculate: _Recalculation
) -> dict[str, NodeGrade]:
    """Judge in rounds: a failing block is final once no block it reads (transitively) is still
    undecided and failing; blocks found wrong are then replaced by their expected values and the
    rest recalculated, so a learner's block downstream is judged from correct inputs."""
    ancestors = judge.ancestors(names)
    final: dict[str, NodeGrade] = {}
    pending = list(names)
    replaced: list[str] = []
    while pending:
        tentative = {name: judge(name, values[judge.areas[name]]) for name in pending}
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
            blocks = {judge.areas[name]: judge.expected[name] for name in replaced}
            values = recalculate(blocks, [judge.areas[name] for name in pending])
    return final


def _cells_text(cells: list[tuple[str, float, Any]]) -> str:
    return ", ".join(f"{address} expected {expected:.6g} got {_value(got)}" for address, expected, got in cells)


def _value(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else ("empty" if value is None else str(value))
