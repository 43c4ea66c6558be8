"""The formualizer engine: a Rust spreadsheet engine, loaded in-process."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import EngineError
from ..refs import Area, looks_like_cell
from ..xlsx import CellValue, ErrorValue, XlsxFile

NAME = "formualizer"

_ERRORS = {
    "Div": "#DIV/0!", "Num": "#NUM!", "Value": "#VALUE!", "Ref": "#REF!", "Name": "#NAME?",
    "Na": "#N/A", "NA": "#N/A", "Null": "#NULL!", "Circ": "#CIRCULAR!", "Spill": "#SPILL!",
    "Calc": "#CALC!",
}  # fmt: skip


def installed() -> bool:
    return find_spec("formualizer") is not None


def recalculate(path: Path, areas: list[Area]) -> dict[Area, np.ndarray]:
    import formualizer as fz

    try:
        book = fz.load_workbook(str(path))
        for sheet, r, c, formula in _shared_formulas_to_expand(path):
            book.sheet(sheet).set_formula(r, c, formula)
        book.evaluate_all()
    except Exception as exc:  # the engine's own exception types vary by version
        raise EngineError(f"formualizer could not evaluate {path}: {exc}") from None
    return _read(book, areas)


def recalculate_bytes(data: bytes, areas: list[Area]) -> dict[Area, np.ndarray]:
    """Like :func:`recalculate`, for a workbook held in memory (the builder's cached values)."""
    import formualizer as fz

    try:
        book = fz.load_workbook_bytes(data)
        book.evaluate_all()
    except Exception as exc:  # the engine's own exception types vary by version
        raise EngineError(f"formualizer could not evaluate the workbook: {exc}") from None
    return _read(book, areas)


def _read(book: Any, areas: list[Area]) -> dict[Area, np.ndarray]:
    import formualizer as fz

    sheets = set(book.sheet_names)
    values: dict[Area, np.ndarray] = {}
    for area in areas:
        block = np.full(area.shape, None, dtype=object)
        if area.sheet in sheets:
            rows = book.sheet(area.sheet).get_values(
                fz.RangeAddress(area.sheet, area.top, area.left, area.bottom, area.right)
            )
            for i, row in enumerate(rows):
                for j, value in enumerate(row):
                    block[i, j] = _value(value)
        values[area] = block
    return values


def _shared_formulas_to_expand(path: Path) -> list[tuple[str, int, int, str]]:
    """Shared-formula cells that formualizer would fill in wrongly, with their correct formulas.

    formualizer 0.13 shifts a sheet name that looks like a cell address as if it were a relative
    reference when it fills a shared formula over its range: ``-SUM('dx1'!C$7:C$10)`` in C7 becomes
    ``-SUM(DY1!D$7:D$10)`` in D7 (tests/test_engine_faults.py shows it). Such cells get the formula
    that bnsheet's reader fills in, before evaluation.
    """
    with XlsxFile(path) as book:
        if not any(looks_like_cell(name) for name in book.sheet_names):
            return []
        return [
            (sheet, c.row, c.col, c.formula)
            for sheet in book.sheet_names
            for c in book.cells(sheet).values()
            if c.shared and c.formula is not None
        ]


def _value(value: object) -> CellValue:
    if isinstance(value, dict) and value.get("type") == "Error":
        kind = str(value.get("kind"))
        return ErrorValue(_ERRORS.get(kind, f"#{kind.upper()}!"))
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    return str(value)
