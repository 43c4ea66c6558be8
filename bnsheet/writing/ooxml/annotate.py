"""Edits of parts of a workbook someone else saved, to hand it back marked: a fill added to the
styles, cells restyled with it, cell comments (the comments part and the legacy VML drawing that
Excel and LibreOffice draw them from), and a sheet put first.

Each function takes a part's text and returns the edited text; what it does not understand it
leaves as it was. The edits are made on the text, not through an XML tree, so that everything else
in the part — prefixes Excel declares and ``mc:Ignorable`` names, extensions — stays byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from ...a1 import cell, col_letter, col_number, split_address
from .namespaces import DECLARATION, MAIN, PKG_REL, REL

OFFICE = "application/vnd.openxmlformats-officedocument"
COMMENTS_TYPE = f"{OFFICE}.spreadsheetml.comments+xml"
WORKSHEET_TYPE = f"{OFFICE}.spreadsheetml.worksheet+xml"
VML_TYPE = f"{OFFICE}.vmlDrawing"

_XF = re.compile(r"<xf\b[^>]*?(?:/>|>.*?</xf>)", re.S)
_ROW = re.compile(r'<row\b[^>]*?\br="(\d+)"[^>]*?(?:/>|>.*?</row>)', re.S)
_ROW_OPEN = re.compile(r"<row\b[^>]*?(?=/?>)", re.S)
_CELL = re.compile(r'<c\b[^>]*?\br="([A-Za-z]{1,3}[0-9]+)"[^>]*?(?:/>|>.*?</c>)', re.S)
_CELL_OPEN = re.compile(r"<c\b[^>]*?(?=/?>)", re.S)
_STYLE_ATTRIBUTE = re.compile(r'\ss="(\d+)"')
_SPANS = re.compile(r'\sspans="[^"]*"')
# The elements a worksheet may hold after <legacyDrawing>, in the schema's order (CT_Worksheet).
_AFTER_LEGACY = ("legacyDrawingHF", "drawingHF", "picture", "oleObjects", "controls", "webPublishItems",
                 "tableParts", "extLst")  # fmt: skip
# ... and after <hyperlinks>, for the summary sheet written here.
_COMMENT = re.compile(r'<comment\b[^>]*\bref="([A-Za-z]{1,3}[0-9]+)"[^>]*?(?:/>|>.*?</comment>)', re.S)
_TEXT = re.compile(r"<t\b[^>]*?(?:/>|>(.*?)</t>)", re.S)


class Fills:
    """styles.xml with a solid fill per ``colours`` (ARGB such as ``FFFFC7CE``) and, as they are
    asked for, cell formats like a cell's own but filled: ``fills(xf, colour)`` is the index of
    the format like ``xf`` filled with ``colour``; :meth:`part` the styles part once every one has
    been asked for."""

    def __init__(self, styles: str, colours: Sequence[str]) -> None:
        fills = re.search(r"<fills\b[^>]*?(?:/>|>.*?</fills>)", styles, re.S)
        if fills is None:  # no fills at all: the two every workbook reserves come first
            given = '<fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
            at = _before(styles, ("borders", "cellStyleXfs", "cellXfs"), "styleSheet")
            styles = styles[:at] + f"<fills>{given}</fills>" + styles[at:]
            fills = re.search(r"<fills\b[^>]*?>.*?</fills>", styles, re.S)
            assert fills is not None
        block = fills.group()[:-2] + "></fills>" if fills.group().endswith("/>") else fills.group()
        present = len(re.findall(r"<fill\b(?!s)", block))
        added = "".join(
            f'<fill><patternFill patternType="solid"><fgColor rgb="{c}"/><bgColor indexed="64"/></patternFill></fill>'
            for c in colours
        )
        block = _counted(block.replace("</fills>", added + "</fills>"), "fills", present + len(colours))
        self.styles = styles[: fills.start()] + block + styles[fills.end() :]
        self.fill_of = {c: present + k for k, c in enumerate(colours)}
        self.formats = _cell_formats(self.styles)
        self.made: dict[tuple[int, str], int] = {}
        self.extra: list[str] = []

    def __call__(self, xf: int, colour: str) -> int:
        if (xf, colour) not in self.made:
            formats = self.formats
            base = formats[xf] if 0 <= xf < len(formats) else (formats[0] if formats else "<xf/>")
            self.made[(xf, colour)] = max(len(formats), 1) + len(self.extra)
            self.extra.append(_with_fill(base, self.fill_of[colour]))
        return self.made[(xf, colour)]

    def part(self) -> str:
        """styles.xml with the cell formats handed out appended to ``cellXfs``."""
        styles, extra = self.styles, self.extra
        if not extra:
            return styles
        xfs = re.search(r"<cellXfs\b[^>]*?(?:/>|>.*?</cellXfs>)", styles, re.S)
        if xfs is None:  # no formats at all: style 0 is the default one
            at = _before(styles, ("cellStyles", "dxfs", "tableStyles", "colors", "extLst"), "styleSheet")
            block = _counted(f"<cellXfs><xf/>{''.join(extra)}</cellXfs>", "cellXfs", len(extra) + 1)
            return styles[:at] + block + styles[at:]
        block = xfs.group()[:-2] + "></cellXfs>" if xfs.group().endswith("/>") else xfs.group()
        present = len(_XF.findall(block))
        block = _counted(block.replace("</cellXfs>", "".join(extra) + "</cellXfs>"), "cellXfs", present + len(extra))
        return styles[: xfs.start()] + block + styles[xfs.end() :]


def _cell_formats(styles: str) -> list[str]:
    xfs = re.search(r"<cellXfs\b[^>]*?>(.*?)</cellXfs>", styles, re.S)
    return _XF.findall(xfs.group(1)) if xfs else []


def _with_fill(xf: str, fill: int) -> str:
    opening = re.match(r"<xf\b[^>]*?(?=/?>)", xf, re.S)
    assert opening is not None
    head = re.sub(r'\s(?:fillId|applyFill)="[^"]*"', "", opening.group())
    return f'{head} fillId="{fill}" applyFill="1"' + xf[opening.end() :]


def _counted(block: str, tag: str, count: int) -> str:
    """The element's opening tag with ``count="N"``."""
    opening = re.match(rf"<{tag}\b[^>]*", block)
    assert opening is not None
    head = re.sub(r'\scount="[^"]*"', "", opening.group())
    return f'{head} count="{count}"' + block[opening.end() :]


