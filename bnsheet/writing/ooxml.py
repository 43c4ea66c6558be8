"""Writes a SpreadsheetML (.xlsx) package from sheet descriptions, streaming, byte for byte
reproducible: numbers at full precision (repr), fixed timestamps, fixed zip entry times.

openpyxl writes numbers with 16 significant digits, which loses the last bits of an input
(SPEC §3.5); this writer is small because bnsheet needs only cells, a few styles, frozen panes,
column widths, internal links, defined names, formulas with their cached values and column charts.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, NamedTuple
from xml.sax.saxutils import escape, quoteattr

from ..a1 import cell, col_letter, quote_sheet


class Formula(NamedTuple):
    """A formula cell (``text`` starts with ``=``) and the value a formula engine computed for it,
    written as the cell's cached value (None: no cached value)."""

    text: str
    cached: float | bool | str | None = None
    error: bool = False  # the cached value is an error code such as #DIV/0!


Value = float | int | str | Formula | None

# Cell styles by name; their order is their index in styles.xml.
STYLES = (
    "default", "title", "note", "label", "input", "forward", "backward", "param", "link",
    "input_link", "forward_link", "backward_link", "heading", "arrow",
)  # fmt: skip
_STYLE = {name: i for i, name in enumerate(STYLES)}

APPLICATION = "bnsheet"  # in docProps/app.xml: how bnsheet knows a file it may rebuild freely


@dataclass(frozen=True)
class Chart:
    """A clustered column chart: categories and one or more series, each a range of cells."""

    title: str
    categories: str  # a range such as 'plots'!$C$17:$C$24
    series: tuple[tuple[str, str, str], ...]  # (name, range of values, colour as RRGGBB)
    anchor: tuple[int, int, int, int]  # top row, left column, bottom row, right column (1-based)
    categories_are_text: bool = False
    number_format: str = "General"


_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_CREATED = "2024-01-01T00:00:00Z"
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"


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


def write(
    stream: IO[bytes], sheets: list[Sheet], names: dict[str, str], title: str = "", compress: bool = True
) -> None:
    """Write the package to a binary stream; ``names`` maps defined names to their targets.

    ``compress=False`` stores the parts uncompressed: faster, for a package that is only read
    back in memory.
    """
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    # Level 3 packs a sheet of formulas within 7 % of level 6, in half the time.
    with zipfile.ZipFile(stream, "w", method) as package:

        def put(name: str, text: str | Iterable[str]) -> None:
            info = zipfile.ZipInfo(name, _FIXED_TIME)
            info.compress_type = method
            info._compresslevel = 3  # type: ignore[attr-defined]  # ZipFile's own level is not used for a ZipInfo
            with package.open(info, "w") as part:
                if isinstance(text, str):
                    part.write(text.encode())
                else:
                    for chunk in _chunks(text):
                        part.write(chunk.encode())

        drawings = [i for i, sheet in enumerate(sheets, start=1) if sheet.charts]
        charts = sum(len(sheet.charts) for sheet in sheets)
        put("[Content_Types].xml", _content_types(len(sheets), len(drawings), charts))
        put("_rels/.rels", _root_rels())
        put("docProps/core.xml", _core(title))
        put("docProps/app.xml", _app())
        put("xl/workbook.xml", _workbook(sheets, names))
        put("xl/_rels/workbook.xml.rels", _workbook_rels(len(sheets)))
        put("xl/styles.xml", _styles())
        chart_number = 0
        for i, sheet in enumerate(sheets, start=1):
            put(f"xl/worksheets/sheet{i}.xml", _worksheet(sheet, active=i == 1))
            if sheet.charts:
                drawing = drawings.index(i) + 1
                put(f"xl/worksheets/_rels/sheet{i}.xml.rels", _rels([("drawing", f"../drawings/drawing{drawing}.xml")]))
                numbers = range(chart_number + 1, chart_number + len(sheet.charts) + 1)
                put(f"xl/drawings/drawing{drawing}.xml", _drawing(sheet.charts))
                put(
                    f"xl/drawings/_rels/drawing{drawing}.xml.rels",
                    _rels([("chart", f"../charts/chart{k}.xml") for k in numbers]),
                )
                for k, chart in zip(numbers, sheet.charts, strict=True):
                    put(f"xl/charts/chart{k}.xml", _chart(chart))
                chart_number += len(sheet.charts)


