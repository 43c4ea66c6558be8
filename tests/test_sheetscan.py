"""The fast sheet-XML reader against the hardened parser: the same cells, or it steps aside."""

from __future__ import annotations

import random
import zipfile
from pathlib import Path

import pytest

import bnsheet
from bnsheet.a1 import filled, from_r1c1
from bnsheet.errors import WorkbookError
from bnsheet.reading import sheetscan
from bnsheet.reading.xlsx import XlsxFile

HEAD = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac"><sheetData>'
)
TAIL = "</sheetData></worksheet>"

PLAIN = [  # sheetData contents that the fast reader takes
    '<row r="1"><c r="A1"><v>1.5</v></c><c r="B1"><f>A1*2</f></c></row>',
    '<row r="2" spans="1:3" x14ac:dyDescent="0.25"><c r="A2" s="3" t="inlineStr"><is><t xml:space="preserve">'
    "sample 1</t></is></c><c r=\"B2\" s=\"5\"><f>'x'!C7-'mean'!C$7</f><v>0.25</v></c></row>",
    '<row r="3"><c r="A3" t="e"><f>1/0</f><v>#DIV/0!</v></c><c r="B3" t="b"><v>1</v></c><c r="C3"/></row>',
    '<row r="4"><c r="A4"><f>"a&amp;b&lt;c&gt;"&amp;"&#65;&#x42;"</f><v></v></c></row><row r="5"/>',
    '<row r="6"><c r="A6" t="str"><f aca="false">T("x")</f><v>x</v></c><c r="B6"><f>A6</f></c></row>',
    '<row r="7"><c r="A7" s="3" t="s"><v>0</v></c><c r="B7" t="s"><v>1</v></c></row>',  # the book's shared strings
    "",
]

UNUSUAL = [  # sheetData contents it leaves to the hardened parser
    '<row r="1"><c r="A1"><f t="shared" ref="A1:A2" si="0">B1</f></c><c r="A2"><f t="shared" si="0"/></c></row>',
    '<row r="1"><c r="A1"><f t="array" ref="A1:A2">B1:B2</f></c></row>',
    '<row r="1">\n  <c r="A1"><v>1</v></c>\n</row>',
    '<row r="1"><!-- a note --><c r="A1"><v>1</v></c></row>',
    '<row r="1"><c r="A1" t="inlineStr"><is><r><t>rich</t></r></is></c></row>',
    '<row r="1"><c r="A1"><f>A2&nbsp;</f></c></row>',
    '<row r="1"><c r="A1"><f><![CDATA[A2]]></f></c></row>',
    '<row r="1"><c s="1" r="A1"><v>1</v></c></row>',
    '<row r="1"><c r="a1"><v>1</v></c></row>',
    '<row r="1"><row r="2"></row></row>',
    '<row r="1" x15:dyDescent="0.25"><c r="A1"><v>1</v></c></row>',  # an undeclared prefix
    '<row r="1"><c r="A1"><f>A2\x01</f></c></row>',  # a control character XML does not allow
    '<row r="1"><c r="A1"><f>A2\r+1</f></c></row>',  # a parser turns CR into LF
    '<row r="1"><c r="A1"><f> =A2 </f></c></row>',  # the reader trims a formula's text
    '<row r="1"><c r="A1"><v>\ufffe</v></c></row>',
]


def _book(tmp_path: Path, sheet_data: str, head: str = HEAD, tail: str = TAIL) -> Path:
    """A one-sheet workbook whose sheet XML is exactly ``head + sheet_data + tail``."""
    source = bnsheet.build(tmp_path / "base.xlsx", n=2, d=1)
    with XlsxFile(source) as book:
        part = book.sheet_part("x")
    target = tmp_path / "book.xlsx"
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == part:
                data = (head + sheet_data + tail).encode()
            zout.writestr(info, data)
    return target


def _cells(path: Path, fast: bool, monkeypatch: pytest.MonkeyPatch) -> dict[tuple[int, int], tuple[object, ...]]:
    with monkeypatch.context() as patch:
        if not fast:
            patch.setattr(sheetscan, "scan", lambda data: None)
        with XlsxFile(path) as book:
            return {key: (c.formula, c.value, c.r1c1) for key, c in book.cells("x").items()}


@pytest.mark.parametrize("sheet_data", PLAIN)
def test_plain_sheets_read_the_same_as_with_the_parser(tmp_path, monkeypatch, sheet_data):
    path = _book(tmp_path, sheet_data)
    assert sheetscan.scan((HEAD + sheet_data + TAIL).encode()) is not None
    assert _cells(path, True, monkeypatch) == _cells(path, False, monkeypatch)