def _before(xml: str, followers: Sequence[str], root: str) -> int:
    """Where an element goes: before the first of ``followers`` present, else before ``</root>``."""
    found = [m.start() for tag in followers if (m := re.search(rf"<{tag}\b", xml))]
    return min(found) if found else xml.rindex(f"</{root}>")


def restyle(sheet: str, cells: Mapping[str, Callable[[int], int]]) -> str:
    """The worksheet with each cell of ``cells`` (an address such as ``C8``) given the style
    ``cells[address](its style now)``; cells and rows that are missing are made (empty)."""
    wanted: dict[int, dict[int, Callable[[int], int]]] = {}
    for address, style in cells.items():
        r, c = split_address(address)
        wanted.setdefault(r, {})[c] = style
    sheet = re.sub(r"<sheetData\s*/>", "<sheetData></sheetData>", sheet, count=1)
    if "</sheetData>" not in sheet:
        return sheet
    rows = {int(m.group(1)): m for m in _ROW.finditer(sheet)}
    pieces: list[str] = []
    last = 0
    for r in sorted(wanted):
        match = rows.get(r)
        if match is None:
            after = next((m for n, m in sorted(rows.items()) if n > r), None)
            at = after.start() if after is not None else sheet.index("</sheetData>")
            if at < last:
                continue  # rows out of order: this one is left unmarked
            made = "".join(f'<c r="{cell(r, c)}" s="{style(0)}"/>' for c, style in sorted(wanted[r].items()))
            pieces += [sheet[last:at], f'<row r="{r}">{made}</row>']
            last = at
            continue
        text = match.group()
        present = {split_address(m.group(1))[1]: m.group() for m in _CELL.finditer(text)}
        for c, style in wanted[r].items():
            present[c] = _restyled(present.get(c, f'<c r="{cell(r, c)}"/>'), style)
        opening = _ROW_OPEN.match(text)
        assert opening is not None  # _ROW matched a <row
        head = _SPANS.sub("", opening.group())  # the spans hint may no longer cover the cells
        pieces += [sheet[last : match.start()], head + ">" + "".join(t for _, t in sorted(present.items())) + "</row>"]
        last = match.end()
    pieces.append(sheet[last:])
    return "".join(pieces)


