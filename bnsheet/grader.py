"""Grade: recalculate a learner's exercise workbook and judge each exercise block against the
NumPy reference — correct, wrong, empty or error — with a diagnosis of the usual mistakes.

Any formula that computes the right numbers passes; how it is written is only looked at to explain
a mistake. Each block is judged on its own: where a learner's block upstream is wrong, the block
is judged again with the expected values substituted upstream, so one mistake is counted once.
"""

from __future__ import annotations

import math
import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import agreement, engines, safety
from . import exercise as exercise_module
from .graph import Graph, load
from .inputs import Inputs
from .layout import defined_name
from .refs import Area, references
from .substitute import has_positions, substitute
from .verifier import expected_nodes, locate, read_inputs, stored_inputs, tolerances
from .xlsx import Cell, CellValue, ErrorValue, XlsxFile

if TYPE_CHECKING:
    import pandas as pd

SHOWN = 5  # wrong cells listed per node
_NAMED = re.compile(r"(?<![A-Za-z0-9_.!])bn_([A-Za-z0-9_]+)", re.I)
COLUMNS = ["node", "sheet", "shape", "status", "cells", "wrong_cells", "diagnosis", "wrong"]


@dataclass
class NodeGrade:
    """The verdict on one exercise block; ``wrong`` lists the first wrong cells (address, expected, got)."""

    node: str
    sheet: str
    shape: str
    status: str = "correct"
    cells: int = 0
    wrong_cells: int = 0
    diagnosis: str = ""
    wrong: list[tuple[str, float, CellValue]] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.diagnosis = f"{self.diagnosis}; {text}" if self.diagnosis else text


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
        lines = [f"{self.path}  (engine: {self.engine})", shown.to_string(index=False)]
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
    safety.vet(path)
    with XlsxFile(path) as book:
        located = locate(book, graph)
        chosen = exercise_module.recorded(book.names) or tuple(b.name for b in graph.nodes)
        names = [b.name for b in graph.nodes if b.name in chosen]
        areas = {name: area for name, area in located.items() if area is not None}
        typed = [name for name in names if name in areas]
        judge = _Judge(book, graph, areas)
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

    def __call__(self, blocks: dict[Area, np.ndarray], areas: list[Area]) -> engines.Values:
        if not blocks and not self.folded:
            return engines.recalculate(self.engine, self.book.path, areas)
        self.copies += 1
        copy = substitute(self.book, self.folder / f"copy-{self.copies}.xlsx", blocks, self.folded)
        return engines.recalculate(self.engine, copy, areas)


def _missing(name: str) -> NodeGrade:
    detail = f"the sheet '{name}' or the defined name {defined_name(name)} is missing"
    return NodeGrade(name, name, "", status="error", diagnosis=detail)


