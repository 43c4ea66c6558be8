"""The formulas engine: a pure-Python Excel evaluator, slow but widely used — a second opinion."""

from __future__ import annotations

import contextlib
import io
import threading
import warnings
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from ..a1 import Area, cell
from ..errors import EngineError
from ..reading.xlsx import XlsxFile
from ..values import CellValue, ErrorValue

NAME = "formulas"

# formulas (1.3) cannot be imported or first used from two threads at once: its dispatcher module is
# loaded lazily, and the second thread finds it half made (tests/test_engine_faults.py shows it).
# It computes in Python, holding the GIL all along, so running one at a time costs nothing.
_ONE_AT_A_TIME = threading.Lock()


def installed() -> bool:
    return find_spec("formulas") is not None


def recalculate(path: Path, areas: list[Area], vetted: Callable[[], None] = lambda: None) -> dict[Area, np.ndarray]:
    vetted()
    with _ONE_AT_A_TIME:
        return _recalculate(path, areas)


def _recalculate(path: Path, areas: list[Area]) -> dict[Area, np.ndarray]:
    import formulas

    try:
        # formulas draws its own progress bar; openpyxl, under it, warns about files saved without
        # a default style (Gnumeric's), which says nothing about the formulas.
        with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Workbook contains no default style", UserWarning)
            model = formulas.ExcelModel().loads(str(path)).finish()
            solution = model.calculate(inputs=_typed_numbers(path))
    except Exception as exc:  # formulas raises many kinds of errors on files it cannot handle
        raise EngineError(f"formulas could not evaluate {path}: {exc}") from None
    book = Path(path).name.upper()
    by_ref = {str(key).upper(): value for key, value in solution.items()}
    values: dict[Area, np.ndarray] = {}
    for area in areas:
        block = np.full(area.shape, None, dtype=object)
        prefix = "'[" + book + "]" + area.sheet.upper().replace("'", "''") + "'!"
        for i in range(area.shape[0]):
            for j in range(area.shape[1]):
                ranges = by_ref.get(prefix + cell(area.top + i, area.left + j))
                if ranges is not None:
                    block[i, j] = _value(ranges.value[0, 0])
        values[area] = block
    return values


def _typed_numbers(path: Path) -> dict[str, float]:
    """Every number typed into a cell, at full precision, keyed as formulas names cells.

    formulas rounds each number it loads to 15 decimal places (not significant digits), so
    1.2345678901234567e-07 becomes 1.23456789e-07; handing the numbers back as inputs undoes that
    (tests/test_engine_faults.py shows the fault).
    """
    numbers = {}
    with XlsxFile(path) as book:
        for sheet in book.sheet_names:
            prefix = "'[" + Path(path).name + "]" + sheet.upper().replace("'", "''") + "'!"
            for (row, col), stored in book.cells(sheet).items():
                if stored.r1c1 is None and type(stored.value) is float:
                    numbers[prefix + cell(row, col)] = stored.value
    return numbers


def _value(value: object) -> CellValue:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    text = str(value)
    if text.startswith("#"):
        return ErrorValue(text)
    return None if text == "" else text
