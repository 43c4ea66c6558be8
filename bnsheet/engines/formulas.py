"""The formulas engine: a pure-Python Excel evaluator, slow but widely used — a second opinion."""

from __future__ import annotations

import contextlib
import io
import warnings
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from ..errors import EngineError
from ..refs import Area, cell
from ..xlsx import CellValue, ErrorValue, XlsxFile

NAME = "formulas"


def installed() -> bool:
    return find_spec("formulas") is not None


def recalculate(path: Path, areas: list[Area]) -> dict[Area, np.ndarray]:
    import formulas

    try:
        # formulas draws its own progress bar; openpyxl, under it, warns about files saved without
        # a default style (Gnumeric's), which says nothing about the formulas.
        with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Workbook contains no default style", UserWarning)
            model = formulas.ExcelModel().loads(str(path)).finish()
            solution = model.calculate(inputs=_exact_numbers(path))
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


def _exact_numbers(path: Path) -> dict[str, float]:
    """The stored numbers that formulas would round, by its own cell ids, to be given back exactly.

    formulas 1.3 rounds every number it loads to 15 decimal places (``round(val, 15)``), so an
    input of 2.46e-06 loses its last digits and 1e-16 becomes 0 (tests/test_engine_faults.py).
    Passing the stored values as calculation inputs restores them.
    """
    exact: dict[str, float] = {}
    with XlsxFile(path) as book:
        for sheet in book.sheet_names:
            prefix = "'[" + Path(path).name + "]" + sheet.upper().replace("'", "''") + "'!"
            for (row, col), stored in book.cells(sheet).items():
                value = stored.value
                if stored.r1c1 is None and isinstance(value, float) and round(value, 15) != value:
                    exact[prefix + cell(row, col)] = value
    return exact


def _value(value: object) -> CellValue:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    text = str(value)
    if text.startswith("#"):
        return ErrorValue(text)
    return None if text == "" else text
