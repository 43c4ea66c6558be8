"""Feedback files: the learner's workbook handed back marked — each wrong, empty or error cell
filled and commented, a summary sheet first — read back with openpyxl (a reader that is not
bnsheet's), LibreOffice and Gnumeric.

Expected numbers come from the NumPy reference at the workbook's inputs (seed 0), never from the
grader; the hidden trials' numbers must appear nowhere.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from test_cli import run_here as run
from test_grade import COLS, ROWS, submit

import bnsheet
from bnsheet.grading import feedback
from bnsheet.grading.gradebook import grade_all
from bnsheet.model.inputs import make

MARKED = "FFFFC7CE"


@pytest.fixture(scope="module")
def exercise(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bnsheet.build(tmp_path_factory.mktemp("exercise") / "exercise.xlsx", n=4, d=3, seed=0, exercise="backward")


@pytest.fixture(scope="module")
def expected() -> dict[str, np.ndarray]:
    i = make(n=4, d=3, seed=0)
    return bnsheet.reference.nodes(i.x, i.gamma, i.beta, i.dout, i.eps)


@pytest.fixture(scope="module")
def handed_back(exercise: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A learner's file with a $ missing in dxhat, dvar left empty, dx1 dividing by zero and dxmu1
    typed as numbers; graded by the command line with --feedback. (learner, copy, its hash before)."""
    folder = tmp_path_factory.mktemp("handed-back")
    i = make(n=4, d=3, seed=0)
    right = bnsheet.reference.nodes(i.x, i.gamma, i.beta, i.dout, i.eps)["dxmu1"]
    learner = submit(
        exercise, folder / "in" / "ann.xlsx", dxhat="=dout!{c}{r}*gamma!{c}{r}", dvar=None, dx1="=1/0",
        dxmu1=lambda r, c: f"={float(right[r - 7, COLS.index(c)])!r}",
    )  # fmt: skip
    before = hashlib.sha256(learner.read_bytes()).hexdigest()
    graded = run("grade", str(learner), "--feedback", str(folder / "feedback"))
    assert graded.returncode == 1, graded.stderr
    assert sorted(p.name for p in (folder / "feedback").iterdir()) == ["ann.xlsx"]
    return learner, folder / "feedback" / "ann.xlsx", before


def _fill(cell: openpyxl.cell.Cell) -> str:
    return str(cell.fill.fgColor.rgb) if cell.fill.fill_type == "solid" else ""


def test_the_summary_sheet_comes_first_with_score_status_and_diagnosis(handed_back):
    _, copy, _ = handed_back
    book = openpyxl.load_workbook(copy)
    assert book.sheetnames[0] == "feedback" and book.active.title == "feedback"
    rows = [[c for c in row if c is not None] for row in book["feedback"].iter_rows(values_only=True)]
    assert rows[0] == ["Feedback: ann.xlsx"] and rows[1] == ["ann.xlsx: 10 of 14 exercise nodes correct"]
    by_node = {row[0]: row[1:] for row in rows if row and row[0] in ("dxhat", "dvar", "dx1", "dxmu1", "dbeta")}
    assert by_node["dbeta"] == ["correct"]
    assert by_node["dxhat"][0] == "wrong" and by_node["dxhat"][1].startswith("only the first row is right")
    assert by_node["dvar"] == ["empty", "nothing typed in C7:E7"]
    assert by_node["dx1"][0] == "error" and "#DIV/0!" in by_node["dx1"][1]
    assert by_node["dxmu1"][0] == "wrong" and "typed numbers, not formulas" in by_node["dxmu1"][1]
    summary = book["feedback"]
    status = {summary[f"A{r}"].value: summary[f"B{r}"] for r in range(1, summary.max_row + 1)}
    assert _fill(status["dxhat"]) == MARKED and _fill(status["dbeta"]) == "FFC6EFCE"
    assert summary["A" + str(next(r for r in range(1, 40) if summary[f"A{r}"].value == "dxhat"))].hyperlink