def _chunks(pieces: Iterable[str], size: int = 1 << 16) -> Iterator[str]:
    buffer: list[str] = []
    length = 0
    for piece in pieces:
        buffer.append(piece)
        length += len(piece)
        if length >= size:
            yield "".join(buffer)
            buffer, length = [], 0
    if buffer:
        yield "".join(buffer)


def _worksheet(sheet: Sheet, active: bool) -> Iterator[str]:
    yield f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{_MAIN}" xmlns:r="{_REL}">'
    if sheet.tab_color:
        yield f'<sheetPr><tabColor rgb="FF{sheet.tab_color}"/></sheetPr>'
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
    for row, cells in sheet.rows:
        yield f'<row r="{row}">'
        for col, value, style in cells:
            yield _cell(f"{letters[col]}{row}", value, _STYLE[style])
        yield "</row>"
    yield "</sheetData>"
    if sheet.links:
        yield "<hyperlinks>"
        for ref, target in sheet.links:
            yield f'<hyperlink ref="{ref}" location={quoteattr(target)} display={quoteattr(target)}/>'
        yield "</hyperlinks>"
    yield '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
    if sheet.charts:
        yield '<drawing r:id="rId1"/>'
    yield "</worksheet>"


class _Letters(dict[int, str]):
    """Column numbers to letters, remembered for the columns of one sheet."""

    def __missing__(self, col: int) -> str:
        self[col] = col_letter(col)
        return self[col]


def _cell(ref: str, value: Value, style: int) -> str:
    s = f' s="{style}"' if style else ""
    if value is None:
        return f'<c r="{ref}"{s}/>'
    if isinstance(value, Formula):
        return _formula_cell(ref, s, value)
    if isinstance(value, str):
        return f'<c r="{ref}"{s} t="inlineStr"><is><t xml:space="preserve">{escape(value)}</t></is></c>'
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


def _content_types(count: int, drawings: int = 0, charts: int = 0) -> str:
    sheets = "".join(
        f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        for i in range(1, count + 1)
    )
    sheets += "".join(
        f'<Override PartName="/xl/drawings/drawing{i}.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.drawing+xml"/>'
        for i in range(1, drawings + 1)
    )
    sheets += "".join(
        f'<Override PartName="/xl/charts/chart{i}.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.drawingml.chart+xml"/>'
        for i in range(1, charts + 1)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/styles.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
        '<Override PartName="/docProps/core.xml" '
        'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
        '<Override PartName="/docProps/app.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
        f"{sheets}</Types>"
    )


def _rels(targets: list[tuple[str, str]]) -> str:
    """A part's relationships: (type, target) as rId1, rId2, …"""
    listed = "".join(
        f'<Relationship Id="rId{i}" Type="{_REL}/{kind}" Target="{target}"/>'
        for i, (kind, target) in enumerate(targets, start=1)
    )
    head = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    return f'{head}<Relationships xmlns="{_PKG_REL}">{listed}</Relationships>'


_XDR = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"
_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
_C = "http://schemas.openxmlformats.org/drawingml/2006/chart"


def _drawing(charts: list[Chart]) -> str:
    """The drawing part of a sheet: one frame per chart, anchored to cells."""
    frames = []
    for i, chart in enumerate(charts, start=1):
        top, left, bottom, right = chart.anchor
        frames.append(
            "<xdr:twoCellAnchor>"
            f"<xdr:from><xdr:col>{left - 1}</xdr:col><xdr:colOff>0</xdr:colOff>"
            f"<xdr:row>{top - 1}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from>"
            f"<xdr:to><xdr:col>{right - 1}</xdr:col><xdr:colOff>0</xdr:colOff>"
            f"<xdr:row>{bottom - 1}</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:to>"
            f'<xdr:graphicFrame macro=""><xdr:nvGraphicFramePr><xdr:cNvPr id="{i + 1}" name="Chart {i}"/>'
            "<xdr:cNvGraphicFramePr/></xdr:nvGraphicFramePr>"
            '<xdr:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/></xdr:xfrm>'
            f'<a:graphic><a:graphicData uri="{_C}"><c:chart xmlns:c="{_C}" xmlns:r="{_REL}" r:id="rId{i}"/>'
            "</a:graphicData></a:graphic></xdr:graphicFrame><xdr:clientData/></xdr:twoCellAnchor>"
        )
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<xdr:wsDr xmlns:xdr="{_XDR}" xmlns:a="{_A}">'
        + "".join(frames)
        + "</xdr:wsDr>"
    )


