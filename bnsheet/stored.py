"""What a workbook stores in each block, as verify needs it, read in a second process while the
engine recalculates.

Verify's own reading — vetting the file, reading a million formulas out of the sheet XML and
checking that each block is one formula filled — takes as long as formualizer's evaluation. In a
forked process it runs beside the engine instead of before or between it; on two cores that halves
the wait. The process first vets the file and says so (the engine loads nothing before), then
sends back a :class:`Stored` per area: small, plain data, no parsed XML.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from . import safety
from .errors import EngineError, WorkbookError
from .refs import Area, filled, from_r1c1, to_r1c1
from .xlsx import CellValue, Grid, XlsxFile

TIMEOUT = 900.0  # seconds for the second process to vet or to read: minutes beyond the largest workbook

# A problem with a block's formulas, as NodeResult.fail takes it: status, cell, expected, got, detail.
Fault = tuple[str, str, object, object, str]


@dataclass(frozen=True)
class Stored:
    """One area as the file stores it: which cells hold a formula, what is wrong with the formulas
    (None: one formula filled over the block), and the stored values — numbers as an array (NaN
    where none is stored), anything else (text, booleans, error values) by cell."""

    area: Area
    fault: Fault | None
    formulas: np.ndarray  # bool
    numbers: np.ndarray  # float64
    others: dict[tuple[int, int], CellValue]
    cached: bool  # some formula cell stores a value (its cached result)

    @classmethod
    def of(cls, grid: Grid) -> Stored:
        area, fault = grid.area, formula_fault(grid)
        shape = area.shape
        if fault is None and not grid.cached:  # the common block: all formulas, nothing cached
            return cls(area, None, np.ones(shape, dtype=bool), np.full(shape, np.nan), {}, cached=False)
        formulas = np.array([[text is not None for text in row] for row in grid.formulas], dtype=bool)
        numbers = np.full(shape, np.nan)
        others: dict[tuple[int, int], CellValue] = {}
        for i, j in np.ndindex(shape):
            value = grid.value(i, j)
            if type(value) is float:
                numbers[i, j] = value
            elif value is not None:
                others[(i, j)] = value
        return cls(area, fault, formulas, numbers, others, grid.cached)

    def value(self, i: int, j: int) -> CellValue:
        """The stored value of the cell at block offset (i, j), None if none is."""
        if (i, j) in self.others:
            return self.others[(i, j)]
        number = self.numbers[i, j]
        return None if np.isnan(number) else float(number)


def read(book: XlsxFile, areas: list[Area]) -> dict[Area, Stored]:
    """Each area as ``book`` stores it."""
    return {area: Stored.of(book.grid(area)) for area in areas}


class Reading:
    """A second process that vets ``path`` and then reads ``areas``, from entering the block to
    leaving it: ``vetted()`` waits for its verdict on the file, ``result()`` for what it read.
    It runs at a lower priority, so that the engine keeps both cores when it can use them; it has
    less to do and still finishes first. Where processes cannot be forked, both happen here, on
    entering.
    """

    def __init__(self, path: Path, areas: list[Area]) -> None:
        self.path, self.areas = path, areas
        self._verdict: bool = False
        self._result: dict[Area, Stored] | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._answers: Connection | None = None

    def __enter__(self) -> Reading:
        try:
            context = multiprocessing.get_context("fork")
        except ValueError:  # no fork here (Windows): vet and read at once, in this process
            safety.vet(self.path)
            self._verdict = True
            with XlsxFile(self.path) as book:
                self._result = read(book, self.areas)
            return self
        self._answers, answers = context.Pipe(duplex=False)
        self._process = context.Process(target=_read_in_child, args=(self.path, self.areas, answers), daemon=True)
        try:
            self._process.start()
        finally:
            answers.close()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            if self._process.is_alive():
                self._process.kill()
            self._process.join()
            self._process.close()
            self._process = None
        if self._answers is not None:
            self._answers.close()
            self._answers = None

    def vetted(self) -> None:
        """Return once the file has been vetted; raise vet's WorkbookError if it was refused."""
        if not self._verdict:
            self._receive()
            self._verdict = True

    def result(self) -> dict[Area, Stored]:
        self.vetted()
        if self._result is None:
            self._result = self._receive()
        return self._result

    def _receive(self) -> dict[Area, Stored]:
        assert self._answers is not None
        if not self._answers.poll(TIMEOUT):
            raise EngineError(f"the process that reads the workbook gave no answer in {TIMEOUT:g} s; it was stopped")
        try:
            kind, answer = self._answers.recv()
        except EOFError:
            raise EngineError("the process that reads the workbook stopped without an answer") from None
        if kind == "error":
            raise answer
        return answer  # type: ignore[no-any-return]


def _read_in_child(path: Path, areas: list[Area], answers: Connection) -> None:
    os.nice(10)
    try:
        safety.vet(path)
        answers.send(("vetted", None))
        with XlsxFile(path) as book:
            answers.send(("stored", read(book, areas)))
    except (WorkbookError, EngineError) as exc:
        answers.send(("error", exc))
    except Exception as exc:  # a fault of ours: the parent raises it with what the child saw
        answers.send(("error", RuntimeError(f"reading {path} failed: {type(exc).__name__}: {exc}")))
    finally:
        answers.close()


def formula_fault(grid: Grid) -> Fault | None:
    """Every cell must hold a formula, and all must be the block's one formula, filled; None if so."""
    area, formulas = grid.area, grid.formulas
    if not all(text is not None for row in formulas for text in row):
        i, j = next((i, j) for i, row in enumerate(formulas) for j, text in enumerate(row) if text is None)
        return "constant", area.address(i, j), "a formula", grid.value(i, j), "a value stands where a formula belongs"
    if _one_formula_filled(area, formulas):  # type: ignore[arg-type]  # no None left
        return None
    forms = {(i, j): _form(text, area.top + i, area.left + j) for i, row in enumerate(formulas)
             for j, text in enumerate(row) if text is not None}  # fmt: skip
    block_form = Counter(forms.values()).most_common(1)[0][0]
    odd = [(i, j) for (i, j), form in forms.items() if form != block_form]
    i, j = odd[0]
    return (
        "not filled", area.address(i, j), _shown(from_r1c1(block_form, area.top + i, area.left + j)),
        _shown(formulas[i][j] or ""),
        f"{len(odd)} cell(s) differ from the block's formula; it is not one formula filled over the block",
    )  # fmt: skip


def _one_formula_filled(area: Area, formulas: list[list[str]]) -> bool:
    """True when every cell holds the first cell's formula filled to its place.

    The text is compared first, a row at a time (the R1C1 form of a million cells is slow to work
    out); only a cell whose text differs, e.g. written in lower case, has its R1C1 form compared.
    """
    form = _form(formulas[0][0], area.top, area.left)
    if form.startswith("{"):
        return all(text == form for row in formulas for text in row)
    rows, cols = range(area.top, area.bottom + 1), range(area.left, area.right + 1)
    for row, (r, expected) in zip(formulas, zip(rows, filled(form, rows, cols), strict=True), strict=True):
        if row != expected and any(
            text != want and _form(text, r, c) != form for c, text, want in zip(cols, row, expected, strict=True)
        ):
            return False
    return True


def _form(text: str, row: int, col: int) -> str:
    """The relative (R1C1) form of a cell's formula text; an array formula ({=…}) stands for its
    whole range as it is."""
    return text if text.startswith("{") else to_r1c1(text, row, col)


def _shown(text: str) -> str:
    """A formula as a spreadsheet shows it: ``=…``, or ``{=…}`` for an array formula."""
    return text if text.startswith("{") else "=" + text