def _restyled(element: str, style: Callable[[int], int]) -> str:
    opening = _CELL_OPEN.match(element)
    assert opening is not None
    head = opening.group()
    now = _STYLE_ATTRIBUTE.search(head)
    head = _STYLE_ATTRIBUTE.sub("", head) + f' s="{style(int(now.group(1)) if now else 0)}"'
    return head + element[opening.end() :]


def unselect(sheet: str) -> str:
    """The worksheet with no tab selected (the sheet put first is the one that opens)."""
    return re.sub(r'(<sheetView\b[^>]*?)\stabSelected="(?:1|true)"', r"\1", sheet)


def with_legacy_drawing(sheet: str, relationship: str) -> str:
    """The worksheet pointing at its VML drawing (relationship ``relationship``)."""
    declared = re.match(r"(?:<\?xml[^>]*>\s*)?<worksheet\b[^>]*", sheet)
    if declared and f'xmlns:r="{REL}"' not in declared.group():
        sheet = sheet[: declared.end()] + f' xmlns:r="{REL}"' + sheet[declared.end() :]
    at = _before(sheet, _AFTER_LEGACY, "worksheet")
    return sheet[:at] + f'<legacyDrawing r:id="{relationship}"/>' + sheet[at:]


@dataclass
class Note:
    """A comment on one cell; ``shown``: drawn open, not only as a red corner."""

    address: str
    text: str
    shown: bool = False
    beside: int = 0  # the column (1-based) the box starts in; 0: the one right of the cell


def comments(notes: Sequence[Note], existing: str | None = None, author: str = "bnsheet") -> str:
    """The comments part of a sheet: ``notes``, added to the ``existing`` part if there is one (a
    cell that has a comment already gets the note above its old text)."""
    if existing is None:
        existing = f'{DECLARATION}<comments xmlns="{MAIN}"><authors></authors><commentList></commentList></comments>'
    existing = existing.replace("<authors/>", "<authors></authors>").replace(
        "<commentList/>", "<commentList></commentList>"
    )
    authors = re.search(r"<authors>(.*?)</authors>", existing, re.S)
    author_id = len(re.findall(r"<author\b", authors.group(1))) if authors else 0
    existing = existing.replace("</authors>", f"<author>{escape(author)}</author></authors>", 1)
    old = {m.group(1): m for m in _COMMENT.finditer(existing)}
    for note in notes:
        text = note.text
        if note.address in old:  # one comment a cell: the note goes first, the old text after it
            before = "".join(t.group(1) or "" for t in _TEXT.finditer(old[note.address].group()))
            text = f"{text}\n\n{_unescaped(before)}"
            existing = existing.replace(old[note.address].group(), "", 1)
        body = f'<text><t xml:space="preserve">{escape(text)}</t></text>'
        existing = existing.replace(
            "</commentList>", f'<comment ref="{note.address}" authorId="{author_id}">{body}</comment></commentList>', 1
        )
    return existing


def _unescaped(text: str) -> str:
    return (
        text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&apos;", "'")
        .replace("&amp;", "&")
    )


_VML_OPEN = (
    '<xml xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
    'xmlns:x="urn:schemas-microsoft-com:office:excel">'
)
_NOTE_SHAPE_TYPE = (
    '<v:shapetype id="_x0000_t202" coordsize="21600,21600" o:spt="202" path="m,l,21600r21600,l21600,xe">'
    '<v:stroke joinstyle="miter"/><v:path gradientshapeok="t" o:connecttype="rect"/></v:shapetype>'
)


def vml_drawing(notes: Sequence[Note], block: int, existing: str | None = None) -> str:
    """The legacy drawing that holds the comments' boxes: one note shape per comment, numbered
    from ``1024 * block`` (each drawing of a workbook takes a block of 1024 of its own), added to
    the ``existing`` drawing if the sheet has one."""
    if existing is None:
        existing = (
            f'{_VML_OPEN}<o:shapelayout v:ext="edit"><o:idmap v:ext="edit" data="{block}"/></o:shapelayout></xml>'
        )
    if 'id="_x0000_t202"' not in existing:
        existing = _insert_before_last(existing, "</xml>", _NOTE_SHAPE_TYPE)
    # numbered on from the drawing's own shapes (within the block its idmap names), else from the block
    old = [int(n) for n in re.findall(r'id="_x0000_s(\d+)"', existing)]
    first = max(old, default=1024 * block) + 1
    shapes = "".join(_note_shape(note, first + k) for k, note in enumerate(notes))
    return _insert_before_last(existing, "</xml>", shapes)


