"""Vets a workbook someone sent before any engine or application sees it: a file that could hang,
exhaust memory, reach outside itself or run code is refused with one line naming what and where.

What is refused: a file that is not a sound zip (truncated, corrupt, CRC errors); a zip bomb (too
many parts, too many bytes declared, a part compressed beyond any real spreadsheet's ratio); XML
with a DOCTYPE (external entities, billion laughs) or not in UTF-8; macros (VBA, Excel 4 macro
sheets, ActiveX) and macro-enabled content types; links to other workbooks, data connections and
other relationships that point outside the file; formulas or defined names that reach outside
(external references such as ``[1]Sheet1!A1``, WEBSERVICE, INDIRECT, HYPERLINK, RTD, CALL, …);
a sheet with more cells than bnsheet will hand to an engine.

The file is only read, a bounded number of bytes, in chunks: memory stays small however large
the parts claim to be.
"""

from __future__ import annotations

import html
import posixpath
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from ..errors import WorkbookError
from ..limits import MAX_FILE_BYTES, MAX_SHEET_CELLS, MAX_WORKBOOK_CELLS
from .package import check_sizes, part_target

_CHUNK = 1 << 22
_MAX_CARRY = 1 << 20  # one element longer than this (between two end tags) is not a spreadsheet

# Functions that fetch, call or look up things outside the workbook, or build references from text.
OUTSIDE_FUNCTIONS = tuple(
    """
    WEBSERVICE FILTERXML HYPERLINK INDIRECT RTD CALL REGISTER REGISTER.ID DDE DDEAUTO EXEC
    IMPORTXML IMPORTDATA IMPORTHTML IMPORTRANGE IMPORTFEED IMAGE STOCKHISTORY INFO
    CUBEVALUE CUBEMEMBER CUBESET CUBEMEMBERPROPERTY CUBERANKEDMEMBER CUBESETCOUNT CUBEKPIMEMBER PY EVALUATE
    """.split()
)

