"""The package as Excel expects it: openxml-audit (a port of Microsoft's Open XML SDK validator)
finds nothing to repair or rewrite in any kind of workbook bnsheet writes, and the text cells —
shared strings — read back as written, also as Excel itself stores them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest

import bnsheet
from bnsheet.reading.xlsx import XlsxFile

_AUDIT = "openxml-audit"


def _audit(path: Path) -> dict[str, Any]:
    """openxml-audit's JSON report on one workbook, as Microsoft 365 would open it."""
    if shutil.which(_AUDIT) is None:
        pytest.skip(f"{_AUDIT} not installed (pip install openxml-audit, or the project's test extra)")
    run = subprocess.run(
        [_AUDIT, "-f", "microsoft365", "-o", "json", "-m", "0", str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    reports = json.loads(run.stdout)
    assert len(reports) == 1, run.stdout
    report: dict[str, Any] = reports[0]
    return report


def _findings(report: dict[str, Any]) -> list[str]:
    return [f"{e['severity']} in {e['part_uri']}: {e['description']}" for e in report["errors"]]


@pytest.mark.parametrize(
    "options",
    # a larger block than the default's, with two-digit rows: the validator's time grows with the cells
    [
        {},
        pytest.param({"lang": "ja"}, marks=pytest.mark.apps()),
        pytest.param({"exercise": "backward"}, marks=pytest.mark.apps()),
        pytest.param({"n": 12, "d": 8}, marks=pytest.mark.apps()),
    ],
    ids=["default", "ja", "exercise", "12x8"],
)
def test_excel_opens_the_workbook_without_repair(tmp_path, options):
    report = _audit(bnsheet.build(tmp_path / "book.xlsx", **options))
    assert _findings(report) == []
    assert (report["error_count"], report["warning_count"]) == (0, 0)
    assert report["verdict"]["prediction"] == "opens-clean"


@pytest.mark.apps()  # the validator takes seconds a workbook
def test_the_validator_would_see_a_workbook_without_its_theme(built):
    """The audit above can fail: the same workbook without its theme is one Excel repairs."""
    themeless = built.with_name("themeless.xlsx")
    with zipfile.ZipFile(built) as source, zipfile.ZipFile(themeless, "w") as copy:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/_rels/workbook.xml.rels":
                data, found = re.subn(rb'<Relationship [^>]*/theme"[^>]*/>', b"", data)
                assert found == 1
            if info.filename != "xl/theme/theme1.xml":
                copy.writestr(info, data)
    report = _audit(themeless)
    assert report["error_count"] == 1
    assert "relationships/theme' is missing" in report["errors"][0]["description"]


def test_every_text_cell_reads_the_same_in_bnsheet_and_openpyxl(tmp_path):
    path = bnsheet.build(tmp_path / "book.xlsx", lang="ja")
    with XlsxFile(path) as book:
        ours = {
            (sheet, row, col): cell.value
            for sheet in book.sheet_names
            for (row, col), cell in book.cells(sheet).items()
            if isinstance(cell.value, str) and not cell.has_formula
        }
    theirs = openpyxl.load_workbook(path)
    expected = {
        (sheet.title, c.row, c.column): c.value
        for sheet in theirs
        for line in sheet.iter_rows()
        for c in line
        if isinstance(c.value, str) and not c.value.startswith("=")
    }
    assert ours == expected
    assert "◀ 計算グラフ" in ours.values()


def test_shared_strings_as_excel_stores_them_read_without_their_phonetic_guide(built):
    """Excel writes text with formatting as runs (<r>) and stores a reading (<rPh>) with
    Japanese text; the cell's text is the runs' text only."""
    with XlsxFile(built) as book:
        label = book.cells("xmu")[(1, 1)].value
    assert isinstance(label, str) and label.startswith("◀")
    runs = '<r><t>◀</t></r><r><rPr><b/></rPr><t xml:space="preserve">{}</t></r>'.format(label.removeprefix("◀"))
    guide = '<rPh sb="0" eb="1"><t>ヤジルシ</t></rPh><phoneticPr fontId="0"/>'
    edited = built.with_name("as-excel.xlsx")
    with zipfile.ZipFile(built) as source, zipfile.ZipFile(edited, "w") as copy:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/sharedStrings.xml":
                plain = f'<si><t xml:space="preserve">{label}</t></si>'.encode()
                assert plain in data
                data = data.replace(plain, f"<si>{runs}{guide}</si>".encode())
            copy.writestr(info, data)
    with XlsxFile(edited) as book:
        assert book.cells("xmu")[(1, 1)].value == label


@pytest.mark.apps()  # the validator takes seconds a workbook
def test_excel_opens_a_feedback_copy_without_repair(tmp_path):
    """The marked copy (grading/feedback.py) of a workbook bnsheet wrote: the fill style, the
    comments, their VML drawings and the summary sheet added leave nothing to repair."""
    from bnsheet.grading import feedback
    from bnsheet.grading.gradebook import grade_all

    blank = bnsheet.build(tmp_path / "blank.xlsx", n=4, d=3, exercise="backward")
    (copy,) = feedback.write_all(grade_all([blank]), tmp_path / "feedback")
    with zipfile.ZipFile(copy) as package:
        assert sum(name.endswith(".vml") for name in package.namelist()) == 14  # one per exercise sheet
    report = _audit(copy)
    assert _findings(report) == []
    assert report["verdict"]["prediction"] == "opens-clean"