def _insert_before_last(text: str, closing: str, inserted: str) -> str:
    at = text.rindex(closing)
    return text[:at] + inserted + text[at:]


def _note_shape(note: Note, number: int) -> str:
    row, col = split_address(note.address)
    shown = "visible" if note.shown else "hidden"
    # the box: right of the cell (or from the column asked for), a row above it, four columns wide
    # and seven rows tall; the anchor counts columns and rows from 0
    left = (note.beside or col + 1) - 1
    anchor = f"{left}, 15, {max(row - 2, 0)}, 10, {left + 4}, 15, {row + 5}, 4"
    return (
        f'<v:shape id="_x0000_s{number}" type="#_x0000_t202" style="position:absolute;margin-left:59.25pt;'
        f'margin-top:1.5pt;width:240pt;height:100pt;z-index:{number};visibility:{shown}" fillcolor="#ffffe1" '
        'o:insetmode="auto"><v:fill color2="#ffffe1"/><v:shadow on="t" color="black" obscured="t"/>'
        '<v:path o:connecttype="none"/><v:textbox style="mso-direction-alt:auto"><div style="text-align:left"></div>'
        '</v:textbox><x:ClientData ObjectType="Note"><x:MoveWithCells/><x:SizeWithCells/>'
        f"<x:Anchor>{anchor}</x:Anchor><x:AutoFill>False</x:AutoFill><x:Row>{row - 1}</x:Row>"
        f"<x:Column>{col - 1}</x:Column>{'<x:Visible/>' if note.shown else ''}</x:ClientData></v:shape>"
    )


def relationships(existing: str | None, added: Sequence[tuple[str, str]]) -> tuple[str, list[str]]:
    """A relationships part with (type, target) pairs added (``type`` the last word of its URI,
    or a whole URI), and the ids they were given (ids already there are kept)."""
    if existing is None:
        existing = f'{DECLARATION}<Relationships xmlns="{PKG_REL}"></Relationships>'
    existing = re.sub(r"<Relationships\b([^>]*)/>", r"<Relationships\1></Relationships>", existing)
    taken = set(re.findall(r'\bId="([^"]+)"', existing))
    ids: list[str] = []
    k = 1
    for kind, target in added:
        while f"rId{k}" in taken:
            k += 1
        taken.add(f"rId{k}")
        ids.append(f"rId{k}")
        uri = kind if "/" in kind else f"{REL}/{kind}"
        existing = _insert_before_last(
            existing, "</Relationships>", f'<Relationship Id="rId{k}" Type="{uri}" Target={quoteattr(target)}/>'
        )
    return existing, ids


def content_types(existing: str, overrides: Mapping[str, str], defaults: Mapping[str, str]) -> str:
    """[Content_Types].xml with an Override per part (``/xl/comments1.xml``: type) and a Default
    per extension (``vml``: type) that it does not name yet."""
    for extension, kind in defaults.items():
        if not re.search(rf'<Default\b[^>]*Extension="{re.escape(extension)}"', existing, re.I):
            existing = _insert_before_last(
                existing, "</Types>", f'<Default Extension="{extension}" ContentType="{kind}"/>'
            )
    for part, kind in overrides.items():
        existing = _insert_before_last(existing, "</Types>", f'<Override PartName="{part}" ContentType="{kind}"/>')
    return existing


def sheet_first(workbook: str, name: str, relationship: str) -> str:
    """workbook.xml with a sheet ``name`` (relationship ``relationship``) put first and opening:
    sheet-scoped defined names move up one place, as every sheet after it does."""
    declared = re.match(r"(?:<\?xml[^>]*>\s*)?<workbook\b[^>]*", workbook)
    if declared and f'xmlns:r="{REL}"' not in declared.group():
        workbook = workbook[: declared.end()] + f' xmlns:r="{REL}"' + workbook[declared.end() :]
    ids = [int(n) for n in re.findall(r'<sheet\b[^>]*\bsheetId="(\d+)"', workbook)]
    entry = f'<sheet name={quoteattr(name)} sheetId="{max(ids, default=0) + 1}" r:id="{relationship}"/>'
    workbook = re.sub(r"<sheets\b[^>]*>", lambda m: m.group() + entry, workbook, count=1)
    workbook = re.sub(
        r'(<definedName\b[^>]*\blocalSheetId=")(\d+)"', lambda m: f'{m.group(1)}{int(m.group(2)) + 1}"', workbook
    )

    def opening(view: re.Match[str]) -> str:
        head = re.sub(r'\s(?:activeTab|firstSheet)="[^"]*"', "", view.group(1))
        return f'{head} activeTab="0" firstSheet="0"{view.group(2)}'

    return re.sub(r"(<workbookView\b[^>]*?)(\s*/?>)", opening, workbook)