def _chart(chart: Chart) -> str:
    """A clustered column chart reading its numbers from cells."""
    ref_kind = "strRef" if chart.categories_are_text else "numRef"
    series = "".join(
        f'<c:ser><c:idx val="{i}"/><c:order val="{i}"/><c:tx><c:v>{escape(name)}</c:v></c:tx>'
        f'<c:spPr><a:solidFill><a:srgbClr val="{colour}"/></a:solidFill></c:spPr><c:invertIfNegative val="0"/>'
        f"<c:cat><c:{ref_kind}><c:f>{escape(chart.categories)}</c:f></c:{ref_kind}></c:cat>"
        f"<c:val><c:numRef><c:f>{escape(values)}</c:f></c:numRef></c:val></c:ser>"
        for i, (name, values, colour) in enumerate(chart.series)
    )
    title = (
        '<c:title><c:tx><c:rich><a:bodyPr/><a:p><a:pPr><a:defRPr sz="1100" b="1"/></a:pPr>'
        f'<a:r><a:rPr sz="1100" b="1"/><a:t>{escape(chart.title)}</a:t></a:r></a:p></c:rich></c:tx>'
        '<c:overlay val="0"/></c:title><c:autoTitleDeleted val="0"/>'
    )
    axes = (
        '<c:catAx><c:axId val="1"/><c:scaling><c:orientation val="minMax"/></c:scaling><c:delete val="0"/>'
        f'<c:axPos val="b"/><c:numFmt formatCode="{escape(chart.number_format)}" sourceLinked="0"/>'
        '<c:tickLblPos val="low"/><c:crossAx val="2"/><c:crosses val="autoZero"/><c:auto val="1"/>'
        '<c:lblAlgn val="ctr"/><c:lblOffset val="100"/></c:catAx>'
        '<c:valAx><c:axId val="2"/><c:scaling><c:orientation val="minMax"/></c:scaling><c:delete val="0"/>'
        '<c:axPos val="l"/><c:majorGridlines/><c:numFmt formatCode="General" sourceLinked="0"/>'
        '<c:tickLblPos val="nextTo"/><c:crossAx val="1"/><c:crosses val="autoZero"/>'
        '<c:crossBetween val="between"/></c:valAx>'
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<c:chartSpace xmlns:c="{_C}" xmlns:a="{_A}" '
        f'xmlns:r="{_REL}"><c:roundedCorners val="0"/><c:chart>{title}<c:plotArea><c:layout/>'
        '<c:barChart><c:barDir val="col"/><c:grouping val="clustered"/><c:varyColors val="0"/>'
        f'{series}<c:gapWidth val="60"/><c:axId val="1"/><c:axId val="2"/></c:barChart>{axes}</c:plotArea>'
        '<c:legend><c:legendPos val="b"/><c:overlay val="0"/></c:legend><c:plotVisOnly val="1"/>'
        '<c:dispBlanksAs val="gap"/></c:chart></c:chartSpace>'
    )


def _root_rels() -> str:
    base = "http://schemas.openxmlformats.org"
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{_PKG_REL}">'
        f'<Relationship Id="rId1" Type="{base}/officeDocument/2006/relationships/officeDocument" '
        'Target="xl/workbook.xml"/>'
        f'<Relationship Id="rId2" Type="{base}/package/2006/relationships/metadata/core-properties" '
        'Target="docProps/core.xml"/>'
        f'<Relationship Id="rId3" Type="{base}/officeDocument/2006/relationships/extended-properties" '
        'Target="docProps/app.xml"/></Relationships>'
    )


