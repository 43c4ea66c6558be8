"""Pure A1 helpers: column letters, quoted sheet names, $-pinned cells and ranges, R1C1 form.

Everything in bnsheet that spells a cell address goes through this module, so quoting
(`'dx1'!C7` — `dx1` alone is a cell address) and pinning are decided in one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

MAX_ROWS = 1_048_576
MAX_COLS = 16_384


def col_letter(col: int) -> str:
    """Column number (1-based) to letters: ``col_letter(3) == "C"``, ``col_letter(28) == "AB"``."""
    if not 1 <= col <= MAX_COLS:
        raise ValueError(f"column {col} is outside 1..{MAX_COLS}")
    letters = ""
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def col_number(letters: str) -> int:
    """Column letters to number (1-based): ``col_number("AB") == 28``."""
    number = 0
    for ch in letters.upper():
        number = number * 26 + ord(ch) - 64
    return number


def quote_sheet(name: str) -> str:
    """Always quote a sheet name for use in a reference: ``quote_sheet("dx1") == "'dx1'"``."""
    return "'" + name.replace("'", "''") + "'"


def cell(row: int, col: int, *, pin_row: bool = False, pin_col: bool = False) -> str:
    """A1 address with optional ``$`` pins: ``cell(7, 3, pin_row=True) == "C$7"``."""
    return f"{'$' if pin_col else ''}{col_letter(col)}{'$' if pin_row else ''}{row}"


@dataclass(frozen=True)
class Area:
    """A rectangular block on one sheet, 1-based and inclusive."""

    sheet: str
    top: int
    left: int
    bottom: int
    right: int

    @property
    def shape(self) -> tuple[int, int]:
        return (self.bottom - self.top + 1, self.right - self.left + 1)

    def address(self, row: int, col: int) -> str:
        """A1 address of the cell at block offset (row, col), both 0-based."""
        return cell(self.top + row, self.left + col)

    @property
    def text(self) -> str:
        """``'xmu'!C7:E10`` — the form messages show."""
        span = cell(self.top, self.left) + ("" if self.shape == (1, 1) else ":" + cell(self.bottom, self.right))
        return f"{quote_sheet(self.sheet)}!{span}"

    def absolute(self) -> str:
        """``'xmu'!$C$7:$E$10`` — the form used in defined names."""
        first = cell(self.top, self.left, pin_row=True, pin_col=True)
        last = cell(self.bottom, self.right, pin_row=True, pin_col=True)
        span = first if (self.top, self.left) == (self.bottom, self.right) else f"{first}:{last}"
        return f"{quote_sheet(self.sheet)}!{span}"


_AREA = re.compile(r"^(?:'((?:[^']|'')+)'|([^'!]+))!\$?([A-Za-z]{1,3})\$?(\d+)(?::\$?([A-Za-z]{1,3})\$?(\d+))?$")


def parse_area(text: str) -> Area | None:
    """Parse a defined name's target such as ``'xmu'!$C$7:$E$10``; None if it is not one block."""
    match = _AREA.match(text.strip())
    if not match:
        return None
    quoted, bare, c1, r1, c2, r2 = match.groups()
    sheet = quoted.replace("''", "'") if quoted is not None else bare
    top, left = int(r1), col_number(c1)
    bottom, right = (int(r2), col_number(c2)) if c2 else (top, left)
    return Area(sheet, min(top, bottom), min(left, right), max(top, bottom), max(left, right))


# A cell reference inside a formula: optional $, letters, optional $, digits, not part of a
# longer name, not a function call (LOG10( ) and not a sheet prefix (dx1!).
_REF = re.compile(r"(?<![A-Za-z0-9_.$])(\$?)([A-Za-z]{1,3})(\$?)([0-9]+)(?![A-Za-z0-9_.(!])")
# String literals and quoted sheet names are copied as they are ('dx1' is a name, not a cell).
_QUOTED = re.compile(r'"(?:[^"]|"")*"|\'(?:[^\']|\'\')*\'')