def test_wrong_empty_and_error_cells_are_filled_and_commented_and_right_ones_are_not(handed_back, expected):
    _, copy, _ = handed_back
    book = openpyxl.load_workbook(copy)
    dxhat = book["dxhat"]
    assert _fill(dxhat["C7"]) != MARKED and dxhat["C7"].comment is None  # the first row is right
    for r in ROWS[1:]:
        for j, c in enumerate(COLS):
            assert _fill(dxhat[f"{c}{r}"]) == MARKED
            text = dxhat[f"{c}{r}"].comment.text
            assert text.startswith(f"wrong: expected {expected['dxhat'][r - 7, j]:.6g}, got ")
            assert "only the first row is right" in text
    dvar = book["dvar"]
    assert all(_fill(dvar[f"{c}7"]) == MARKED for c in COLS)
    assert dvar["C7"].comment.text == "empty: nothing typed in C7:E7"
    dx1 = book["dx1"]
    assert all(_fill(dx1[f"{c}{r}"]) == MARKED for c in COLS for r in ROWS)
    assert dx1["D9"].comment.text.startswith("error: #DIV/0!")


def test_the_hidden_trials_numbers_appear_nowhere(handed_back, expected):
    """dxmu1 holds the right numbers typed as formulas: marked, told so, and no number is given
    (the trials' would be the only ones to give)."""
    _, copy, _ = handed_back
    dxmu1 = openpyxl.load_workbook(copy)["dxmu1"]
    for r in ROWS:
        for c in COLS:
            text = dxmu1[f"{c}{r}"].comment.text
            assert _fill(dxmu1[f"{c}{r}"]) == MARKED
            assert text.startswith("a number, not a formula") and "typed numbers, not formulas" in text
            assert not re.search(r"expected -?\d", text) and not re.search(r"\d\.\d", text)
    with zipfile.ZipFile(copy) as package:
        everything = b"".join(package.read(name) for name in package.namelist() if "comments" in name)
    # every number a comment shows is one of the reference's at the file's own inputs
    shown = {float(m) for m in re.findall(rb"expected (-?[0-9.e+-]+)", everything)}
    own = {float(f"{v:.6g}") for values in expected.values() for v in values.flat}
    assert shown and shown <= own


def test_the_learners_file_is_unchanged_and_a_feedback_file_never_replaced(handed_back):
    learner, copy, before = handed_back
    assert hashlib.sha256(learner.read_bytes()).hexdigest() == before
    kept = copy.read_bytes()
    again = run("grade", str(learner), "--feedback", str(copy.parent))
    assert again.returncode == 2 and again.stderr == (
        f"bnsheet: --feedback: {copy} exists already; give a new or empty folder\n"
    )
    assert copy.read_bytes() == kept


def test_a_workbook_with_comments_and_many_styles_keeps_them(exercise, tmp_path):
    learner = submit(exercise, tmp_path / "in" / "bo.xlsx", dxhat="=dout!{c}{r}*gamma!{c}{r}")
    book = openpyxl.load_workbook(learner)
    book["dxhat"]["C8"].comment = Comment("my own note on C8", "Bo")
    book["dxhat"]["A2"].comment = Comment("a note elsewhere", "Bo")
    book["x"]["B2"].comment = Comment("a note on x", "Bo")
    params = book["params"]
    for k in range(300):  # 300 cell formats more than the workbook had
        params.cell(30 + k, 1, k).font = Font(size=8 + k % 20, bold=k % 2 == 0)
        params.cell(30 + k, 2, k).fill = PatternFill("solid", fgColor=f"FF{k:02X}{255 - k % 256:02X}00"[:8])
    book.save(learner)
    feedback.write_all(grade_all([learner]), tmp_path / "feedback")
    marked = openpyxl.load_workbook(tmp_path / "feedback" / "bo.xlsx")
    dxhat = marked["dxhat"]
    assert dxhat["C8"].comment.text.startswith("wrong: expected ") and "my own note on C8" in dxhat["C8"].comment.text
    assert dxhat["A2"].comment.text == "a note elsewhere" and marked["x"]["B2"].comment.text == "a note on x"
    assert _fill(dxhat["C8"]) == MARKED and dxhat["C8"].number_format == book["dxhat"]["C8"].number_format
    for k in (0, 1, 150, 299):
        was, now = params.cell(30 + k, 1), marked["params"].cell(30 + k, 1)
        assert (now.font.size, now.font.bold) == (was.font.size, was.font.bold)
        assert _fill(marked["params"].cell(30 + k, 2)) == _fill(params.cell(30 + k, 2))


