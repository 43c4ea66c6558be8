"""The worksheet parts (xl/worksheets/sheetN.xml): cells with numbers at full precision (repr),
text (as shared strings) and formulas with their cached values, how a sheet opens (panes, widths,
links) and how it prints (landscape, one page wide)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple
from xml.sax.saxutils import escape, quoteattr

from ...a1 import cell, col_letter
from ...values import ErrorValue
from .chart import Chart
from .namespaces import DECLARATION, MAIN, REL
from .shared_strings import SharedStrings
from .styles import Styles


class Formula(NamedTuple):
    """A formula cell (``text`` starts with ``=``) and the value a formula engine computed for it,
    written as the cell's cached value (None: no cached value)."""

    text: str
    cached: float | bool | str | None = None
    error: bool = False  # the cached value is an error code such as #DIV/0!


class Filled(NamedTuple):
    """A run of formula cells in one row, from the cell's column rightwards: one formula filled,
    ``pattern`` being its text (``='x'!{c}{r}-'mean'!{c}$7``) with the column letters and the
    row left open, ``width`` cells wide; each with its cached value (``cached``: one per cell, as
    :class:`Formula` takes it, an :class:`~bnsheet.values.ErrorValue` for an error; or None for
    none at all). A block row of a million-cell workbook is
    written with one ``str.format`` instead of one per cell."""

    pattern: str
    width: int
    cached: list[object] | None = None


Value = float | int | str | Formula | Filled | None


@dataclass
class Sheet:
    """One worksheet: rows of cells, and how it opens (frozen panes, widths, links, tab colour)."""

    name: str
    rows: Iterable[tuple[int, list[tuple[int, Value, str]]]]  # (row, [(col, value, style)])
    widths: dict[int, float] = field(default_factory=dict)
    freeze: tuple[int, int] | None = None  # first scrolling (row, col)
    links: list[tuple[str, str]] = field(default_factory=list)  # (cell, target such as 'x'!A1)
    tab_color: str | None = None
    charts: list[Chart] = field(default_factory=list)
    print_area: str | None = None  # such as $A$1:$J$12: what printing (and a PDF) shows
    print_titles: tuple[str, ...] = ()  # columns and rows printed on every page: ("$B:$B", "$6:$6")
    one_page: bool = False  # printed on one page; otherwise one page wide and as many tall as it takes


def worksheet(sheet: Sheet, active: bool, strings: SharedStrings, styles: Styles) -> Iterator[str]:
    """The sheet's XML in pieces, its rows read as they come; ``active``: the sheet that opens
    first. Its text goes into ``strings`` and its cells' styles into ``styles`` as the rows are
    written. A sheet with charts refers to its drawing as relationship rId1."""
    yield f'{DECLARATION}<worksheet xmlns="{MAIN}" xmlns:r="{REL}">'
    tab = f'<tabColor rgb="FF{sheet.tab_color}"/>' if sheet.tab_color else ""
    yield f'<sheetPr>{tab}<pageSetUpPr fitToPage="1"/></sheetPr>'
    selected = ' tabSelected="1"' if active else ""
    yield f'<sheetViews><sheetView workbookViewId="0"{selected}>'
    if sheet.freeze:
        row, col = sheet.freeze
        top_left = cell(row, col)
        pane = "bottomRight" if row > 1 and col > 1 else ("bottomLeft" if row > 1 else "topRight")
        x_split = f' xSplit="{col - 1}"' if col > 1 else ""
        y_split = f' ySplit="{row - 1}"' if row > 1 else ""
        yield f'<pane{x_split}{y_split} topLeftCell="{top_left}" activePane="{pane}" state="frozen"/>'
        yield f'<selection pane="{pane}" activeCell="{top_left}" sqref="{top_left}"/>'
    yield '</sheetView></sheetViews><sheetFormatPr defaultRowHeight="15"/>'
    if sheet.widths:
        yield "<cols>"
        for col, width in sorted(sheet.widths.items()):
            yield f'<col min="{col}" max="{col}" width="{width}" customWidth="1"/>'
        yield "</cols>"
    yield "<sheetData>"
    letters = _Letters()
    runs = _Runs(letters)
    for row, cells in sheet.rows:
        yield f'<row r="{row}">'
        for col, value, style in cells:
            if isinstance(value, Filled):
                yield runs.cells(row, col, value, styles[style])
            else:
                yield _cell(f"{letters[col]}{row}", value, styles[style], strings)
        yield "</row>"
    yield "</sheetData>"
    if sheet.links:
        yield "<hyperlinks>"
        for ref, target in sheet.links:
            yield f'<hyperlink ref="{ref}" location={quoteattr(target)} display={quoteattr(target)}/>'
        yield "</hyperlinks>"
    # Excel's narrow margins; every sheet fits the page's width, the graph sheet its height too
    yield '<pageMargins left="0.25" right="0.25" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
    yield f'<pageSetup orientation="landscape" fitToWidth="1" fitToHeight="{int(sheet.one_page)}"/>'
    if sheet.charts:
        yield '<drawing r:id="rId1"/>'
    yield "</worksheet>"