_MACRO_PARTS = {
    "vbaproject.bin": "VBA macros",
    "vbaprojectsignature.bin": "VBA macros",
    "xl/macrosheets/": "Excel 4 macro sheets",
    "xl/activex/": "ActiveX controls",
    "xl/externallinks/": "links to other workbooks",
    "xl/connections.xml": "data connections",
    "xl/querytables/": "query tables that fetch data",
}
_EXTERNAL = re.compile(rb"\[\d+\]|\[[^\]\[<>]*\.xl\w*\]")  # [1]Sheet!A1, [book.xlsx]Sheet!A1
_OUTSIDE = re.compile(
    rb"(?i)(?<![\w.])(?:_xlfn\.|_xludf\.|_xlws\.)?("
    + b"|".join(re.escape(name.encode()) for name in OUTSIDE_FUNCTIONS)
    + rb")\s*\(|"
    + _EXTERNAL.pattern
)
_OUTSIDE_NAMES = frozenset(name.encode() for name in OUTSIDE_FUNCTIONS)
# In a chunk read backwards: a "(" and the run of name characters before it (reversed).
_CALLED_REVERSED = re.compile(rb"\([ \t\r\n]*([\w.]{1,64})")
_NAME_BEFORE = re.compile(rb"([A-Za-z_][\w.]*)\Z")
# An element that holds a formula, its name (with any prefix) as group 1.
_FORMULA_TAG = rb"<((?:[\w.-]+:)?(?:f|definedName|formula|formula1|formula2|calculatedColumnFormula))\b"
_FORMULA = re.compile(_FORMULA_TAG + rb"([^>]*)(?<!/)>(.*?)</\1>", re.S)
_CELL_OPEN = re.compile(rb"<(?:[\w.-]+:)?c[\s>/]")
_CELL_REF = re.compile(rb"""<(?:[\w.-]+:)?c\s[^>]*?\br\s*=\s*["']([A-Za-z]+\d+)["']""")
# A formula whose text holds a character reference (IND&#73;RECT) or is not one run of text up to
# its own end tag: only such formulas can hide a name from a search of the raw bytes. Looking for
# "&#" in the whole chunk instead sent every sheet openpyxl writes (it escapes "◀ graph" in the
# sheet's labels) down the slow path: half the time of vetting a small workbook.
_ESCAPED_FORMULA = re.compile(_FORMULA_TAG + rb"[^>]*(?<!/)>[^<]*(?:&#|<(?!/\1>))")
_STRING = re.compile(r'"(?:[^"]|"")*"')
_HIDDEN = re.compile(rb"<!--.*?-->|<\?.*?\?>|<!\[CDATA\[|\]\]>", re.S)  # what an XML parser drops from text
_ELEMENT = re.compile(rb"<(?:[\w.-]+:)?(Relationship|sheet)\b([^>]*)>")
_ATTR = re.compile(rb"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def vet(path: str | Path) -> None:
    """Refuse a workbook that is broken or hostile, with a WorkbookError naming what and where.

    Call it before anything else opens the file. It reads the file, never writes it.

    >>> from bnsheet import build
    >>> vet(build("output/doctest-vet.xlsx"))    # a sound workbook: nothing to say

    A workbook with macros raises ``WorkbookError: macros.xlsm: holds VBA macros
    (xl/vbaProject.bin); bnsheet never runs or follows them``.
    """
    _vet_package(Path(path), ".xlsx", lambda path, package: _Vetting(path, package).run())


def _vet_package(path: Path, kind: str, check: Callable[[Path, zipfile.ZipFile], None]) -> None:
    """Open ``path`` as a zip of at most MAX_FILE_BYTES and ``check`` it, every failure to read it
    a WorkbookError that names the file and calls it no ``kind`` workbook."""
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise WorkbookError(f"{path}: is a folder, not a workbook" if path.is_dir() else f"{path}: not a file")
        if size > MAX_FILE_BYTES:
            raise WorkbookError(f"{path}: {size >> 20} MB is larger than bnsheet reads ({MAX_FILE_BYTES >> 20} MB)")
        with zipfile.ZipFile(path) as package:
            check(path, package)
    except FileNotFoundError:
        raise WorkbookError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, NotImplementedError, EOFError, ValueError) as exc:
        raise WorkbookError(f"{path}: not an {kind} workbook ({_one_line(exc)})") from None
    except OSError as exc:
        raise WorkbookError(f"{path}: cannot read ({exc.strerror or _one_line(exc)})") from None


ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"
# Parts and content of an OpenDocument spreadsheet that run code or reach outside it.
_ODS_MACRO_PARTS = ("Basic/", "Scripts/", "Dialogs/")
_ODS_OUTSIDE = re.compile(
    rb"(?i)<table:(?:table-source|cell-range-source|dde-link)\b|<office:dde-source\b|<office:event-listeners\b|"
    rb"<script:event-listener\b|" + _OUTSIDE.pattern.removeprefix(b"(?i)")
)


def vet_ods(path: str | Path) -> None:
    """Refuse an OpenDocument spreadsheet (.ods) that is broken or hostile, before LibreOffice opens
    it to convert it: a file too large, not a sound zip, not a spreadsheet by its mimetype, parts
    declared beyond the limits, macros (Basic, scripts, event listeners), links to other files or
    DDE, formulas that reach outside (WEBSERVICE, …). The converted .xlsx is vetted again with
    :func:`vet`."""
    _vet_package(Path(path), ".ods", _vet_ods_parts)


def _vet_ods_parts(path: Path, package: zipfile.ZipFile) -> None:
    infos = package.infolist()
    check_sizes(path, infos)
    names = {info.filename for info in infos}
    if "mimetype" not in names or package.read("mimetype")[:100].strip() != ODS_MIMETYPE:
        raise WorkbookError(f"{path}: not an OpenDocument spreadsheet (its mimetype is not {ODS_MIMETYPE.decode()})")
    for name in sorted(names):
        if name.startswith(_ODS_MACRO_PARTS):
            raise WorkbookError(f"{path}: holds macros ({name}); bnsheet never runs or follows them")
    for name in ("content.xml", "styles.xml", "settings.xml"):
        found = _ODS_OUTSIDE.search(package.read(name)) if name in names else None
        if found:
            what = found.group(0).decode("utf-8", "replace").lstrip("<")
            raise WorkbookError(f"{path}: {name} reaches outside the workbook ({what}); refused")


