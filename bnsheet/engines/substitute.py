"""Writes a copy of a workbook in which some blocks hold given numbers instead of what was typed.

Grading uses it to judge each exercise block on its own: a learner's mistake upstream is replaced
by the expected values, so a block downstream is recalculated from correct inputs. The copy also
works around an engine fault: formualizer (and formulas) take ``COLUMN(C7)`` typed in C7 for a
circular reference, which Excel and LibreOffice do not; in the copy such a ``COLUMN(C7)`` or
``ROW(C7)`` of one cell is replaced by its number (3, 7), which is exactly what it means.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from ..a1 import Area, cell, col_number, split_address
from ..reading import package
from ..reading.xlsx import XlsxFile

_ROW = re.compile(r'<row\b[^>]*?\br="(\d+)"[^>]*?(?:/>|>.*?</row>)', re.S)
_ROW_OPEN = re.compile(r"<row\b[^>]*?(?=/?>)", re.S)
_CELL = re.compile(r'<c\b[^>]*?\br="([A-Za-z]{1,3}[0-9]+)"[^>]*?(?:/>|>.*?</c>)', re.S)
# A formula element that is not part of a shared formula (whose text other cells shift from).
_OWN_FORMULA = re.compile(r'(<f\b(?![^>]*\bt="shared")[^>]*>)(.*?)(</f>)', re.S)
_POSITION = re.compile(
    r"\b(COLUMN|ROW)\(\s*(?:(?:'(?:[^']|'')+'|[A-Za-z_][A-Za-z0-9_.]*)!)?\$?([A-Za-z]{1,3})\$?([0-9]+)\s*\)", re.I
)


def has_positions(formula: str) -> bool:
    """Whether a formula takes COLUMN or ROW of one cell, which :func:`substitute` folds."""
    return _POSITION.search(formula) is not None


def substitute(book: XlsxFile, target: Path, blocks: Mapping[Area, np.ndarray], folded: Iterable[str] = ()) -> Path:
    """Copy ``book`` to ``target`` with each area's cells replaced by the given numbers, and
    COLUMN/ROW of one cell replaced by its number on the ``folded`` sheets."""
    by_part: dict[str, list[tuple[Area, np.ndarray]]] = {}
    for area, values in blocks.items():
        by_part.setdefault(book.sheet_part(area.sheet), []).append((area, values))
    fold = {book.sheet_part(sheet) for sheet in folded}

    def replaced(name: str, data: bytes) -> bytes:
        if name not in by_part and name not in fold:
            return data
        text = data.decode("utf-8")
        for area, values in by_part.get(name, []):
            text = _replace_block(text, area, values)
        if name in fold:
            text = _OWN_FORMULA.sub(_fold_positions, text)
        return text.encode("utf-8")

    package.copy(book.path, target, replaced)
    return target


def _fold_positions(match: re.Match[str]) -> str:
    def number(position: re.Match[str]) -> str:
        kind, letters, row = position.groups()
        return str(col_number(letters) if kind.upper() == "COLUMN" else int(row))

    opening, formula, closing = match.groups()
    return opening + _POSITION.sub(number, formula) + closing


def _replace_block(xml: str, area: Area, values: np.ndarray) -> str:
    """The sheet XML with the area's cells holding ``values`` (rows created where missing)."""
    xml = xml.replace("<sheetData/>", "<sheetData></sheetData>", 1)
    rows = {int(m.group(1)): m for m in _ROW.finditer(xml)}
    pieces: list[str] = []
    last = 0
    for r in range(area.top, area.bottom + 1):
        new = {
            area.left + j: f'<c r="{cell(r, area.left + j)}"><v>{float(values[r - area.top, j])!r}</v></c>'
            for j in range(area.shape[1])
        }
        match = rows.get(r)
        if match is None:
            after = next((m for n, m in sorted(rows.items()) if n > r), None)
            at = after.start() if after is not None else xml.find("</sheetData>")
            if at < last:
                continue  # rows out of order: leave this one as it is
            pieces.append(xml[last:at])
            pieces.append(f'<row r="{r}">' + "".join(c for _, c in sorted(new.items())) + "</row>")
            last = at
            continue
        cells = {split_address(m.group(1))[1]: m.group() for m in _CELL.finditer(match.group())}
        cells = {col: text for col, text in cells.items() if col not in new} | new
        opening = _ROW_OPEN.match(match.group())
        assert opening is not None  # _ROW matched a <row
        pieces.append(xml[last : match.start()])
        pieces.append(opening.group() + ">" + "".join(text for _, text in sorted(cells.items())) + "</row>")
        last = match.end()
    pieces.append(xml[last:])
    return "".join(pieces)