class Strings:
    """A shared strings part with texts appended: ``strings(text)`` is a text's index."""

    def __init__(self, existing: str) -> None:
        self.existing = re.sub(r"<sst\b([^>]*)/>", r"<sst\1></sst>", existing)
        self.present = len(re.findall(r"<si\b", self.existing))
        self.added: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        return self.added.setdefault(text, self.present + len(self.added))

    def part(self) -> str:
        """The part with the texts asked for appended (counts as Excel keeps them: one per use
        is not tracked, so ``count`` is at least ``uniqueCount``)."""
        items = "".join(f'<si><t xml:space="preserve">{escape(text)}</t></si>' for text in self.added)
        text = _insert_before_last(self.existing, "</sst>", items)
        total = self.present + len(self.added)
        opening = re.search(r"<sst\b[^>]*", text)
        assert opening is not None
        head = opening.group()
        count = re.search(r'\scount="(\d+)"', head)
        head = re.sub(r'\s(?:count|uniqueCount)="[^"]*"', "", head)
        used = max(int(count.group(1)) + len(self.added), total) if count else total
        return text[: opening.start()] + f'{head} count="{used}" uniqueCount="{total}"' + text[opening.end() :]


def widen_print_area(workbook: str, sheet: int, columns: int, rows: int) -> str:
    """workbook.xml with the print area of the sheet at place ``sheet`` (0-based) running
    ``columns`` further right and ``rows`` further down, so that a comment box beside a block
    prints with it."""

    def wider(m: re.Match[str]) -> str:
        def moved(corner: re.Match[str]) -> str:
            col, row = col_letter(col_number(corner.group(2)) + columns), int(corner.group(4)) + rows
            return f"{corner.group(1)}{col}{corner.group(3)}{row}"

        return m.group(1) + re.sub(r"(:\$?)([A-Z]{1,3})(\$?)(\d+)", moved, m.group(2)) + m.group(3)

    opening = rf'<definedName\b(?=[^>]*\bname="_xlnm\.Print_Area")(?=[^>]*\blocalSheetId="{sheet}")[^>]*>'
    pattern = rf"({opening})(.*?)(</definedName>)"
    return re.sub(pattern, wider, workbook)


def summary_sheet(rows: Sequence[Sequence[tuple[str, int]]], widths: Sequence[float], links: Mapping[str, str],
                  strings: Strings | None = None) -> str:  # fmt: skip
    """A worksheet of text: ``rows`` of (text, style) from A1 down (an empty text leaves the
    cell out), column widths, and ``links`` (cell: where it leads, such as ``'dxhat'!C7``); the
    texts go into ``strings`` where the workbook has a shared strings part, else inline."""

    def text_cell(r: int, c: int, text: str, style: int) -> str:
        if strings is not None:
            return f'<c r="{cell(r, c)}" s="{style}" t="s"><v>{strings(text)}</v></c>'
        return f'<c r="{cell(r, c)}" s="{style}" t="inlineStr"><is><t xml:space="preserve">{escape(text)}</t></is></c>'

    cols = "".join(f'<col min="{k}" max="{k}" width="{w}" customWidth="1"/>' for k, w in enumerate(widths, 1))
    body = []
    for r, row in enumerate(rows, start=1):
        cells = "".join(text_cell(r, c, text, style) for c, (text, style) in enumerate(row, start=1) if text)
        body.append(f'<row r="{r}">{cells}</row>')
    hyperlinks = "".join(f"<hyperlink ref={quoteattr(a)} location={quoteattr(t)}/>" for a, t in links.items())
    return (
        f'{DECLARATION}<worksheet xmlns="{MAIN}" xmlns:r="{REL}"><sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>'
        '<sheetViews><sheetView workbookViewId="0" '
        f'tabSelected="1"/></sheetViews><sheetFormatPr defaultRowHeight="15"/><cols>{cols}</cols>'
        f"<sheetData>{''.join(body)}</sheetData>"
        + (f"<hyperlinks>{hyperlinks}</hyperlinks>" if hyperlinks else "")
        + '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
        '<pageSetup orientation="landscape" fitToWidth="1" fitToHeight="0"/></worksheet>'
    )