def _judge_each_on_its_own(
    judge: _Judge, names: list[str], values: engines.Values, recalculate: _Recalculation
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


class _Judge:
    """Judges one block's recalculated values against the reference and explains what is wrong."""

    def __init__(self, book: XlsxFile, graph: Graph, areas: dict[str, Area]) -> None:
        self.book, self.graph, self.areas = book, graph, areas
        self.rows_of = {area.sheet: area.shape[0] for area in areas.values()}

    def expect(self, inputs: Inputs) -> None:
        """Take the workbook's inputs: the reference values and tolerances follow from them."""
        self.inputs = inputs
        self.expected = expected_nodes(inputs)
        self.tolerance = tolerances(inputs, self.expected)
        self.known = inputs.arrays() | self.expected  # every block's right numbers, for wrong-sheet checks

    def positions(self, typed: list[str]) -> list[str]:
        """The sheets of ``typed`` nodes whose formulas take COLUMN or ROW of one cell."""
        sheets = {self.areas[name].sheet for name in typed}
        return sorted(s for s in sheets if any(has_positions(c.formula or "") for c in self.book.cells(s).values()))

    def ancestors(self, typed: list[str]) -> dict[str, set[str]]:
        """Every node and the blocks it reads, directly or through others: by the graph, and for the
        ``typed`` nodes by what the learner's formulas reference (a compact dx reads dgamma)."""
        found = {block.name: set(block.reads) for block in self.graph.nodes}
        for name in typed:
            found[name] |= self._referenced(name)
        changed = True
        while changed:  # close transitively; learners' references may run in a cycle
            changed = False
            for name, upstream in found.items():
                wider = upstream.union(*(found.get(a, set()) for a in upstream))
                if wider != upstream:
                    found[name], changed = wider, True
        return found

    def _referenced(self, name: str) -> set[str]:
        """The blocks a node's typed formulas name, by sheet or by defined name (bn_dout)."""
        area = self.areas.get(name)
        if area is None:
            return set()
        formulas = [
            c.formula or ""
            for (r, col), c in self.book.cells(area.sheet).items()
            if area.top <= r <= area.bottom and area.left <= col <= area.right
        ]
        sheets = {ref.sheet for formula in formulas for ref in references(formula)}
        named = {m.group(1) for formula in formulas for m in _NAMED.finditer(formula)}
        on_sheet = {block for block, a in self.areas.items() if a.sheet in sheets}
        return (on_sheet | (named & set(self.areas))) - {name}

    def __call__(self, name: str, got: np.ndarray) -> NodeGrade:
        area, expected, tolerance = self.areas[name], self.expected[name], self.tolerance[name]
        result = NodeGrade(name, area.sheet, f"{expected.shape[0]}x{expected.shape[1]}", cells=expected.size)
        if area.shape != expected.shape:
            result.status = "error"
            result.note(f"the block {area.absolute()} should be {expected.shape[0]}x{expected.shape[1]}")
            return result
        stored = self.book.cells(area.sheet)
        grid = [[stored.get((area.top + i, area.left + j)) for j in range(area.shape[1])] for i in range(area.shape[0])]
        typed = [(i, j, c) for i, row in enumerate(grid) for j, c in enumerate(row) if _typed(c)]
        if not typed:
            result.status = "empty"
            result.note(f"nothing typed in {_span(area)}")
            return result
        numbers = agreement.numbers(got)
        right = np.abs(numbers - expected) <= tolerance
        if not _errors(result, area, grid, got):
            _wrong_cells(result, area, grid, got, expected, right)
            _constants(result, area, typed)
            if result.status == "wrong" and not right.all():
                self._diagnose(result, area, grid, numbers, right)
            elif result.status == "correct":
                _filled(result, typed)
        return result

    def _diagnose(self, result: NodeGrade, area: Area, grid: list[list[Cell | None]], got: np.ndarray,
                  right: np.ndarray) -> None:  # fmt: skip
        expected, tolerance = self.expected[result.node], self.tolerance[result.node]
        first = grid[0][0].formula if grid[0][0] is not None else None
        if got.shape[0] > 1 and right[0].all():
            result.note("only the first row is right: " + self._pins(first, rows=True))
        elif got.shape[1] > 1 and right[:, 0].all():
            result.note("only the first column is right: " + self._pins(first, rows=False))
        if not np.isfinite(got).all():
            return
        if np.all(np.abs(got + expected) <= tolerance) and np.any(np.abs(expected) > tolerance):
            result.note("sign error: every cell is minus the expected value")
            return
        factor = _factor(got, expected, tolerance)
        if factor is not None:
            result.note(f"factor error: every cell is {_describe(factor, self.inputs.n)} times the expected value")
            return
        for other, value in self.known.items():
            if other != result.node and value.shape == got.shape and not np.allclose(value, expected):
                if np.all(np.abs(got - value) <= tolerance + self.tolerance.get(other, 0.0)):
                    reads = sorted({r.sheet for r in references(first or "")})
                    said = f" (it reads {', '.join(reads)})" if reads else ""
                    result.note(f"the numbers are those of {other}: a reference to the wrong sheet?{said}")
                    return

    def _pins(self, formula: str | None, *, rows: bool) -> str:
        """Name the references whose $ pins break the broadcast, with how they should read."""
        fixes = []
        for ref in references(formula or ""):
            if rows:
                one_row = self.rows_of.get(ref.sheet) == 1
                unpinned = [not pin_row for _, pin_row in ref.pins]
                if (one_row or len(ref.pins) == 2) and any(unpinned):
                    fixes.append(f"{ref.text} should be {ref.pinned(rows=True)}")
            elif any(pin_col for pin_col, _ in ref.pins):
                fixes.append(f"{ref.text} should be {ref.pinned(cols=False)}")
        if fixes:
            return "; ".join(fixes) + (" (pin the row with $ so it stays put when filled down)" if rows else
                                       " (no $ before the column, so it moves along when filled right)")  # fmt: skip
        if rows:
            return "a reference that should keep its row with $ (C$7) moves when filled down"
        return "a reference pinned with $ before its column ($C) stays put when filled right"


def _typed(cell: Cell | None) -> bool:
    return cell is not None and (cell.has_formula or cell.value not in (None, ""))


def _errors(result: NodeGrade, area: Area, grid: list[list[Cell | None]], got: np.ndarray) -> bool:
    """Error values and formulas that computed nothing: status error, and whether there were any."""
    errors = [(i, j, v) for (i, j), v in np.ndenumerate(got) if isinstance(v, ErrorValue)]
    silent = [(i, j) for (i, j), v in np.ndenumerate(got) if v is None and _has_formula(grid[i][j])]
    if not errors and not silent:
        return False
    result.status = "error"
    result.wrong_cells = len(errors) + len(silent)
    kinds = sorted({str(v) for _, _, v in errors})
    if "#CIRCULAR!" in kinds:
        result.note("a circular reference: the block reads itself, directly or through other sheets")
    if silent:
        where = ", ".join(area.address(i, j) for i, j in silent[:SHOWN])
        result.note(f"no value computed in {where} (a circular reference, or a formula the engine cannot evaluate)")
    others = [k for k in kinds if k != "#CIRCULAR!"]
    if others:
        where = ", ".join(area.address(i, j) for i, j, _ in errors[:SHOWN])
        result.note(f"error values {', '.join(others)} in {where}" + (" …" if len(errors) > SHOWN else ""))
    return True


def _cell_value(value: object) -> CellValue:
    return value if isinstance(value, (float, str, bool)) or value is None else str(value)


def _has_formula(cell: Cell | None) -> bool:
    return cell is not None and cell.has_formula


def _wrong_cells(result: NodeGrade, area: Area, grid: list[list[Cell | None]], got: np.ndarray,
                 expected: np.ndarray, right: np.ndarray) -> None:  # fmt: skip
    bad = [(i, j) for (i, j), ok in np.ndenumerate(right) if not ok]
    if not bad:
        return
    result.status = "wrong"
    result.wrong_cells = len(bad)
    result.wrong = [(area.address(i, j), float(expected[i, j]), _cell_value(got[i, j])) for i, j in bad[:SHOWN]]
    empty = [area.address(i, j) for i, j in bad if not _typed(grid[i][j])]
    if empty:
        result.note(f"{len(empty)} cell(s) empty: {', '.join(empty[:SHOWN])}" + (" …" if len(empty) > SHOWN else ""))


def _constants(result: NodeGrade, area: Area, typed: list[tuple[int, int, Cell | None]]) -> None:
    """Numbers typed or pasted where a formula belongs are wrong even when they are right today."""
    constants = [area.address(i, j) for i, j, c in typed if not _has_formula(c)]
    if constants:
        result.status = "wrong"
        more = " …" if len(constants) > SHOWN else ""
        result.note(
            f"values pasted instead of formulas in {len(constants)} cell(s) ({', '.join(constants[:SHOWN])}{more}): "
            "they will not follow when an input changes"
        )


def _filled(result: NodeGrade, typed: list[tuple[int, int, Cell | None]]) -> None:
    """Right numbers from different formulas: a note (it works, but is not one formula filled)."""
    forms = {c.r1c1 for _, _, c in typed if c is not None}
    if len(forms) > 1:
        result.note(
            f"right numbers, but {len(forms)} different formulas: not one formula filled over the block, "
            "so copying or filling it would break"
        )


def _factor(got: np.ndarray, expected: np.ndarray, tolerance: np.ndarray) -> float | None:
    """k where every cell is k times the expected value (k not 1 or -1), else None."""
    at = np.unravel_index(int(np.argmax(np.abs(expected))), expected.shape)
    if abs(expected[at]) <= tolerance[at]:
        return None
    k = float(got[at] / expected[at])
    if not math.isfinite(k) or abs(abs(k) - 1) < 1e-9 or abs(k) < 1e-12:
        return None
    fits = np.abs(got - k * expected) <= tolerance * max(1.0, abs(k)) + 1e-12 * np.abs(got)
    return k if bool(fits.all()) else None


def _describe(k: float, n: int) -> str:
    """k, and the expression of N it matches: ``0.25 (1/N)``."""
    names = {"1/N": 1 / n, "N": n, "N-1": n - 1, "1/(N-1)": 1 / (n - 1), "N/(N-1)": n / (n - 1),
             "(N-1)/N": (n - 1) / n}  # fmt: skip
    for label, value in names.items():
        for sign, text in ((1, label), (-1, "-" + label)):
            if math.isclose(k, sign * value, rel_tol=1e-9):
                return f"{k:.6g} ({text})"
    return f"{k:.6g}"


def _span(area: Area) -> str:
    first, last = area.address(0, 0), area.address(area.shape[0] - 1, area.shape[1] - 1)
    return first if first == last else f"{first}:{last}"


def _cells_text(cells: list[tuple[str, float, Any]]) -> str:
    return ", ".join(f"{address} expected {expected:.6g} got {_value(got)}" for address, expected, got in cells)


def _value(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, float) else ("empty" if value is None else str(value))