class _Vetting:
    """One pass over a package: its part names first, then every part's bytes, in chunks."""

    def __init__(self, path: Path, package: zipfile.ZipFile) -> None:
        self.path = path
        self.package = package
        self.infos = package.infolist()
        self.sheet_names: dict[str, str] = {}  # part → sheet name, for messages
        self.cells = 0  # in all sheets read so far

    def run(self) -> None:
        check_sizes(self.path, self.infos)
        names = {info.filename for info in self.infos}
        if len(names) < len(self.infos):  # readers disagree on which copy counts
            raise WorkbookError(f"{self.path}: the zip holds two parts of the same name; refused")
        if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
            raise WorkbookError(f"{self.path}: not an .xlsx workbook (a zip, but no xl/workbook.xml)")
        for name in sorted(names):
            what = next((w for prefix, w in _MACRO_PARTS.items() if _part_is(name, prefix)), None)
            if what is not None:
                raise WorkbookError(f"{self.path}: holds {what} ({name}); bnsheet never runs or follows them")
        self._read_sheet_names()
        first = ["[Content_Types].xml", "xl/_rels/workbook.xml.rels", "xl/workbook.xml"]
        for info in sorted(self.infos, key=lambda i: (i.filename not in first, i.filename)):
            if not info.is_dir():
                self._scan(info)

    def _read_sheet_names(self) -> None:
        """Which part holds which sheet, read with the same bounded scanner (for messages only)."""
        targets: dict[bytes, str] = {}
        sheets: list[tuple[str, bytes]] = []
        for part in ("xl/_rels/workbook.xml.rels", "xl/workbook.xml"):
            if part not in self.package.NameToInfo:
                continue
            for chunk in self._chunks(self.package.getinfo(part)):
                for tag, attributes in _ELEMENT.findall(chunk):
                    attrs = {key.split(b":")[-1]: a or b for key, a, b in _ATTR.findall(attributes)}
                    if tag == b"Relationship":
                        targets[attrs.get(b"Id", b"")] = part_target(_text(attrs.get(b"Target", b"")))
                    else:
                        sheets.append((_text(attrs.get(b"name", b"")), attrs.get(b"id", b"")))
        self.sheet_names = {targets[rid]: name for name, rid in sheets if rid in targets}

    def _scan(self, info: zipfile.ZipInfo) -> None:
        name = info.filename
        lower = name.lower()
        is_xml = lower.endswith((".xml", ".rels", ".vml"))
        cells = 0
        for chunk in self._chunks(info):
            if not is_xml:
                continue
            if b"\x00" in chunk or chunk.startswith((b"\xff\xfe", b"\xfe\xff")):
                raise WorkbookError(f"{self.path}: {name} is not UTF-8 XML; bnsheet reads only UTF-8")
            if b"<!DOCTYPE" in chunk or b"<!ENTITY" in chunk:
                raise WorkbookError(
                    f"{self.path}: {name} declares a DOCTYPE or entities (external entities or entity "
                    "expansion); refused"
                )
            if lower == "[content_types].xml" and re.search(rb"(?i)macroEnabled|vbaProject", chunk):
                raise WorkbookError(f"{self.path}: a macro-enabled workbook (.xlsm); bnsheet never runs macros")
            if lower.endswith(".rels"):
                self._check_relationships(name, chunk)
            counted = _count_cells(chunk) if lower.startswith("xl/worksheets/") else 0
            cells += counted
            self.cells += counted
            if self.cells > MAX_WORKBOOK_CELLS:
                raise WorkbookError(
                    f"{self.path}: more than {MAX_WORKBOOK_CELLS} cells in all; "
                    "bnsheet does not recalculate workbooks that large"
                )
            if cells > MAX_SHEET_CELLS:
                raise WorkbookError(
                    f"{self.path}: sheet {self._where(name)} has more than {MAX_SHEET_CELLS} cells; "
                    "bnsheet does not recalculate sheets that large"
                )
            self._check_formulas(name, chunk)

    def _check_formulas(self, name: str, chunk: bytes) -> None:
        """Formulas and defined names that reach outside. A fast search of the whole chunk first;
        only where it (or an escape that could hide a name) hits, each formula is read exactly."""
        hiding = b"CDATA" in chunk or b"<!--" in chunk or chunk.find(b"<?", 5) >= 0
        hiding = hiding or (b"&#" in chunk and _ESCAPED_FORMULA.search(chunk) is not None)
        if not (hiding or _EXTERNAL.search(chunk) or _calls_outside(chunk)):
            return
        for match in _FORMULA.finditer(chunk):
            tag, attributes, body = match.groups()
            text = _STRING.sub('""', _text(_HIDDEN.sub(b"", body)))
            found = _OUTSIDE.search(text.encode())
            if not found:
                continue
            if tag.endswith(b"definedName"):
                label = _ATTR.search(attributes)
                where = f"defined name {_text(label.group(2) or label.group(3)) if label else '?'}"
            else:
                where = self._where(name, chunk, match.start())
            reach = found.group(1)
            what = (
                f"calls {reach.decode().upper()}, which reaches outside the workbook"
                if reach
                else f"refers outside the workbook ({found.group(0).decode(errors='replace')})"
            )
            raise WorkbookError(f"{self.path}: a formula {what}; refused ({where})")

    def _check_relationships(self, name: str, chunk: bytes) -> None:
        for tag, attributes in _ELEMENT.findall(chunk):
            if tag != b"Relationship":
                continue
            attrs = {key: a or b for key, a, b in _ATTR.findall(attributes)}
            external = attrs.get(b"TargetMode", b"").lower() == b"external"
            if external and not attrs.get(b"Type", b"").endswith(b"/hyperlink"):
                target = _text(attrs.get(b"Target", b""))
                raise WorkbookError(f"{self.path}: {name} points outside the file ({target}); refused")

    def _chunks(self, info: zipfile.ZipInfo) -> Iterator[bytes]:
        """The part's bytes in pieces that end at an end tag, so no element is cut in two.

        zipfile stops at the declared size and checks the CRC, so a part that lies about its
        size, or a truncated file, is an error here rather than a flood later.
        """
        with self.package.open(info) as stream:
            yield from _split_at_end_tags(stream, info.filename, self.path)

    def _where(self, part: str, chunk: bytes = b"", at: int = 0) -> str:
        """'sheet'!CELL for a position in a sheet part, or the part's name."""
        sheet = self.sheet_names.get(part)
        if sheet is None:
            return part
        cells = list(_CELL_REF.finditer(chunk, 0, at + 1)) if chunk else []
        quoted = "'" + sheet.replace("'", "''") + "'"
        return f"{quoted}!{cells[-1].group(1).decode()}" if cells else quoted


