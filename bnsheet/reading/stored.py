"""What a workbook stores in each block, as verify needs it: small, plain data (which cells hold a
formula, the stored numbers, what is wrong with the formulas) that crosses from the process that
reads the file to the one that checks it, with no parsed XML."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..a1 import Area
from ..values import CellValue
from .xlsx import Grid

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
    first_formula: str | None = None  # the top-left cell's formula as written, without the "="

    @classmethod
    def of(cls, grid: Grid, fault: Fault | None = None) -> Stored:
        """The area of ``grid``, with ``fault``, what a check found wrong with its formulas."""
        area = grid.area
        shape = area.shape
        first = grid.formulas[0][0] if grid.formulas and grid.formulas[0] else None
        if not grid.cached and all(None not in row for row in grid.formulas):
            # the common block: all formulas, nothing cached
            return cls(area, fault, np.ones(shape, dtype=bool), np.full(shape, np.nan), {}, False, first)
        if all(None not in row for row in grid.formulas):
            formulas = np.ones(shape, dtype=bool)
        else:
            formulas = np.array([[text is not None for text in row] for row in grid.formulas], dtype=bool)
        numbers, others = grid.stored()
        return cls(area, fault, formulas, numbers, others, grid.cached, first)

    def value(self, i: int, j: int) -> CellValue:
        """The stored value of the cell at block offset (i, j), None if none is."""
        if (i, j) in self.others:
            return self.others[(i, j)]
        number = self.numbers[i, j]
        return None if np.isnan(number) else float(number)