def test_a_japanese_workbook_gets_japanese_feedback(tmp_path):
    blank = bnsheet.build(tmp_path / "ja.xlsx", n=4, d=3, exercise="dmu", lang="ja")
    feedback.write_all(grade_all([blank]), tmp_path / "feedback")
    book = openpyxl.load_workbook(tmp_path / "feedback" / "ja.xlsx")
    assert book.sheetnames[0] == "フィードバック"
    summary = book["フィードバック"]
    assert summary["A2"].value == "ja.xlsx: 演習 1 個のうち 0 個が正解"
    assert book["dmu"]["C7"].comment.text.startswith("未入力: ")


def _app(command: list[str], folder: Path) -> None:
    subprocess.run(command, check=True, capture_output=True, timeout=300, cwd=folder,
                   env={"HOME": str(folder), "PATH": "/usr/bin:/bin"})  # fmt: skip


@pytest.mark.apps("soffice")
def test_libreoffice_reads_the_marks_and_the_summary(handed_back, tmp_path):
    _, copy, _ = handed_back
    profile = (tmp_path / "profile").as_uri()
    _app(["soffice", f"-env:UserInstallation={profile}", "--headless", "--convert-to", "ods",
          "--outdir", str(tmp_path), str(copy)], tmp_path)  # fmt: skip
    with zipfile.ZipFile(tmp_path / "ann.ods") as ods:
        content = ods.read("content.xml").decode()
    assert content.index('table:name="feedback"') < content.index('table:name="graph"')
    assert "10 of 14 exercise nodes correct" in content
    notes = re.findall(r"<office:annotation\b.*?</office:annotation>", content, re.S)
    assert sum("wrong: expected" in n for n in notes) == 9 and sum("empty: nothing typed" in n for n in notes) == 1
    assert sum('office:display="true"' in n for n in notes) == 4  # one open box per marked sheet


@pytest.mark.apps("ssconvert")
def test_gnumeric_reads_the_marks_and_the_summary(handed_back, tmp_path):
    _, copy, _ = handed_back
    _app(["ssconvert", str(copy), str(tmp_path / "ann.gnumeric")], tmp_path)
    saved = gzip.decompress((tmp_path / "ann.gnumeric").read_bytes()).decode()
    names = re.findall(r"<gnm:Name>([^<]*)</gnm:Name>", saved)
    assert names[0] == "feedback"
    comments = re.findall(r'<gnm:CellComment\b[^>]*Text="([^"]*)"', saved)
    assert sum(c.startswith("wrong: expected") for c in comments) == 9
    assert "10 of 14 exercise nodes correct" in saved
    assert "FFFF:C7C7:CECE" in saved.upper()  # the mark's fill, as Gnumeric writes colours


@pytest.mark.parametrize(
    "rows, marked",
    [
        (
            '<row r="2" spans="2:2"><c r="B2" s="3"><v>1</v></c></row>',  # a cell before one there, one restyled
            '<row r="2"><c r="A2" s="10"/><c r="B2" s="13"><v>1</v></c></row>',
        ),
        (
            '<row r="1"/><row r="4"><c r="C4"/></row>',  # a row made between two, in order
            '<row r="1"/><row r="2"><c r="A2" s="10"/><c r="B2" s="10"/></row><row r="4"><c r="C4"/></row>',
        ),
        ("", '<row r="2"><c r="A2" s="10"/><c r="B2" s="10"/></row>'),  # an empty sheet
    ],
)
def test_restyle_puts_cells_and_rows_in_order(rows, marked):
    from bnsheet.writing.ooxml.annotate import restyle

    sheet = f"<worksheet><sheetData>{rows}</sheetData></worksheet>"
    edited = restyle(sheet, {"A2": lambda s: 10 + s, "B2": lambda s: 10 + s})
    assert edited == f"<worksheet><sheetData>{marked}</sheetData></worksheet>"


