"""Test helpers that rewrite a workbook's sheet XML the way other applications store it.

Each helper writes a new file and leaves its source alone. They edit the XML text directly (not
through openpyxl), so the copy keeps the form of the application that saved it.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

from bnsheet.a1 import Area, cell, parse_area
from bnsheet.reading.xlsx import XlsxFile

SheetEdit = Callable[[str, str], str]  # (sheet name, sheet XML) -> new sheet XML


def rewrite_sheets(source: Path, target: Path, edit: SheetEdit) -> Path:
    """Copy ``source`` to ``target`` with every worksheet's XML passed through ``edit``."""
    with XlsxFile(source) as book:
        parts = {book.sheet_part(name): name for name in book.sheet_names}
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            data = old.read(info.filename)
            if info.filename in parts:
                data = edit(parts[info.filename], data.decode("utf-8")).encode("utf-8")
            new.writestr(info, data)
    return target


def _cell_pattern(address: str) -> re.Pattern[str]:
    # One <c> element: its attributes, then its body up to </c> (a self-closing <c/> has no formula).
    return re.compile(rf'<c r="{address}"([^>]*)>(.*?)</c>', re.S)


def blocks(path: Path) -> list[Area]:
    """Every block and parameter of a workbook, from its bn_ defined names."""
    with XlsxFile(path) as book:
        areas = [parse_area(target) for name, target in book.names.items() if name.startswith("bn_")]
    return [a for a in areas if a is not None]


def as_shared(source: Path, target: Path, cached: Mapping[tuple[str, int, int], float | str]) -> Path:
    """The workbook as Excel saves it: each block of formulas one shared formula, with cached <v>.

    The first cell of a block keeps its formula text as the master
    (``<f t="shared" ref="C7:E10" si="0">…</f>``); every other cell becomes
    ``<f t="shared" si="0"/>``. ``cached`` gives each formula cell's <v> by (sheet, row, col);
    a string starting with ``#`` is stored as an error value.
    """
    by_sheet: dict[str, list[Area]] = {}
    for area in blocks(source):
        by_sheet.setdefault(area.sheet, []).append(area)

    def edit(sheet: str, xml: str) -> str:
        index = 0
        for area in by_sheet.get(sheet, []):
            first = True
            for row in range(area.top, area.bottom + 1):
                for col in range(area.left, area.right + 1):
                    match = _cell_pattern(cell(row, col)).search(xml)
                    assert match, f"no cell {cell(row, col)} on {sheet}"
                    formula = re.search(r"<f>(.*?)</f>", match.group(2))
                    if formula is None:  # an input block: plain numbers stay as they are
                        break
                    if first:
                        ref = f"{cell(area.top, area.left)}:{cell(area.bottom, area.right)}"
                        f = f'<f t="shared" ref="{ref}" si="{index}">{formula.group(1)}</f>'
                        first = False
                    else:
                        f = f'<f t="shared" si="{index}"/>'
                    value = cached[(sheet, row, col)]
                    kind, v = (' t="e"', value) if isinstance(value, str) else ("", repr(float(value)))
                    attrs = re.sub(r'\s+t="[^"]*"', "", match.group(1))
                    xml = (
                        xml[: match.start()]
                        + f'<c r="{cell(row, col)}"{attrs}{kind}>{f}<v>{v}</v></c>'
                        + xml[match.end() :]
                    )
            if not first:
                index += 1
        return xml

    return rewrite_sheets(source, target, edit)


def set_formula(source: Path, target: Path, sheet: str, address: str, formula: str) -> Path:
    """A copy in which cell ``address`` of ``sheet`` holds its own ``formula`` (text without ``=``).

    Inside a shared range the cell leaves the shared formula: its own plain ``<f>`` overrides it
    there, as Excel stores such a cell.
    """

    def edit(name: str, xml: str) -> str:
        if name != sheet:
            return xml
        match = _cell_pattern(address).search(xml)
        assert match, f"no cell {address} on {sheet}"
        own = f"<f>{formula}</f>"
        body, count = re.subn(r"<f[^>]*/>|<f[^>]*>.*?</f>", lambda _: own, match.group(2), count=1, flags=re.S)
        assert count == 1, f"{sheet}!{address} holds no formula"
        return xml[: match.start()] + f'<c r="{address}"{match.group(1)}>{body}</c>' + xml[match.end() :]

    return rewrite_sheets(source, target, edit)