# Grading a class meets the same formulas in the same cells file after file: a bounded cache of the
# two parsers below saves a tenth of a small file's time, and at a million cells costs nothing.
@lru_cache(maxsize=4096)
def to_r1c1(formula: str, row: int, col: int) -> str:
    """The formula's relative (R1C1) form as seen from (row, col).

    Two cells hold "the same formula filled" exactly when their R1C1 forms are equal:
    ``to_r1c1("='x'!C7*'y'!C$7", 7, 3) == "='x'!R[0]C[0]*'y'!R7C[0]"``.
    Text inside string literals and quoted sheet names is left alone.
    """
    pieces: list[str] = []
    last = 0
    for string in _QUOTED.finditer(formula):
        pieces.append(_refs_to_r1c1(formula[last : string.start()], row, col))
        pieces.append(string.group())
        last = string.end()
    pieces.append(_refs_to_r1c1(formula[last:], row, col))
    return "".join(pieces)


def _refs_to_r1c1(text: str, row: int, col: int) -> str:
    def replace(match: re.Match[str]) -> str:
        pin_col, letters, pin_row, digits = match.groups()
        c, r = col_number(letters), int(digits)
        if c > MAX_COLS or r > MAX_ROWS or r == 0:
            return match.group()
        rpart = f"R{r}" if pin_row else f"R[{r - row}]"
        cpart = f"C{c}" if pin_col else f"C[{c - col}]"
        return rpart + cpart

    return _REF.sub(replace, text)


_R1C1 = re.compile(r"R(\[-?\d+\]|\d+)C(\[-?\d+\]|\d+)")


def from_r1c1(formula: str, row: int, col: int) -> str:
    """Inverse of :func:`to_r1c1`: the A1 text of an R1C1 formula placed at (row, col)."""

    def replace(match: re.Match[str]) -> str:
        rpart, cpart = match.groups()
        r = row + int(rpart[1:-1]) if rpart.startswith("[") else int(rpart)
        c = col + int(cpart[1:-1]) if cpart.startswith("[") else int(cpart)
        if r < 1 or c < 1 or r > MAX_ROWS or c > MAX_COLS:
            return "#REF!"
        return cell(r, c, pin_row=not rpart.startswith("["), pin_col=not cpart.startswith("["))

    pieces: list[str] = []
    last = 0
    for string in _QUOTED.finditer(formula):
        pieces.append(_R1C1.sub(replace, formula[last : string.start()]))
        pieces.append(string.group())
        last = string.end()
    pieces.append(_R1C1.sub(replace, formula[last:]))
    return "".join(pieces)


def filled(r1c1: str, rows: range, cols: range) -> list[list[str]]:
    """:func:`from_r1c1` of one formula over a block, row by row, fast: the formula is taken apart
    once, each column's letters are put in once, and each cell costs one ``str.format``.

    >>> filled("='x'!R[0]C[0]*'y'!R7C[0]", range(7, 9), range(3, 5))
    [["='x'!C7*'y'!C$7", "='x'!D7*'y'!D$7"], ["='x'!C8*'y'!C$7", "='x'!D8*'y'!D$7"]]
    """
    return [row.split(_SEPARATOR) for row in filled_rows(r1c1, rows, cols)]


_SEPARATOR = "\x00"  # between the cells of a row: no formula holds it (XML allows no NUL)