class _Letters(dict[int, str]):
    """Column numbers to letters, remembered for the columns of one sheet."""

    def __missing__(self, col: int) -> str:
        self[col] = col_letter(col)
        return self[col]


class _Runs(dict[tuple[str, int, int, int, bool], str]):
    """The XML of a filled run as one format string per (pattern, column, width, style, cached):
    ``{0}`` the row, ``{1}``… the cached numbers."""

    def __init__(self, letters: _Letters) -> None:
        super().__init__()
        self.letters = letters

    def cells(self, row: int, col: int, run: Filled, style: int) -> str:
        cached = run.cached
        if cached is not None and not all(type(v) is float for v in cached):  # not all numbers: one by one
            s = f' s="{style}"' if style else ""
            texts = (run.pattern.format(c=self.letters[col + k], r=row) for k in range(run.width))
            return "".join(
                _formula_cell(f"{self.letters[col + k]}{row}", s, _cached(text, v))
                for k, (text, v) in enumerate(zip(texts, cached, strict=True))
            )
        key = (run.pattern, col, run.width, style, cached is not None)
        template = self.get(key)
        if template is None:
            template = self[key] = self._template(*key)
        return template.format(row, *cached) if cached is not None else template.format(row)

    def _template(self, pattern: str, col: int, width: int, style: int, cached: bool) -> str:
        s = f' s="{style}"' if style else ""
        pieces = []
        for k in range(width):
            letters = self.letters[col + k]
            # the row as a character no formula can hold (XML allows no NUL), made {0} once escaped
            formula = Formula(pattern.format(c=letters, r="\x00"), 0.0 if cached else None)
            cell = _formula_cell(f"{letters}\x00", s, formula)
            cell = cell.replace("{", "{{").replace("}", "}}").replace("\x00", "{0}")
            pieces.append(cell.replace("<v>0.0</v>", f"<v>{{{k + 1}}}</v>") if cached else cell)
        return "".join(pieces)


def _cached(text: str, value: object) -> Formula:
    """A formula cell with a cached value of any kind: a number, text, a boolean, an error or none."""
    if value is None or isinstance(value, (float, bool, str)):
        return Formula(text, value, isinstance(value, ErrorValue))
    return Formula(text, float(value))  # type: ignore[arg-type]  # a NumPy number


def _cell(ref: str, value: Value, style: int, strings: SharedStrings) -> str:
    s = f' s="{style}"' if style else ""
    if value is None:
        return f'<c r="{ref}"{s}/>'
    if isinstance(value, Formula):
        return _formula_cell(ref, s, value)
    if isinstance(value, str):
        return f'<c r="{ref}"{s} t="s"><v>{strings.index(value)}</v></c>'
    assert not isinstance(value, Filled)  # a run is written by _Runs
    return f'<c r="{ref}"{s}><v>{float(value)!r}</v></c>'


def _formula_cell(ref: str, s: str, formula: Formula) -> str:
    text = formula.text[1:]
    f = f"<f>{escape(text) if '&' in text or '<' in text or '>' in text else text}</f>"
    value = formula.cached
    if value is None:
        return f'<c r="{ref}"{s}>{f}</c>'
    if formula.error:
        return f'<c r="{ref}"{s} t="e">{f}<v>{escape(str(value))}</v></c>'
    if isinstance(value, bool):
        return f'<c r="{ref}"{s} t="b">{f}<v>{int(value)}</v></c>'
    if isinstance(value, str):
        return f'<c r="{ref}"{s} t="str">{f}<v>{escape(value)}</v></c>'
    return f'<c r="{ref}"{s}>{f}<v>{float(value)!r}</v></c>'
