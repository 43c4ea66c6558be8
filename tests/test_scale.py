"""What makes large workbooks fast must not change what verify finds."""

from __future__ import annotations

import io
import zipfile

import pytest

import bnsheet
from bnsheet.engines import formualizer
from bnsheet.reading import sheetscan
from conftest import tamper


def test_formualizer_gets_sheet_names_unquoted_only_where_that_means_the_same(tmp_path):
    path = bnsheet.build(tmp_path / "w.xlsx", n=4, d=3)
    package, shared = formualizer._needless_quotes_removed(path)
    assert not shared
    with zipfile.ZipFile(path) as original:
        sheets = {name: original.read(name).decode() for name in original.namelist() if "worksheets/" in name}
    with zipfile.ZipFile(io.BytesIO(package)) as copy:
        rewritten = {name: copy.read(name).decode() for name in sheets}
    xhat = next(name for name, text in sheets.items() if "<f>'xmu'!C7*'ivar'!C$7</f>" in text)
    assert "<f>xmu!C7*ivar!C$7</f>" in rewritten[xhat]
    dx = next(name for name, text in sheets.items() if "<f>'dx1'!C7+'dx2'!C7</f>" in text)
    assert "<f>'dx1'!C7+'dx2'!C7</f>" in rewritten[dx]  # dx1 is also a cell address: quotes stay


def test_a_formula_with_text_keeps_its_quotes(tmp_path):
    def change(book):
        book["xhat"]["C7"] = "='xmu'!C7*'ivar'!C$7+0*LEN(\"'xmu'!\")"

    path = tamper(bnsheet.build(tmp_path / "w.xlsx", n=4, d=3), change)
    package, _ = formualizer._needless_quotes_removed(path)
    assert b"LEN(&quot;'xmu'!&quot;)" in package or b"LEN(\"'xmu'!\")" in package


@pytest.mark.parametrize("tampered", [pytest.param(False, marks=pytest.mark.apps()), True])  # one in the fast subset
def test_verify_finds_the_same_with_and_without_the_fast_reader(tmp_path, monkeypatch, tampered):
    path = bnsheet.build(tmp_path / "w.xlsx", n=30, d=7, seed=4)
    if tampered:

        def change(book):
            book["dxhat"]["E20"] = "='dgammax'!E20*'gamma'!E7"  # a $ dropped
            book["xmu"]["D9"] = 0.5  # a value pasted over a formula
            book["mean"]["D7"] = "=AVERAGE('x'!d$7:D$36)"  # lower case: the same formula

        path = tamper(path, change)
    fast = bnsheet.verify(path, seed=0).table
    monkeypatch.setattr(sheetscan, "scan", lambda data: None)
    slow = bnsheet.verify(path, seed=0).table
    assert fast.astype(str).equals(slow.astype(str))
    statuses = dict(zip(fast["node"], fast["status"], strict=True))
    if tampered:
        assert statuses["dxhat"] == "not filled" and statuses["mean"] == "ok"
        assert "a value stands where a formula belongs" in fast.set_index("node").loc["xmu", "detail"]
    else:
        assert set(statuses.values()) == {"ok"}


def test_a_block_written_as_one_array_formula_is_one_formula(tmp_path):
    from openpyxl.worksheet.formula import ArrayFormula

    def change(book):
        sheet = book["xhat"]
        for row in range(7, 11):
            for col in "CDE":
                sheet[f"{col}{row}"] = None
        sheet["C7"] = ArrayFormula("C7:E10", "='xmu'!C7:E10*'ivar'!C7:E7")

    report = bnsheet.verify(tamper(bnsheet.build(tmp_path / "w.xlsx", n=4, d=3), change))
    assert report.table.set_index("node").loc["xhat", "status"] != "not filled"