def _split_at_end_tags(stream: IO[bytes], part: str, path: Path) -> Iterator[bytes]:
    carry = b""
    while data := stream.read(_CHUNK):
        buffer = carry + data
        start = buffer.rfind(b"</")
        cut = buffer.find(b">", start) if start >= 0 else -1
        if start >= 0 and cut < 0:  # the last end tag is itself cut: take the one before it
            start = buffer.rfind(b"</", 0, start)
            cut = buffer.find(b">", start) if start >= 0 else -1
        if cut < 0:
            if len(buffer) > _MAX_CARRY:
                raise WorkbookError(f"{path}: {part} has an element longer than {_MAX_CARRY >> 20} MB; refused")
            carry = buffer
            continue
        yield buffer[: cut + 1]
        carry = buffer[cut + 1 :]
    if carry:
        yield carry


def _calls_outside(chunk: bytes) -> bool:
    """Whether any "(" in the chunk follows the name of a function that reaches outside.

    The chunk is read backwards, so that one search finds every "(" with the name before it
    (a formula may have a space between the two, as Excel reads "INDIRECT ("); formulas call few
    distinct names, so each is looked at once.
    """
    for run in set(_CALLED_REVERSED.findall(chunk[::-1])):
        name = _NAME_BEFORE.search(run[::-1])
        if name:
            called = name.group(1).upper()
            while called.startswith((b"_XLFN.", b"_XLUDF.", b"_XLWS.")):
                called = called.split(b".", 1)[1]
            if called in _OUTSIDE_NAMES:
                return True
    return False


def _count_cells(chunk: bytes) -> int:
    if b":c " in chunk or b":c>" in chunk:  # a namespace prefix: rare, so the slower regex
        return len(_CELL_OPEN.findall(chunk))
    return chunk.count(b"<c ") + chunk.count(b"<c>")


def _part_is(name: str, prefix: str) -> bool:
    lower = name.lower()
    return lower.startswith(prefix) if "/" in prefix else posixpath.basename(lower) == prefix


def _text(raw: bytes) -> str:
    return html.unescape(raw.decode("utf-8", errors="replace"))


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
