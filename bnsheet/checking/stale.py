"""Stale cached values: numbers a file stores for its formula cells that are not what they compute."""

from __future__ import annotations

import numpy as np

from .. import engines
from ..a1 import quote_sheet
from ..reading.stored import Stored
from ..values import CellValue, ErrorValue


class StaleCaches:
    """Cached values in the file that differ from what the engine recalculated.

    Verify never uses them, but a file whose caches are stale shows wrong numbers in readers that
    do not recalculate (pandas, previews), so the report says so.
    """

    DIGITS = 15  # applications store caches with as few as 15 significant digits

    def __init__(self) -> None:
        self.cells = 0
        self.first: tuple[str, CellValue, object] | None = None

    def check(self, stored: Stored, recalculated: np.ndarray, tolerance: np.ndarray) -> None:
        if not stored.cached:
            return
        area = stored.area
        numeric = stored.formulas & ~np.isnan(stored.numbers)
        cached = np.where(numeric, stored.numbers, np.nan)
        got = np.full(area.shape, np.nan)
        stale = np.zeros(area.shape, dtype=bool)
        for i, j in zip(*np.nonzero(numeric), strict=True):
            value = recalculated[i, j]
            if type(value) is float:
                got[i, j] = value
            else:
                stale[i, j] = True  # a number was cached where the engine finds none
        for (i, j), kept in stored.others.items():
            value = recalculated[i, j]
            if stored.formulas[i, j] and not (isinstance(kept, ErrorValue) and isinstance(value, ErrorValue)):
                stale[i, j] = kept != value
        stale |= np.abs(cached - got) > tolerance + engines.half_unit(np.nan_to_num(got), self.DIGITS)
        if stale.any():
            self.cells += int(stale.sum())
            if self.first is None:
                i, j = np.argwhere(stale)[0]
                self.first = (f"{quote_sheet(area.sheet)}!{area.address(i, j)}", stored.value(i, j), recalculated[i, j])

    def notes(self) -> list[str]:
        if self.first is None:
            return []
        where, cached, got = self.first
        return [
            f"stale cached values: {self.cells} formula cell(s) stored a value that differs from the "
            f"recalculated one (first {where}: cached {cached!r}, recalculated {got!r}); verify used "
            "the recalculated values"
        ]
