"""Reads what verify needs out of an .xlsx — sheet names, defined names, each cell's formula
(shared formulas expanded) and stored value — with a hardened XML parser, never trusting it."""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from ..a1 import Area, col_letter, col_number, from_r1c1, split_address, to_r1c1
from ..errors import WorkbookError
from ..values import CellValue, ErrorValue
from . import sheetscan
from .package import check_sizes, part_target

_REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_STRICT_REL_NS = "http://purl.oclc.org/ooxml/officeDocument/relationships"


class Cell:
    """One cell as stored: its formula — A1 text and relative (R1C1) form — and its value.

    Either form may be given; the other is worked out when first asked for, because a sheet of a
    million formulas is read far faster than it can be turned into R1C1.
    """

    __slots__ = ("row", "col", "value", "shared", "array", "_r1c1", "_a1")

    def __init__(
        self, row: int, col: int, r1c1: str | None, value: CellValue, _a1: str | None = None, shared: bool = False
    ) -> None:
        self.row, self.col, self.value = row, col, value
        self.shared = shared  # the formula is filled in from a shared formula's master cell
        self.array = False  # entered as an array formula (Ctrl+Shift+Enter), over one cell or a range
        self._r1c1, self._a1 = r1c1, _a1

    @property
    def has_formula(self) -> bool:
        return self._a1 is not None or self._r1c1 is not None

    @property
    def r1c1(self) -> str | None:
        """The formula as seen from this cell: equal for two cells exactly when one is the other filled."""
        if self._r1c1 is None and self._a1 is not None:
            self._r1c1 = to_r1c1(self._a1, self.row, self.col)
        return self._r1c1

    @r1c1.setter
    def r1c1(self, form: str | None) -> None:
        self._r1c1, self._a1 = form, None

    @property
    def formula(self) -> str | None:
        """The A1 formula text (``='x'!C7-'mean'!C$7``), or None for a constant or empty cell."""
        if self._a1 is None and self._r1c1 is not None:
            self._a1 = from_r1c1(self._r1c1, self.row, self.col)
        return self._a1

    def __repr__(self) -> str:
        return f"Cell({self.row}, {self.col}, {self.formula!r}, {self.value!r})"


Cells = dict[tuple[int, int], Cell]


class Grid:
    """The stored cells of one area, row by row: a faster view than :class:`Cells` for big blocks.

    ``formulas[i][j]`` is the formula text of the cell at block offset (i, j) as stored, without
    the ``=`` (None where a value stands or the cell is empty); ``value(i, j)`` its stored value;
    ``cached`` says whether any formula cell stores a value (its cached result). ``stored()``
    gives every stored value at once (see :meth:`stored`); a reader that can work them out
    faster than a call per cell hands in ``stored_values``.
    """

    def __init__(
        self, area: Area, formulas: list[list[str | None]], value: Callable[[int, int], CellValue], cached: bool,
        stored_values: Callable[[], StoredValues | None] | None = None,
    ) -> None:  # fmt: skip
        self.area, self.formulas, self.value, self.cached = area, formulas, value, cached
        self._stored_values = stored_values

    @classmethod
    def of(cls, area: Area, cells: Cells) -> Grid:
        """The grid of ``area`` out of a sheet's cells."""
        rows, cols = range(area.top, area.bottom + 1), range(area.left, area.right + 1)
        stored = [[cells.get((r, c)) for c in cols] for r in rows]
        formulas = [[_stored_text(c) for c in row] for row in stored]

        def value(i: int, j: int) -> CellValue:
            found = stored[i][j]
            return found.value if found is not None else None

        cached = any(c is not None and c.has_formula and c.value is not None for row in stored for c in row)
        return cls(area, formulas, value, cached)

    def stored(self) -> StoredValues:
        """The stored values: numbers as an array (NaN where none is stored), anything else (text,
        booleans, error values) by block offset."""
        fast = self._stored_values() if self._stored_values is not None else None
        if fast is not None:
            return fast
        numbers = np.full(self.area.shape, np.nan)
        others: dict[tuple[int, int], CellValue] = {}
        for i, j in np.ndindex(self.area.shape):
            value = self.value(i, j)
            if type(value) is float:
                numbers[i, j] = value
            elif value is not None:
                others[(i, j)] = value
        return numbers, others


# A block's stored values: numbers (NaN where none), and every other value by block offset.
StoredValues = tuple["np.ndarray", dict[tuple[int, int], CellValue]]