def test_what_the_plain_reader_finds(tmp_path, monkeypatch):
    cells = _cells(_book(tmp_path, "".join(PLAIN)), True, monkeypatch)
    assert cells[(1, 1)] == (None, 1.5, None)
    assert cells[(2, 2)] == ("='x'!C7-'mean'!C$7", 0.25, "='x'!R[5]C[1]-'mean'!R7C[1]")
    assert cells[(2, 1)][1] == "sample 1" and cells[(3, 2)][1] is True and cells[(3, 3)] == (None, None, None)
    assert cells[(3, 1)][1] == "#DIV/0!"
    assert cells[(4, 1)][0] == '="a&b<c>"&"AB"'
    assert cells[(6, 2)][0] == "=A6"


@pytest.mark.parametrize("sheet_data", UNUSUAL)
def test_unusual_sheets_are_left_to_the_parser(tmp_path, monkeypatch, sheet_data):
    assert sheetscan.scan((HEAD + sheet_data + TAIL).encode()) is None


def test_shared_formulas_still_read_through_the_parser(tmp_path, monkeypatch):
    cells = _cells(_book(tmp_path, UNUSUAL[0]), True, monkeypatch)
    assert cells[(2, 1)][0] == "=B2"


@pytest.mark.parametrize(
    "head",
    [
        HEAD.replace("<worksheet", '<!DOCTYPE worksheet [<!ENTITY e "x">]><worksheet'),
        HEAD.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"'),
        HEAD.replace("<worksheet xmlns=", "<x:worksheet xmlns:x=").replace("<sheetData>", "<x:sheetData>"),
    ],
)
def test_a_doctype_another_encoding_or_prefixes_are_left_to_the_parser(head, tmp_path):
    assert sheetscan.scan((head + PLAIN[0] + TAIL).encode()) is None


def test_a_doctype_is_still_refused(tmp_path):
    head = HEAD.replace("<worksheet", '<!DOCTYPE worksheet [<!ENTITY e "x">]><worksheet')
    with XlsxFile(_book(tmp_path, PLAIN[0], head=head)) as book, pytest.raises(WorkbookError, match="cannot read"):
        book.cells("x")


def test_filled_agrees_with_from_r1c1():
    forms = [
        "='xmu'!R[0]C[0]*'ivar'!R7C[0]",
        "=SUMPRODUCT('dxhat'!R7C[0]:R518C[0],'xmu'!R7C[0]:R518C[0])",
        "=\"R[0]C[0] {not a ref}\"&R[-1]C[2]&'R1C1'!R1C1",
        "=R[-10]C[-5]+R1C1",
        "=1/bn_n",
    ]
    rng = random.Random(6)
    blocks = [(range(1, 4), range(1, 3)), (range(1_048_570, 1_048_577), range(16_380, 16_385))]
    blocks += [
        (range(r, r + 3), range(c, c + 4)) for r, c in ((rng.randint(1, 3000), rng.randint(1, 400)) for _ in range(20))
    ]
    for form in forms:
        for rows, cols in blocks:
            assert filled(form, rows, cols) == [[from_r1c1(form, r, c) for c in cols] for r in rows], (form, rows, cols)


def _c(ref: str, formula: str) -> str:
    return f'<c r="{ref}"><f>{formula}</f><v>{len(ref)}.5</v></c>'


def _row(number: int, *cells: tuple[str, str]) -> str:
    return f'<row r="{number}">' + "".join(_c(ref, formula) for ref, formula in cells) + "</row>"


B1, C1, B2, C2 = ("B1", "A1"), ("C1", "B1"), ("B2", "A2"), ("C2", "B2")
BLOCKS = {  # a 2x2 block at B1:C2, stored in ways a block of rows one after another is not
    "in order": _row(1, ("A1", "1"), B1, C1) + _row(2, B2, C2, ("D2", "9")),
    "rows swapped": _row(2, B2, C2) + _row(1, B1, C1),
    "cells swapped": _row(1, C1, B1) + _row(2, B2, C2),
    "a gap": _row(1, B1) + _row(2, B2, C2),
    "an address twice": _row(1, B1, C1) + _row(2, B2, C2) + _row(3, ("B1", "A9")),
}


@pytest.mark.parametrize("sheet_data", BLOCKS.values(), ids=BLOCKS.keys())
def test_a_block_reads_the_same_as_with_the_parser_however_it_is_stored(tmp_path, monkeypatch, sheet_data):
    from bnsheet.a1 import Area

    path, area = _book(tmp_path, sheet_data), Area("x", 1, 2, 2, 3)
    assert sheetscan.scan((HEAD + sheet_data + TAIL).encode()) is not None

    def grid(fast: bool) -> tuple[object, ...]:
        with monkeypatch.context() as patch:
            if not fast:
                patch.setattr(sheetscan, "scan", lambda data: None)
            with XlsxFile(path) as book:
                found = book.grid(area)
                return found.formulas, [[found.value(i, j) for j in range(2)] for i in range(2)], found.cached

    assert grid(True) == grid(False)
