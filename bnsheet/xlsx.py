"""Reads what verify needs out of an .xlsx — sheet names, defined names, each cell's formula
(shared formulas expanded) and stored value — with a hardened XML parser, never trusting it."""

from __future__ import annotations

import posixpath
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from .errors import WorkbookError
from .refs import from_r1c1, split_address, to_r1c1
from .safety import check_sizes

_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_STRICT_REL_NS = "http://purl.oclc.org/ooxml/officeDocument/relationships"


class ErrorValue(str):
    """An error value stored in or computed for a cell, such as ``#DIV/0!``."""


CellValue = float | str | bool | ErrorValue | None


@dataclass
class Cell:
    """One cell as stored: the formula's relative (R1C1) form and its A1 text, and the value."""

    row: int
    col: int
    r1c1: str | None
    value: CellValue
    _a1: str | None = None
    shared: bool = False  # the formula is filled in from a shared formula's master cell

    @property
    def formula(self) -> str | None:
        """The A1 formula text (``='x'!C7-'mean'!C$7``), or None for a constant or empty cell."""
        if self._a1 is None and self.r1c1 is not None:
            self._a1 = from_r1c1(self.r1c1, self.row, self.col)
        return self._a1


Cells = dict[tuple[int, int], Cell]


class XlsxFile:
    """An opened .xlsx package.

    >>> book = XlsxFile("output/batchnorm.xlsx")     # doctest: +SKIP
    >>> book.names["bn_xmu"], book.cells("xmu")[(7, 3)].formula  # doctest: +SKIP
    ("'xmu'!$C$7:$E$10", "='x'!C7-'mean'!C$7")
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self._zip = zipfile.ZipFile(self.path)
        except FileNotFoundError:
            raise WorkbookError(f"{self.path}: no such file") from None
        except IsADirectoryError:
            raise WorkbookError(f"{self.path}: is a folder, not a workbook") from None
        except (zipfile.BadZipFile, OSError) as exc:
            raise WorkbookError(f"{self.path}: not an .xlsx workbook ({exc})") from None
        self._parts = {info.filename: info for info in self._zip.infolist()}
        check_sizes(self.path, list(self._parts.values()))  # zipfile reads no more than these declare
        if "xl/workbook.xml" not in self._parts:
            raise WorkbookError(f"{self.path}: not an .xlsx workbook (no xl/workbook.xml)")
        self._sheet_parts: dict[str, str] = {}
        self.names: dict[str, str] = {}
        self._read_workbook()
        self._strings: list[str] | None = None

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> XlsxFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def sheet_names(self) -> list[str]:
        return list(self._sheet_parts)

    def cells(self, sheet: str) -> Cells:
        """Every stored cell of a sheet by (row, col)."""
        part = self._sheet_parts.get(sheet)
        if part is None:
            raise WorkbookError(f"{self.path}: no sheet named {sheet!r}")
        cells: Cells = {}
        shared: dict[str, str] = {}
        arrays: list[tuple[str, str]] = []  # (range, formula) of multi-cell array formulas
        for cell, formula, kind, shared_index in self._cell_records(part):
            row, col = split_address(cell["r"])
            r1c1, filled = None, False
            if formula is not None and formula.strip():
                # A shared formula's master carries the text (and a ref); a cell in its range that
                # has its own text overrides the shared formula for that cell only.
                r1c1 = to_r1c1("=" + formula.strip().removeprefix("="), row, col)
                if kind == "shared-master" and shared_index is not None:
                    shared[shared_index] = r1c1
                if kind == "array" and ":" in cell.get("_ref", ""):
                    r1c1 = "{=" + formula.strip().removeprefix("=") + "}"
                    arrays.append((cell["_ref"], r1c1))
            elif kind == "shared" and shared_index is not None:
                r1c1 = shared.get(shared_index)
                filled = r1c1 is not None
            cells[(row, col)] = Cell(row, col, r1c1, self._value(cell), shared=filled)
        for span, formula in arrays:
            _cover(cells, span, formula)
        return cells

    def sheet_part(self, sheet: str) -> str:
        """The package part that holds a sheet, e.g. ``xl/worksheets/sheet3.xml``."""
        part = self._sheet_parts.get(sheet)
        if part is None:
            raise WorkbookError(f"{self.path}: no sheet named {sheet!r}")
        return part

    def _cell_records(self, part: str) -> Iterator[tuple[dict[str, str], str | None, str | None, str | None]]:
        """(cell attributes with its value, formula text, formula type, shared index) per <c>."""
        cell: dict[str, str] = {}
        formula: str | None = None
        kind: str | None = None
        index: str | None = None
        for event, element in self._parse(part, ("start", "end")):
            tag = _local(element.tag)
            if event == "start":
                if tag == "c":
                    cell, formula, kind, index = dict(element.attrib), None, None, None
                continue
            if tag == "f":
                formula = element.text
                kind = element.get("t")
                if kind == "shared" and element.get("ref") is not None:
                    kind = "shared-master"
                index = element.get("si")
                cell["_ref"] = element.get("ref", "")
            elif tag == "v":
                cell["_v"] = element.text or ""
            elif tag == "t" and "_v" not in cell and cell.get("t") == "inlineStr":
                cell["_v"] = element.text or ""
            elif tag == "c":
                if "r" in cell:
                    yield cell, formula, kind, index
                element.clear()
            elif tag == "row":
                element.clear()

    def _value(self, cell: dict[str, str]) -> CellValue:
        text = cell.get("_v")
        if not text:
            return None  # openpyxl writes an empty <v/> for formulas it did not compute
        kind = cell.get("t", "n")
        if kind == "n":
            try:
                return float(text)
            except ValueError:
                return ErrorValue("#VALUE!")
        if kind == "s":
            strings = self._shared_strings()
            index = int(text) if text.isdigit() else -1
            return strings[index] if 0 <= index < len(strings) else ""
        if kind == "b":
            return text.strip() in ("1", "true")
        if kind == "e":
            return ErrorValue(text)
        return text

    def _shared_strings(self) -> list[str]:
        if self._strings is None:
            self._strings = []
            part = "xl/sharedStrings.xml"
            if part in self._parts:
                pieces: list[str] = []
                for _, element in self._parse(part, ("end",)):
                    tag = _local(element.tag)
                    if tag == "t":
                        pieces.append(element.text or "")
                    elif tag == "si":
                        self._strings.append("".join(pieces))
                        pieces = []
                        element.clear()
        return self._strings

    def _read_workbook(self) -> None:
        targets: dict[str, str] = {}
        rels = "xl/_rels/workbook.xml.rels"
        if rels in self._parts:
            for _, element in self._parse(rels, ("end",)):
                if _local(element.tag) == "Relationship":
                    target = element.get("Target", "")
                    path = (
                        target.lstrip("/")
                        if target.startswith("/")
                        else posixpath.normpath(posixpath.join("xl", target))
                    )
                    targets[element.get("Id", "")] = path
        for _, element in self._parse("xl/workbook.xml", ("end",)):
            tag = _local(element.tag)
            if tag == "sheet":
                rid = element.get(f"{{{_REL_NS}}}id") or element.get(f"{{{_STRICT_REL_NS}}}id") or ""
                part = targets.get(rid)
                if part in self._parts:
                    self._sheet_parts[element.get("name", "")] = part
            elif tag == "definedName" and element.get("localSheetId") is None:
                self.names[element.get("name", "")] = (element.text or "").strip()

    def _parse(self, part: str, events: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
        try:
            with self._zip.open(part) as stream:
                yield from _iterparse(stream, events)
        except (DefusedXmlException, SyntaxError, zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
            raise WorkbookError(f"{self.path}: cannot read {part} ({exc})") from None


def _iterparse(stream: IO[bytes], events: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
    yield from iterparse(stream, events=events, forbid_dtd=True)


def _cover(cells: Cells, span: str, array: str) -> None:
    """Cells under a multi-cell array formula hold only values; mark them as that formula's cells.

    The whole range reads ``{=…}``, as spreadsheets show it: one formula, not constants.
    """
    try:
        (top, left), (bottom, right) = (split_address(end) for end in span.split(":", 1))
    except ValueError:
        return
    for (row, col), stored in cells.items():
        if top <= row <= bottom and left <= col <= right and stored.r1c1 is None:
            stored.r1c1 = array


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]