def test_a_sheet_put_first_moves_sheet_scoped_names_and_opens():
    from bnsheet.writing.ooxml.annotate import sheet_first

    workbook = (
        '<workbook xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<bookViews><workbookView activeTab="2"/></bookViews><sheets><sheet name="a" sheetId="4" r:id="rId1"/></sheets>'
        '<definedNames><definedName name="_xlnm.Print_Area" localSheetId="0">a!$A$1:$B$2</definedName>'
        '<definedName name="bn_x">a!$A$1</definedName></definedNames></workbook>'
    )
    assert sheet_first(workbook, "feedback", "rId9") == workbook.replace(
        'activeTab="2"/>', 'activeTab="0" firstSheet="0"/>'
    ).replace("<sheets>", '<sheets><sheet name="feedback" sheetId="5" r:id="rId9"/>').replace(
        'localSheetId="0"', 'localSheetId="1"'
    )


def _saved_by(application: str, learner: Path, folder: Path) -> Path:
    """``learner`` opened and saved as .xlsx by LibreOffice or Gnumeric, as a learner's would be."""
    saved = folder / f"{application}.xlsx"
    if application == "soffice":
        _app(["soffice", f"-env:UserInstallation={(folder / 'profile').as_uri()}", "--headless", "--convert-to",
              "xlsx:Calc MS Excel 2007 XML", "--outdir", str(folder / "lo"), str(learner)], folder)  # fmt: skip
        (folder / "lo" / learner.name).rename(saved)
    else:
        _app(["ssconvert", str(learner), str(saved)], folder)
    return saved


@pytest.mark.filterwarnings("ignore:Workbook contains no default style")  # openpyxl on LibreOffice's styles
@pytest.mark.parametrize("application", [pytest.param("soffice", marks=pytest.mark.apps("soffice")),
                                         pytest.param("ssconvert", marks=pytest.mark.apps("ssconvert"))])  # fmt: skip
def test_a_file_saved_by_libreoffice_or_gnumeric_is_marked_and_gains_no_package_fault(
    handed_back, tmp_path, application
):
    from test_excel_package import _audit, _findings

    learner, _, _ = handed_back
    saved = _saved_by(application, learner, tmp_path)
    (copy,) = feedback.write_all(grade_all([saved]), tmp_path / "feedback")
    book = openpyxl.load_workbook(copy)
    assert book.sheetnames[0] == "feedback"
    assert book["dxhat"]["C8"].comment.text.startswith("wrong: expected ") and _fill(book["dxhat"]["C8"]) == MARKED
    assert book["dvar"]["C7"].comment.text == "empty: nothing typed in C7:E7"
    assert _findings(_audit(copy)) == _findings(_audit(saved))  # what the application wrote, nothing more


def test_a_large_wrong_block_is_filled_whole_with_a_comment_on_its_first_hundred_cells(tmp_path):
    blank = bnsheet.build(tmp_path / "big.xlsx", n=40, d=3, exercise="dxhat")
    book = openpyxl.load_workbook(blank)
    for r in range(7, 47):
        for c in COLS:
            book["dxhat"][f"{c}{r}"] = f"=dout!{c}{r}*gamma!{c}{r}"  # right in row 7 only
    book.save(tmp_path / "in.xlsx")
    (copy,) = feedback.write_all(grade_all([tmp_path / "in.xlsx"]), tmp_path / "feedback")
    dxhat = openpyxl.load_workbook(copy)["dxhat"]
    cells = [dxhat[f"{c}{r}"] for r in range(8, 47) for c in COLS]
    assert all(_fill(cell) == MARKED for cell in cells) and len(cells) == 117
    assert sum(cell.comment is not None for cell in cells) == feedback.NOTES == 100
    with zipfile.ZipFile(copy) as package:
        (vml,) = [package.read(n).decode() for n in package.namelist() if n.endswith(".vml")]
    shapes = re.findall(r'<v:shape id="_x0000_s(\d+)"', vml)
    assert len(shapes) == len(set(shapes)) == 100