def _stored_text(cell: Cell | None) -> str | None:
    """A cell's formula as a Grid holds it: without the ``=``; an array formula as ``{=…}``."""
    text = cell.formula if cell is not None else None
    return text[1:] if text is not None and text.startswith("=") else text


class _Columns(dict[str, int]):
    """Column letters to numbers, remembered."""

    def __missing__(self, letters: str) -> int:
        self[letters] = col_number(letters)
        return self[letters]


_COLUMNS = _Columns()


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
        self.hidden: dict[str, str] = {}  # sheet name → "hidden" or "veryHidden"
        self._read_workbook()
        self._strings: list[str] | None = None
        self._cells: dict[str, Cells] = {}
        self._plain: dict[str, sheetscan.PlainCells | None] = {}

    def close(self) -> None:
        self._zip.close()
        self._cells.clear()
        self._plain.clear()

    def __enter__(self) -> XlsxFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def forget(self, sheet: str) -> None:
        """Let go of what was read of ``sheet``; asked for again, it is read again."""
        self._cells.pop(sheet, None)
        self._plain.pop(sheet, None)

    @property
    def sheet_names(self) -> list[str]:
        return list(self._sheet_parts)

    def cells(self, sheet: str) -> Cells:
        """Every stored cell of a sheet by (row, col); read once, then kept while the file is open."""
        if sheet not in self._cells:
            self._cells[sheet] = self._read_cells(sheet)
        return self._cells[sheet]

    def grid(self, area: Area) -> Grid:
        """The stored cells of ``area``; a sheet of the plain shape is read without a Cell per cell,
        and a block whose rows lie one after another in it, a slice per row."""
        plain = self._plain_cells(area.sheet)
        if plain is None:
            return Grid.of(area, self.cells(area.sheet))
        letters = [col_letter(c) for c in range(area.left, area.right + 1)]
        starts = plain.rows(area.top, area.bottom, letters)
        if starts is not None:
            return self._slices(area, plain, starts, len(letters))
        rows = range(area.top, area.bottom + 1)
        positions = [[plain.position(column + str(row)) for column in letters] for row in rows]
        formulas = [[plain.formula(p) if p is not None else None for p in row] for row in positions]
        value_of = self._value_of

        def value(i: int, j: int) -> CellValue:
            p = positions[i][j]
            return value_of(plain.kind(p), plain.value(p)) if p is not None else None

        cached = plain.caches and any(
            formulas[i][j] is not None and plain.value(p) is not None
            for i, row in enumerate(positions)
            for j, p in enumerate(row)
            if p is not None
        )
        return Grid(area, formulas, value, cached)

    def _slices(self, area: Area, plain: sheetscan.PlainCells, starts: list[int], width: int) -> Grid:
        """The grid of a block whose rows lie one after another in a plain sheet: a slice per row,
        and its numbers converted all at once where every stored value is a plain number."""
        texts = plain.formulas
        formulas = [[text or None for text in texts[start : start + width]] for start in starts]
        value_of = self._value_of

        def value(i: int, j: int) -> CellValue:
            p = starts[i] + j
            return value_of(plain.kind(p), plain.value(p))

        def stored() -> StoredValues | None:
            numbers = plain.numbers(starts, width)
            return None if numbers is None else (numbers, {})

        return Grid(area, formulas, value, plain.caches and plain.caches_in(starts, width), stored)

    def _plain_cells(self, sheet: str) -> sheetscan.PlainCells | None:
        """The sheet's cells if its XML has the plain shape (sheetscan), else None."""
        if sheet not in self._plain:
            self._plain[sheet] = sheetscan.scan(self._read(self.sheet_part(sheet)))
        return self._plain[sheet]

    def _read_cells(self, sheet: str) -> Cells:
        plain = self._plain_cells(sheet)
        if plain is not None:
            value_of, columns = self._value_of, _COLUMNS
            return {
                (row := int(plain.digits[p]), col := columns[plain.letters[p]]): Cell(
                    row,
                    col,
                    None,
                    value_of(plain.kind(p), plain.value(p)),
                    "=" + text if (text := plain.formulas[p]) else None,
                )
                for p in range(len(plain))
            }
        part = self._sheet_parts[sheet]
        cells: Cells = {}
        shared: dict[str, str] = {}
        arrays: list[tuple[str, str]] = []  # (range, formula) of multi-cell array formulas
        for record in self._cell_records(part):
            cell, formula, kind, shared_index = record.cell, record.formula, record.kind, record.index
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
            cells[(row, col)].array = kind == "array"
        for span, formula in arrays:
            _cover(cells, span, formula)
        return cells

    def sheet_part(self, sheet: str) -> str:
        """The package part that holds a sheet, e.g. ``xl/worksheets/sheet3.xml``."""
        part = self._sheet_parts.get(sheet)
        if part is None:
            raise WorkbookError(f"{self.path}: no sheet named {sheet!r}")
        return part

    def _cell_records(self, part: str) -> Iterator[_CellRecord]:
        """Each <c> of a worksheet part that has an address, as it is parsed."""
        record = _CellRecord({})
        for event, element in self._parse(part, ("start", "end")):
            tag = _local(element.tag)
            if event == "start":
                if tag == "c":
                    record = _CellRecord(dict(element.attrib))
            elif tag == "c":
                if "r" in record.cell:
                    yield record
                element.clear()
            elif tag == "row":
                element.clear()
            else:
                record.take(tag, element)

    def _value(self, cell: dict[str, str]) -> CellValue:
        return self._value_of(cell.get("t", "n"), cell.get("_v"))

    def _value_of(self, kind: str, text: str | None) -> CellValue:
        """A stored value from its type attribute (``t``) and text."""
        if not text:
            return None  # openpyxl writes an empty <v/> for formulas it did not compute
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
                for _, element in self._parse(part, ("end",)):
                    if _local(element.tag) == "si":
                        self._strings.append(_string_item(element))
                        element.clear()
        return self._strings

    def _read_workbook(self) -> None:
        targets: dict[str, str] = {}
        rels = "xl/_rels/workbook.xml.rels"
        if rels in self._parts:
            for _, element in self._parse(rels, ("end",)):
                if _local(element.tag) == "Relationship":
                    targets[element.get("Id", "")] = part_target(element.get("Target", ""))
        for _, element in self._parse("xl/workbook.xml", ("end",)):
            tag = _local(element.tag)
            if tag == "sheet":
                rid = element.get(f"{{{_REL_NS}}}id") or element.get(f"{{{_STRICT_REL_NS}}}id") or ""
                part = targets.get(rid)
                if part in self._parts:
                    self._sheet_parts[element.get("name", "")] = part
                    if element.get("state", "visible") != "visible":
                        self.hidden[element.get("name", "")] = element.get("state", "")
            elif tag == "definedName" and element.get("localSheetId") is None:
                self.names[element.get("name", "")] = (element.text or "").strip()

    def _read(self, part: str) -> bytes:
        try:
            return self._zip.read(part)
        except (zipfile.BadZipFile, OSError, EOFError) as exc:
            raise WorkbookError(f"{self.path}: cannot read {part} ({exc})") from None

    def _parse(self, part: str, events: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
        try:
            with self._zip.open(part) as stream:
                yield from _iterparse(stream, events)
        except (DefusedXmlException, SyntaxError, zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
            raise WorkbookError(f"{self.path}: cannot read {part} ({exc})") from None


class _CellRecord:
    """One <c> as parsed: its attributes, with its value's text as ``"_v"`` and its formula's
    range as ``"_ref"``; its formula's text, type (``"shared-master"`` for the cell that carries
    a shared formula's text) and shared index."""

    __slots__ = ("cell", "formula", "kind", "index")

    def __init__(self, cell: dict[str, str]) -> None:
        self.cell = cell
        self.formula: str | None = None
        self.kind: str | None = None
        self.index: str | None = None

    def take(self, tag: str, element: Any) -> None:
        """Note what a child element of the cell, just parsed, says."""
        if tag == "f":
            self.formula = element.text
            self.kind = element.get("t")
            if self.kind == "shared" and element.get("ref") is not None:
                self.kind = "shared-master"
            self.index = element.get("si")
            self.cell["_ref"] = element.get("ref", "")
        elif tag == "v":
            self.cell["_v"] = element.text or ""
        elif tag == "t" and "_v" not in self.cell and self.cell.get("t") == "inlineStr":
            self.cell["_v"] = element.text or ""


def _iterparse(stream: IO[bytes], events: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
    yield from iterparse(stream, events=events, forbid_dtd=True)


def _string_item(item: Any) -> str:
    """A shared string's text: its <t>, or the <t> of each rich-text run <r> in turn. A phonetic
    guide (<rPh>, the reading Excel stores with Japanese text) is not part of the text."""
    pieces = []
    for child in item:
        tag = _local(child.tag)
        if tag == "t":
            pieces.append(child.text or "")
        elif tag == "r":
            pieces += [run.text or "" for run in child if _local(run.tag) == "t"]
    return "".join(pieces)


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
            stored.r1c1, stored.array = array, True


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]
