"""Verify of an OpenDocument spreadsheet (.ods, SPEC §18): converted with LibreOffice in a private
workspace where it is installed, vetted before, and one line where it is not."""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest
from test_cli import run_here
from test_everyday import run_without

import bnsheet
from bnsheet.errors import WorkbookError
from bnsheet.reading.vetting import ODS_MIMETYPE, vet_ods
from conftest import tamper


def to_ods(xlsx: Path) -> Path:
    """``xlsx`` saved as .ods by LibreOffice itself (its own profile, in the file's folder)."""
    profile = (xlsx.parent / "lo-profile").resolve().as_uri()
    subprocess.run(
        ["soffice", f"-env:UserInstallation={profile}", "--headless", "--norestore", "--convert-to", "ods",
         "--outdir", str(xlsx.parent), str(xlsx)],
        check=True, capture_output=True, timeout=300, env={"HOME": str(xlsx.parent), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    ods = xlsx.with_suffix(".ods")
    assert ods.is_file()
    return ods


@pytest.mark.apps("soffice")
def test_an_ods_workbook_verifies_and_a_tampered_one_fails_naming_the_ods(built):
    ods = to_ods(built)
    report = bnsheet.verify(ods, seed=1, trials=1)
    assert report.ok, report.to_text()
    assert report.path == ods

    def change(book):
        book["xmu"]["D8"] = "='x'!D8"

    bad = to_ods(tamper(built, change))
    result = run_here("verify", str(bad), "--seed", "1", "--trials", "1")
    assert result.returncode == 1
    assert result.stdout.startswith(f"{bad}  (engine: ") and "xmu: mismatch at 'xmu'!D8" in result.stdout
    assert "/tmp/bnsheet-libreoffice" not in result.stdout


@pytest.mark.apps("soffice")
def test_bnsheet_map_proposes_a_map_for_an_ods(tmp_path):
    from handmade import block_map, handmade

    ods = to_ods(handmade(tmp_path / "hand.xlsx"))
    result = run_here("map", str(ods))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# bnsheet map of hand.ods:")
    assert "\nout = \"'BN'!AT4:AV7\"" in result.stdout
    assert bnsheet.verify(ods, blocks=block_map(), trials=1, seed=1).ok


def _ods(path: Path, parts: dict[str, bytes], mimetype: bytes = ODS_MIMETYPE) -> Path:
    with zipfile.ZipFile(path, "w") as package:
        package.writestr("mimetype", mimetype)
        for name, data in parts.items():
            package.writestr(name, data)
    return path


@pytest.mark.parametrize(
    "parts, mimetype, message",
    [
        ({"content.xml": b"<x/>", "Basic/Standard/Module1.xml": b"<m/>"}, ODS_MIMETYPE,
         "holds macros (Basic/Standard/Module1.xml)"),
        ({"content.xml": b'<table:table-source xlink:href="http://example.com/a.ods"/>'}, ODS_MIMETYPE,
         "content.xml reaches outside the workbook (table:table-source)"),
        ({"content.xml": b'<c table:formula="of:=WEBSERVICE(&quot;http://x&quot;)"/>'}, ODS_MIMETYPE,
         "content.xml reaches outside the workbook (WEBSERVICE("),
        ({"content.xml": b"<x/>"}, b"application/vnd.oasis.opendocument.text", "not an OpenDocument spreadsheet"),
    ],
)  # fmt: skip
def test_an_ods_that_runs_code_or_reaches_out_is_refused_before_libreoffice_opens_it(tmp_path, parts, mimetype,
                                                                                      message):  # fmt: skip
    with pytest.raises(WorkbookError) as refused:
        vet_ods(_ods(tmp_path / "w.ods", parts, mimetype))
    assert message in str(refused.value)


def test_not_a_zip_is_one_line(tmp_path):
    (tmp_path / "w.ods").write_bytes(b"plain text")
    with pytest.raises(WorkbookError, match=r"w.ods: not an .ods workbook"):
        vet_ods(tmp_path / "w.ods")


def test_without_libreoffice_an_ods_is_one_line(tmp_path):
    _ods(tmp_path / "w.ods", {"content.xml": b"<x/>"})
    result = run_without([], "verify", "w.ods", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "bnsheet: w.ods: an .ods workbook is read by converting it with LibreOffice, which is not installed "
        "(apt-get install libreoffice-calc-nogui); or save it as .xlsx\n"
    )


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A learner's exercise workbook, every block filled right (tests/test_grade.py's formulas)."""
    from test_grade import submit

    folder = tmp_path_factory.mktemp("filled")
    exercise = bnsheet.build(folder / "exercise.xlsx", n=4, d=3, seed=0, exercise="backward")
    return submit(exercise, folder / "learner" / "ann.xlsx")


@pytest.mark.apps("soffice")
def test_grade_takes_an_ods_saved_by_libreoffice_and_hands_feedback_back_as_xlsx(filled, tmp_path):
    import json

    import openpyxl

    ods = to_ods(filled)
    graded = run_here("grade", str(ods), "--json", "--feedback", str(tmp_path / "feedback"))
    assert graded.returncode == 0, graded.stdout + graded.stderr
    report = json.loads(graded.stdout)
    assert [(f["file"], f["status"], f["correct"], f["nodes"]) for f in report["files"]] == [
        (str(ods), "graded", 14, 14)
    ]
    assert {row["status"] for row in report["nodes"]} == {"correct"}
    assert "/tmp/bnsheet-libreoffice" not in graded.stdout
    summary = openpyxl.load_workbook(tmp_path / "feedback" / "ann.xlsx")["feedback"]
    assert summary["A2"].value == "ann.ods: 14 of 14 exercise nodes correct"


def test_without_libreoffice_grade_says_in_one_line_to_save_an_ods_as_xlsx(filled, tmp_path):
    import json
    import shutil

    folder = tmp_path / "handed-in"
    folder.mkdir()
    shutil.copy(filled, folder / "ann.xlsx")
    _ods(folder / "bo.ods", {"content.xml": b"<x/>"})
    graded = run_without([], "grade", "handed-in", "--json", cwd=tmp_path)
    assert graded.returncode == 1, graded.stderr  # one file unusable
    files = {f["file"]: f for f in json.loads(graded.stdout)["files"]}
    assert files[str(Path("handed-in") / "ann.xlsx")]["status"] == "graded"
    ods = files[str(Path("handed-in") / "bo.ods")]
    assert ods["status"] == "unusable" and ods["reason"] == (
        "handed-in/bo.ods: an .ods workbook is read by converting it with LibreOffice, which is not installed "
        "(apt-get install libreoffice-calc-nogui); or save it as .xlsx"
    )
    alone = run_without([], "grade", str(Path("handed-in") / "bo.ods"), cwd=tmp_path)
    assert alone.returncode == 2 and alone.stderr.count("\n") == 1 and alone.stderr.endswith("save it as .xlsx\n")
