"""Judging one exercise block: its recalculated values against the reference — correct, wrong,
empty or error — and a diagnosis of the usual mistakes (a forgotten $, pasted values, a sign or a
factor off, the numbers of another sheet)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..a1 import Area, references
from ..checking import agreement
from ..checking.expected import expected_nodes, tolerances
from ..engines.substitute import has_positions
from ..layout import defined_name
from ..model.graph import Graph
from ..model.inputs import Inputs
from ..reading.xlsx import Cell, XlsxFile
from ..values import CellValue, ErrorValue
from . import portability
from .portability import APP_DEPENDENT

SHOWN = 5  # wrong cells listed per node
_NAMED = re.compile(r"(?<![A-Za-z0-9_.!])bn_([A-Za-z0-9_]+)", re.I)
_CALLS = re.compile(r"\b(?:INDIRECT|OFFSET|INDEX|COLUMN|ROW)\s*\(", re.I)  # may read cells without an A1 reference


Mark = tuple[str, str, float | None, CellValue]
_REMEMBERED = 16  # input sets whose reference a process keeps (Judge._reference)
_REFERENCES: dict[tuple[int, bytes], tuple[Graph, dict[str, np.ndarray], dict[str, np.ndarray]]] = {}


def _fingerprint(inputs: Inputs) -> bytes:
    """The bytes that make an input set what it is: every array (shape and values) and parameter."""
    parts = [
        repr((name, value.shape, str(value.dtype))).encode() + value.tobytes()
        for name, value in inputs.arrays().items()
    ]
    return b"".join(parts) + repr(inputs.params()).encode()


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
    engines: dict[str, str] = field(default_factory=dict)  # with --engine all: each engine's opinion (opinions.py)
    reads: list[str] = field(default_factory=list)  # with --engine all: the exercise blocks it reads, transitively
    # every cell to mark in a feedback copy: (address, kind, expected at the file's inputs or None, got);
    # kind is wrong, empty, error, typed (a number where a formula belongs) or trials (wrong only there)
    marks: list[Mark] = field(default_factory=list)

    def mark(self, address: str, kind: str, expected: float | None = None, got: CellValue = None) -> None:
        """Mark a cell, once: the first reason found stands."""
        if all(m[0] != address for m in self.marks):
            self.marks.append((address, kind, expected, got))

    def note(self, text: str) -> None:
        self.diagnosis = f"{self.diagnosis}; {text}" if self.diagnosis else text


class Judge:
    """Judges one block's recalculated values against the reference and explains what is wrong."""

    def __init__(self, book: XlsxFile, graph: Graph, areas: dict[str, Area], engine: str = "") -> None:
        self.book, self.graph, self.areas, self.engine = book, graph, areas, engine
        self.ranges = frozenset(defined_name(name).lower() for name, area in areas.items() if area.shape != (1, 1))
        self.rows_of = {area.sheet: area.shape[0] for area in areas.values()}

    def expect(self, inputs: Inputs, trials: Sequence[Inputs] = ()) -> None:
        """Take the workbook's inputs and the hidden trials': the reference values and tolerances
        follow from them (a node's ``error_scale`` as verify takes it)."""
        self.inputs = inputs
        references = [self._reference(one) for one in (inputs, *trials)]
        self.sets = [expected for expected, _ in references]
        self.tolerances = [tolerance for _, tolerance in references]
        self.expected, self.tolerance = self.sets[0], self.tolerances[0]
        self.known = inputs.arrays() | self.expected  # every block's right numbers, for wrong-sheet checks
        self._lookalikes: dict[str, list[str]] = {}

    def lookalikes(self, name: str) -> list[str]:
        """The other blocks whose right numbers differ from ``name``'s but have its shape: those a
        reference to the wrong sheet could show (found once per node; rounds ask again)."""
        if name not in self._lookalikes:
            expected = self.expected[name]
            self._lookalikes[name] = [
                other
                for other, value in self.known.items()
                if other != name and value.shape == expected.shape and not _close(value, expected)
            ]
        return self._lookalikes[name]

    def _reference(self, inputs: Inputs) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """The expected values and tolerances at ``inputs``, computed once per distinct input set
        in a process: a class handed one workbook shares its inputs, and every file without a
        student shares the trials (their arrays are only read)."""
        key = (id(self.graph), _fingerprint(inputs))  # the entry holds the graph, so its id stays its own
        found = _REFERENCES.get(key)
        if found is None:
            expected = expected_nodes(inputs)
            found = self.graph, expected, self._tolerances(inputs, expected)
            if len(_REFERENCES) >= _REMEMBERED:
                _REFERENCES.pop(next(iter(_REFERENCES)))
            _REFERENCES[key] = found
        return found[1], found[2]

    def _tolerances(self, inputs: Inputs, expected: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """verify's tolerances; a node that is all rounding (dx_diff) takes its error_scale node's."""
        tolerance = tolerances(inputs, expected)
        for block in self.graph.nodes:
            if block.error_scale:
                tolerance[block.name] = np.maximum(tolerance[block.name], tolerance[block.error_scale])
        return tolerance

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

    def __call__(self, name: str, runs: Sequence[np.ndarray]) -> NodeGrade:
        """The verdict on block ``name`` from its values at the workbook's inputs and at each trial."""
        got = runs[0]
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
        if self._lacking(result, typed, got) or _errors(result, area, grid, got):
            return result
        empty = _wrong_cells(result, area, grid, got, expected, right)
        _constants(result, area, typed)
        if result.status == "wrong" and not right.all() and not empty:  # "empty" beats any $ hint
            self._diagnose(result, area, grid, typed, numbers, right)
        if result.status == "correct":
            self._at_trials(result, area, grid, runs)
        note = portability.intersection(
            (c.formula or "" for _, _, c in typed if c is not None and not c.array), self.ranges
        )
        if note is not None:
            result.status = APP_DEPENDENT if result.status == "correct" else result.status
            result.note(note)
        if result.status == "correct":
            _filled(result, typed)
        return result

    def _lacking(self, result: NodeGrade, typed: list[tuple[int, int, Cell | None]], got: np.ndarray) -> bool:
        """#NAME? where the formulas call a function the grading engine lacks (formualizer: MMULT):
        the learner's screen is right; status app-dependent, saying which engine computes it."""
        if not any(isinstance(v, ErrorValue) and str(v) == "#NAME?" for v in got.flat):
            return False
        note = portability.lacked(self.engine, (c.formula or "" for _, _, c in typed if c is not None))
        if note is None:
            return False
        result.status = APP_DEPENDENT
        result.note(note)
        return True

    def _at_trials(
        self, result: NodeGrade, area: Area, grid: list[list[Cell | None]], runs: Sequence[np.ndarray]
    ) -> None:
        """Right at the shown inputs, judged again at each hidden trial: numbers typed as formulas
        (=1.76) or formulas right only by coincidence fail there. The trials' numbers are not shown."""
        for k, got in enumerate(runs[1:], start=1):
            bad = ~(np.abs(agreement.numbers(got) - self.sets[k][result.node]) <= self.tolerances[k][result.node])
            if not bad.any():
                continue
            result.status, result.wrong_cells = "wrong", int(bad.sum())
            cells = [(i, j) for i, j in zip(*np.nonzero(bad), strict=True)]
            fixed = [(i, j) for i, j in cells if _constant(grid[i][j])]
            for i, j in cells:
                result.mark(area.address(i, j), "typed" if (i, j) in fixed else "trials")
            where = _listed([area.address(i, j) for i, j in cells])
            if len(fixed) == len(cells):
                result.note(
                    f"typed numbers, not formulas: {where} hold(s) no reference, so the right numbers "
                    "at these inputs do not follow when an input changes"
                )
            else:
                result.note(f"right only for these inputs: at other inputs {where} compute(s) the wrong numbers")
            return

    def _diagnose(
        self, result: NodeGrade, area: Area, grid: list[list[Cell | None]], typed: list[tuple[int, int, Cell | None]],
        got: np.ndarray, right: np.ndarray,
    ) -> None:  # fmt: skip
        expected, tolerance = self.expected[result.node], self.tolerance[result.node]
        first = grid[0][0].formula if grid[0][0] is not None else None
        where = _where_wrong(area, right, one_formula=len({c.r1c1 for _, _, c in typed if c is not None}) == 1)
        if where == "rows":
            result.note("only the first row is right: " + self._pins(first, rows=True))
        elif where == "columns":
            result.note("only the first column is right: " + self._pins(first, rows=False))
        elif where:
            result.note(where)
        if not np.isfinite(got).all():
            return
        if np.all(np.abs(got + expected) <= tolerance) and np.any(np.abs(expected) > tolerance):
            result.note("sign error: every cell is minus the expected value")
            return
        factor = _factor(got, expected, tolerance)
        if factor is not None:
            result.note(f"factor error: every cell is {_describe(factor, self.inputs.n)} times the expected value")
            return
        for other in self.lookalikes(result.node):
            if np.all(np.abs(got - self.known[other]) <= tolerance + self.tolerance.get(other, 0.0)):
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
            down = " (pin the row with $ so it stays put when filled down)"
            right = " (no $ before the column, so it moves along when filled right)"
            return "; ".join(fixes) + (down if rows else right)
        if rows:
            return "a reference that should keep its row with $ (C$7) moves when filled down"
        return "a reference pinned with $ before its column ($C) stays put when filled right"


def _where_wrong(area: Area, right: np.ndarray, *, one_formula: bool) -> str:
    """Where the wrong cells lie, as it is: ``rows`` or ``columns`` where one formula filled over
    the block is right only in its first row or column (a $ pin, see _pins); else one cell, one
    row or one column named, or nothing to say."""
    wrong = ~right
    rows, cols = np.nonzero(wrong.any(axis=1))[0], np.nonzero(wrong.any(axis=0))[0]
    n, d = right.shape
    if one_formula and n > 1 and right[0].all() and len(rows) == n - 1:
        return "rows"
    if one_formula and d > 1 and right[:, 0].all() and len(cols) == d - 1:
        return "columns"
    if wrong.sum() == 1 and right.size > 1:
        return f"only {area.address(int(rows[0]), int(cols[0]))} is wrong"
    if len(rows) == 1 and n > 1:
        i = int(rows[0])
        which = " (the last row)" if i == n - 1 else " (the first row)" if i == 0 else ""
        return f"only row {area.top + i}{which} is wrong"
    if len(cols) == 1 and d > 1:
        j = int(cols[0])
        which = " (the last column)" if j == d - 1 else " (the first column)" if j == 0 else ""
        return f"only column {area.address(0, j).rstrip('0123456789')}{which} is wrong"
    return ""


def _constant(cell: Cell | None) -> bool:
    """A formula that reads no cell and no name (=1.76, =2*0.88): a number typed as a formula."""
    formula = cell.formula if cell is not None else None
    return formula is not None and not references(formula) and not _NAMED.search(formula) and not _CALLS.search(formula)


def _listed(addresses: list[str]) -> str:
    return ", ".join(addresses[:SHOWN]) + (f" … ({len(addresses)} cells)" if len(addresses) > SHOWN else "")


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
    for i, j, v in errors:
        result.mark(area.address(i, j), "error", got=str(v))
    for i, j in silent:
        result.mark(area.address(i, j), "error")
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


def _wrong_cells(
    result: NodeGrade,
    area: Area,
    grid: list[list[Cell | None]],
    got: np.ndarray,
    expected: np.ndarray,
    right: np.ndarray,
) -> list[str]:
    """Mark the wrong cells; return those of them that are empty."""
    bad = [(i, j) for (i, j), ok in np.ndenumerate(right) if not ok]
    if not bad:
        return []
    result.status = "wrong"
    result.wrong_cells = len(bad)
    result.wrong = [(area.address(i, j), float(expected[i, j]), _cell_value(got[i, j])) for i, j in bad[:SHOWN]]
    for i, j in bad:
        kind = "wrong" if _typed(grid[i][j]) else "empty"
        result.mark(area.address(i, j), kind, float(expected[i, j]), _cell_value(got[i, j]))
    empty = [area.address(i, j) for i, j in bad if not _typed(grid[i][j])]
    if empty:
        start = "incomplete: " if len(empty) == len(bad) else ""
        result.note(f"{start}{len(empty)} cell(s) empty: {_listed(empty)} (fill the formula over {_span(area)})")
    return empty


def _constants(result: NodeGrade, area: Area, typed: list[tuple[int, int, Cell | None]]) -> None:
    """Numbers typed or pasted where a formula belongs are wrong even when they are right today."""
    constants = [area.address(i, j) for i, j, c in typed if not _has_formula(c)]
    for address in constants:
        result.mark(address, "typed")
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


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    """np.allclose's test (1e-5 relative, 1e-8 absolute), without its overhead on small blocks."""
    return bool(np.all(np.abs(a - b) <= 1e-8 + 1e-5 * np.abs(b)))


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
    names = {"1/N": 1 / n, "N": n, "N-1": n - 1, "1/(N-1)": 1 / (n - 1), "N/(N-1)": n / (n - 1), "(N-1)/N": (n - 1) / n}
    for label, value in names.items():
        for sign, text in ((1, label), (-1, "-" + label)):
            if math.isclose(k, sign * value, rel_tol=1e-9):
                return f"{k:.6g} ({text})"
    return f"{k:.6g}"


def _span(area: Area) -> str:
    first, last = area.address(0, 0), area.address(area.shape[0] - 1, area.shape[1] - 1)
    return first if first == last else f"{first}:{last}"