def filled_rows(r1c1: str, rows: range, cols: range, separator: str = _SEPARATOR) -> list[str]:
    """Each row of :func:`filled` as one string, its cells joined by ``separator`` (which must
    not hold a brace): one ``str.format`` per row, so that a block of a million formulas is
    compared with its first cell's formula filled a row at a time.

    >>> filled_rows("=R[0]C[-1]*2", range(7, 9), range(3, 5), "|")
    ['=B7*2|=C7*2', '=B8*2|=C8*2']
    """
    quoted = [(q.start(), q.end()) for q in _QUOTED.finditer(r1c1)]
    parts: list[str] = []
    spans: list[tuple[str, str]] = []  # (row part, column part) of each reference, as in R1C1
    last = 0
    for match in _R1C1.finditer(r1c1):
        if any(start < match.start() < end for start, end in quoted):
            continue
        parts.append(_twice_escaped(r1c1[last : match.start()]))
        parts.append(f"{{{len(spans)}}}{{{{{len(spans)}}}}}")  # column slot now, row slot later
        spans.append((match.group(1), match.group(2)))
        last = match.end()
    parts.append(_twice_escaped(r1c1[last:]))
    template = "".join(parts)

    def spell(part: str, at: int, limit: int, letters: bool) -> str | None:
        number = at + int(part[1:-1]) if part.startswith("[") else int(part)
        if not 1 <= number <= limit:
            return None
        text = col_letter(number) if letters else str(number)
        return text if part.startswith("[") else "$" + text

    by_col: list[str | None] = []  # the template with each reference's column put in
    for col in cols:
        letters = [spell(c, col, MAX_COLS, True) for _, c in spans]
        by_col.append(None if None in letters else template.format(*letters))
    whole_row = None if None in by_col else separator.join(by_col)  # type: ignore[arg-type]
    block = []
    for row in rows:
        numbers = [spell(r, row, MAX_ROWS, False) for r, _ in spans]
        if None in numbers or whole_row is None:  # a reference falls off the sheet: #REF!
            block.append(separator.join(from_r1c1(r1c1, row, col) for col in cols))
        else:
            block.append(whole_row.format(*numbers))
    return block


def _twice_escaped(text: str) -> str:
    """Literal text that comes through two ``str.format`` passes unchanged."""
    return text.replace("{", "{{{{").replace("}", "}}}}")


def looks_like_cell(name: str) -> bool:
    """True for a name that is also a valid A1 address, such as the sheet name ``dx1``."""
    match = re.fullmatch(r"([A-Za-z]{1,3})([0-9]+)", name)
    if match is None:
        return False
    return col_number(match.group(1)) <= MAX_COLS and 1 <= int(match.group(2)) <= MAX_ROWS


def split_address(address: str) -> tuple[int, int]:
    """``"C7"`` → (7, 3)."""
    match = re.fullmatch(r"\$?([A-Za-z]{1,3})\$?([0-9]+)", address)
    if not match:
        raise ValueError(f"not a cell address: {address!r}")
    return int(match.group(2)), col_number(match.group(1))


@dataclass(frozen=True)
class Reference:
    """A reference to another sheet as written in a formula: ``'gamma'!C7`` or ``x!$C$7:C10``."""

    sheet: str
    text: str
    pins: tuple[tuple[bool, bool], ...]  # (column pinned, row pinned) for each end

    def pinned(self, *, rows: bool | None = None, cols: bool | None = None) -> str:
        """This reference with its row and/or column pins set (None keeps what was written)."""
        cells = [
            cell(row, col, pin_row=pin_row if rows is None else rows, pin_col=pin_col if cols is None else cols)
            for (pin_col, pin_row), (row, col) in zip(self.pins, self.cells, strict=True)
        ]
        return f"{quote_sheet(self.sheet)}!{':'.join(cells)}"

    @property
    def cells(self) -> list[tuple[int, int]]:
        return [split_address(end) for end in self.text.rsplit("!", 1)[1].split(":")]


_SHEET_REF = re.compile(
    r"(?:'((?:[^']|'')+)'|(?<![A-Za-z0-9_.])([A-Za-z_][A-Za-z0-9_.]*))!"
    r"(\$?[A-Za-z]{1,3}\$?[0-9]+)(?::(\$?[A-Za-z]{1,3}\$?[0-9]+))?"
)


_STRING = re.compile(r'"(?:[^"]|"")*"')


@lru_cache(maxsize=4096)
def references(formula: str) -> tuple[Reference, ...]:
    """The references to other sheets in an A1 formula, in order.

    >>> [r.text for r in references("=gamma!C$7*'dout'!C7+SUM(x!C$7:C$10)")]
    ['gamma!C$7', "'dout'!C7", 'x!C$7:C$10']
    >>> references("=gamma!C7")[0].pinned(rows=True)
    "'gamma'!C$7"
    """
    found = []
    for match in _SHEET_REF.finditer(_STRING.sub('""', formula)):
        quoted, bare, first, last = match.groups()
        sheet = quoted.replace("''", "'") if quoted is not None else bare
        ends = [first] + ([last] if last else [])
        pins = tuple((end.startswith("$"), "$" in end.lstrip("$")) for end in ends)
        found.append(Reference(sheet, match.group(), pins))
    return tuple(found)