def _core(title: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        f"<dc:title>{escape(title)}</dc:title><dc:creator>bnsheet</dc:creator>"
        f'<dcterms:created xsi:type="dcterms:W3CDTF">{_CREATED}</dcterms:created>'
        f'<dcterms:modified xsi:type="dcterms:W3CDTF">{_CREATED}</dcterms:modified>'
        "</cp:coreProperties>"
    )


def _app() -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
        f"<Application>{APPLICATION}</Application></Properties>"
    )


def _workbook(sheets: list[Sheet], names: dict[str, str]) -> str:
    listed = "".join(
        f'<sheet name={quoteattr(s.name)} sheetId="{i}" r:id="rId{i}"/>' for i, s in enumerate(sheets, start=1)
    )
    defined = "".join(f"<definedName name={quoteattr(k)}>{escape(v)}</definedName>" for k, v in names.items())
    defined += "".join(
        f'<definedName name="_xlnm.Print_Area" localSheetId="{i}">'
        f"{escape(quote_sheet(s.name))}!{s.print_area}</definedName>"
        for i, s in enumerate(sheets)
        if s.print_area
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="{_MAIN}" xmlns:r="{_REL}">'
        '<bookViews><workbookView activeTab="0"/></bookViews>'
        f"<sheets>{listed}</sheets>"
        + (f"<definedNames>{defined}</definedNames>" if defined else "")
        # Every application recalculates on open: the file's own cached values are never trusted.
        + '<calcPr calcId="191029" fullCalcOnLoad="1"/></workbook>'
    )


def _workbook_rels(count: int) -> str:
    sheets = "".join(
        f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, count + 1)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{_PKG_REL}">{sheets}'
        f'<Relationship Id="rId{count + 1}" Type="{_REL}/styles" Target="styles.xml"/></Relationships>'
    )


def _styles() -> str:
    # fonts: 0 normal, 1 title, 2 note, 3 label, 4 link, 5 heading, 6 arrow
    fonts = (
        '<font><sz val="11"/><name val="Calibri"/></font>'
        '<font><b/><sz val="13"/><name val="Calibri"/></font>'
        '<font><i/><sz val="10"/><color rgb="FF555555"/><name val="Calibri"/></font>'
        '<font><b/><sz val="11"/><color rgb="FF333333"/><name val="Calibri"/></font>'
        '<font><u/><sz val="11"/><color rgb="FF0563C1"/><name val="Calibri"/></font>'
        '<font><b/><sz val="11"/><color rgb="FF1F4E79"/><name val="Calibri"/></font>'
        '<font><b/><sz val="12"/><color rgb="FF7F7F7F"/><name val="Calibri"/></font>'
    )
    # fills: 0 none, 1 gray125 (both required), 2 input yellow, 3 forward blue, 4 backward orange, 5 param
    fill_colors = ("FFF2CC", "DDEBF7", "FCE4D6", "E2EFDA")
    fills = '<fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>' + "".join(
        f'<fill><patternFill patternType="solid"><fgColor rgb="FF{c}"/><bgColor indexed="64"/></patternFill></fill>'
        for c in fill_colors
    )
    # (font, fill) for each entry of STYLES
    xfs = [(0, 0), (1, 0), (2, 0), (3, 0), (0, 2), (0, 3), (0, 4), (0, 5), (4, 0),
           (4, 2), (4, 3), (4, 4), (5, 0), (6, 0)]  # fmt: skip
    centred = {STYLES.index("arrow")}
    cell_xfs = "".join(
        f'<xf numFmtId="0" fontId="{font}" fillId="{fill}" borderId="0" xfId="0"'
        + (' applyFont="1"' if font else "")
        + (' applyFill="1"' if fill else "")
        + (' applyAlignment="1"><alignment horizontal="center"/></xf>' if i in centred else "/>")
        for i, (font, fill) in enumerate(xfs)
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet xmlns="{_MAIN}">'
        f'<fonts count="7">{fonts}</fonts><fills count="{2 + len(fill_colors)}">{fills}</fills>'
        '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
        '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
        f'<cellXfs count="{len(xfs)}">{cell_xfs}</cellXfs>'
        '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
        "</styleSheet>"
    )