_CELL_END = r"(\$?)([A-Za-z]{1,3})(\$?)([0-9]+)"
_READ = re.compile(
    r"(?:(?:'((?:[^']|'')+)'|(?<![A-Za-z0-9_.])([A-Za-z_][A-Za-z0-9_.]*))!)?"
    r"(?<![A-Za-z0-9_.$])(?:"
    + _CELL_END
    + r"(?::"
    + _CELL_END
    + r")?"  # C7, $C$7:C10
    + r"|(\$?[A-Za-z]{1,3}):(\$?[A-Za-z]{1,3})"  # C:E, whole columns
    + r"|(\$?[0-9]+):(\$?[0-9]+)"  # 7:10, whole rows
    + r")(?![A-Za-z0-9_.(!])"
)
_NAME = re.compile(r"(?<![A-Za-z0-9_.$!'#\\])([A-Za-z_\\][A-Za-z0-9_.\\]*)(?![A-Za-z0-9_.(!\\])")


@dataclass(frozen=True)
class Extent:
    """The cells one reference of a formula reads once the formula is filled over a block:
    ``sheet`` None for the formula's own sheet."""

    sheet: str | None
    top: int
    left: int
    bottom: int
    right: int

    def within(self, area: Area) -> bool:
        return (
            area.top <= self.top and self.bottom <= area.bottom and area.left <= self.left and self.right <= area.right
        )

    @property
    def text(self) -> str:
        where = f"{quote_sheet(self.sheet)}!" if self.sheet is not None else ""
        corner = f"{cell(self.top, self.left)}:{cell(self.bottom, self.right)}"
        return where + (cell(self.top, self.left) if (self.top, self.left) == (self.bottom, self.right) else corner)


def reads(formula: str, rows: int = 1, cols: int = 1) -> tuple[list[Extent], list[str]]:
    """What an A1 formula reads when filled from where it stands over ``rows``×``cols`` cells: the
    extent of each reference (its relative parts shifted over the fill), and the defined names it
    names. Text in quotes reads nothing; function names and TRUE/FALSE are no names.

    >>> extents, names = reads("'x'!C7-'mean'!C$7+SUM(x!C$7:C$10)*bn_eps", rows=4, cols=3)
    >>> [e.text for e in extents], names
    (["'x'!C7:E10", "'mean'!C7:E7", "'x'!C7:E10"], ['bn_eps'])
    >>> reads('3.31'), reads('IF(TRUE,"C7",PI())')
    (([], []), ([], []))
    """
    text = _STRING.sub('""', formula.lstrip("="))
    found: list[Extent] = []
    for match in _READ.finditer(text):
        quoted, bare, *ends = match.groups()
        sheet = quoted.replace("''", "'") if quoted is not None else bare
        found.append(_extent(sheet, ends, rows, cols))
    rest = _READ.sub(" ", text)
    names = [name for name in _NAME.findall(rest) if name.upper() not in ("TRUE", "FALSE")]
    return found, names


def _extent(sheet: str | None, ends: list[str | None], rows: int, cols: int) -> Extent:
    """The extent of one _READ match (its groups after the sheet's), filled over rows×cols."""
    if ends[1] is not None:  # cells: one corner or two
        corners = [ends[0:4]] + ([ends[4:8]] if ends[5] is not None else [])
        spans = []
        for pin_col, letters, pin_row, number in corners:
            row, col = int(number or 0), col_number(letters or "")
            spans.append((row, col, row + (0 if pin_row else rows - 1), col + (0 if pin_col else cols - 1)))
        top, left, bottom, right = (f(s[k] for s in spans) for k, f in enumerate((min, min, max, max)))
        return Extent(sheet, top, left, bottom, right)
    if ends[8] is not None:  # whole columns
        first, last = (col_number((end or "").lstrip("$")) for end in ends[8:10])
        return Extent(sheet, 1, first, MAX_ROWS, last + (0 if (ends[9] or "").startswith("$") else cols - 1))
    first, last = (int((end or "").lstrip("$")) for end in ends[10:12])  # whole rows
    return Extent(sheet, first, 1, last + (0 if (ends[11] or "").startswith("$") else rows - 1), MAX_COLS)
