"""The ironcalc engine: it verifies and grades bnsheet's workbooks, recalculates instead of trusting
the values cached in the file, and keeps what it prints off bnsheet's standard output."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from sheetxml import rewrite_sheets, set_formula

import bnsheet
from bnsheet import engines
from bnsheet.a1 import Area
from bnsheet.cli import main
from bnsheet.errors import WorkbookError
from bnsheet.grading.grade import grade
from bnsheet.model.inputs import make
from bnsheet.reading.xlsx import XlsxFile
from bnsheet.values import ErrorValue
from conftest import tamper

XHAT = Area("xhat", 7, 3, 10, 5)  # the default 4x3 workbook's xhat block


def _xhat() -> np.ndarray:
    """xhat by the math: (x - mean) / sqrt(var + eps), the population variance."""
    i = make(n=4, d=3, seed=0)
    return (i.x - i.x.mean(axis=0)) / np.sqrt(i.x.var(axis=0) + i.eps)


@pytest.mark.parametrize(
    "options",
    [
        pytest.param([], id="4x3"),
        pytest.param(["--n", "8", "--d", "5", "--seed", "3", "--unbiased"], id="8x5-unbiased"),
        pytest.param(["--lang", "ja"], id="ja"),
        pytest.param(["--n", "32", "--d", "16"], id="32x16", marks=pytest.mark.apps()),  # ironcalc: a second
    ],
)
def test_build_then_verify_with_ironcalc(tmp_path, capsys, options):
    path = tmp_path / "w.xlsx"
    assert main(["build", "-o", str(path), "--quiet", *options]) == 0
    assert main(["verify", str(path), "--engine", "ironcalc", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "(engine: ironcalc;" in out and "all 62 nodes match" in out


def test_a_tampered_workbook_fails_with_the_values_ironcalc_computed(built):
    def change(book):  # every cell of xhat one formula still, each 1.5 times what it should be
        for r in range(7, 11):
            for c in "CDE":
                book["xhat"][f"{c}{r}"] = f"='xmu'!{c}{r}*'ivar'!{c}$7*1.5"

    report = bnsheet.verify(tamper(built, change), engine="ironcalc")
    assert not report.ok
    row = report.table.set_index("node").loc["xhat"]
    assert row.status == "mismatch" and row.first_bad_cell == "'xhat'!C7"
    assert float(row.got) == pytest.approx(1.5 * _xhat()[0, 0], rel=1e-12)


def _wrong_caches(source: Path, target: Path) -> Path:
    """A copy whose every formula cell caches the number 7, which no node of it computes."""
    return rewrite_sheets(source, target, lambda _, xml: re.sub(r"(</f>)<v>[^<]*</v>", r"\g<1><v>7</v>", xml))


def test_the_values_cached_in_the_file_are_not_trusted(built, tmp_path):
    path = _wrong_caches(built, tmp_path / "cached-7.xlsx")
    with XlsxFile(path) as book:
        assert book.cells("xhat")[(7, 3)].value == 7.0  # the trap is set
    import ironcalc as ic

    loaded = ic.load_from_xlsx(str(path), "en", "UTC")  # loaded only: ironcalc gives the file's caches
    assert loaded.get_cell_value_by_ref("xhat!C7") == 7.0
    got = engines.recalculate("ironcalc", path, [XHAT])[XHAT]
    assert np.allclose(got.astype(float), _xhat(), rtol=1e-13, atol=0)
    report = bnsheet.verify(path, engine="ironcalc", trials=0)
    # every value ironcalc computed is right (no mismatch); the 7s in the file fail as stale caches
    assert set(report.table.status) == {"stale"}, report.to_text()
    assert (report.table.max_abs_err.dropna() <= 1e-12).all()


def test_verify_json_is_all_that_reaches_stdout_though_ironcalc_prints_a_line_per_formula(tmp_path):
    # Without cached values ironcalc prints one line per formula cell while it loads
    # (tests/test_engine_faults.py); --json must print the report and nothing else.
    path = bnsheet.build(tmp_path / "uncached.xlsx", cached=False)
    with XlsxFile(path) as book:
        assert book.cells("xhat")[(7, 3)].value is None  # no cached value
    done = subprocess.run(
        [sys.executable, "-m", "bnsheet", "verify", str(path), "--engine", "ironcalc", "--json", "--quiet"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    data = json.loads(done.stdout)  # the whole of stdout is one JSON document
    assert data["engine"] == "ironcalc" and data["ok"] is True and len(data["nodes"]) == 62


_AFTER_A_FAILURE = """
import sys
from bnsheet import engines
from bnsheet.errors import EngineError
print("before", flush=True)
print("buffered")  # still in Python's buffer when ironcalc starts
try:
    engines.recalculate("ironcalc", sys.argv[1], [])
except EngineError as exc:
    print("refused:", str(exc).splitlines()[0])
print("after")
"""


def test_stdout_is_given_back_when_ironcalc_fails(tmp_path):
    path = tmp_path / "not-a-workbook.xlsx"
    with zipfile.ZipFile(path, "w") as package:
        package.writestr("hello.txt", "a zip, but no workbook in it")
    command = [sys.executable, "-c", _AFTER_A_FAILURE, str(path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    lines = done.stdout.splitlines()
    assert lines[:2] == ["before", "buffered"] and lines[-1] == "after", done.stdout + done.stderr
    assert lines[2].startswith(f"refused: ironcalc could not evaluate {path}")


def test_error_values_are_error_values_and_text_stays_text(built, tmp_path):
    path = set_formula(built, tmp_path / "errors.xlsx", "xhat", "C7", "1/0")
    path = set_formula(path, tmp_path / "errors2.xlsx", "xhat", "D7", '"#DIV/0!"')
    path = set_formula(path, tmp_path / "errors3.xlsx", "xhat", "E7", "SQRT(-1)")
    path = set_formula(path, tmp_path / "errors4.xlsx", "xhat", "C8", "'xhat'!C8+1")
    row, second = engines.recalculate("ironcalc", path, [XHAT])[XHAT][:2]
    assert [type(v) for v in row] == [ErrorValue, str, ErrorValue]
    assert list(row) == ["#DIV/0!", "#DIV/0!", "#NUM!"]
    assert isinstance(second[0], ErrorValue) and second[0] == "#CIRCULAR!"  # ironcalc's own #CIRC!


def _exercise(target: Path, fills: dict[str, str]) -> Path:
    """The dxhat and dmu exercise filled by a learner with ``fills`` ({c}: column, {r}: row)."""
    book = openpyxl.load_workbook(bnsheet.build(target, exercise="dxhat,dmu"))
    for node, formula in fills.items():
        for c in "CDE":
            for r in [7] if node == "dmu" else range(7, 11):
                book[node][f"{c}{r}"] = formula.format(c=c, r=r)
    book.save(target)
    return target


def test_an_exercise_is_graded_with_ironcalc(tmp_path):
    correct = {"dxhat": "=gamma!{c}$7*dout!{c}{r}", "dmu": "=-SUM(dx1!{c}$7:{c}$10)"}
    blank = {g.node: g.status for g in grade(_exercise(tmp_path / "blank.xlsx", {}), engine="ironcalc").nodes}
    assert blank == {"dxhat": "empty", "dmu": "empty"}
    graded = grade(_exercise(tmp_path / "right.xlsx", correct), engine="ironcalc")
    assert graded.ok and (graded.score, graded.out_of) == (2, 2), graded.to_text()
    wrong = grade(_exercise(tmp_path / "sign.xlsx", {**correct, "dmu": "=SUM(dx1!{c}$7:{c}$10)"}), engine="ironcalc")
    assert {g.node: g.status for g in wrong.nodes} == {"dxhat": "correct", "dmu": "wrong"}


def test_ironcalc_grades_mmult_which_formualizer_does_not_know(tmp_path):
    path = bnsheet.build(tmp_path / "exercise.xlsx", exercise="dgamma")
    book = openpyxl.load_workbook(path)
    for c in "CDE":
        book["dgamma"][f"{c}7"] = f"=SUMPRODUCT(MMULT(TRANSPOSE(dgammax!{c}7:{c}10),xhat!{c}7:{c}10))"
    book.save(path)
    assert grade(path, engine="ironcalc").ok
    assert grade(path, engine="formualizer").nodes[0].status == "app-dependent"  # #NAME?: portability.LACKS


def test_the_engines_ironcalc_is_one_of():
    assert engines.NAMES.index("ironcalc") > engines.NAMES.index("libreoffice")
    assert engines.default() == "formualizer"
    assert "ironcalc" in engines.chosen("all")


def test_the_file_is_vetted_before_ironcalc_opens_it(tmp_path):
    path = tmp_path / "not-a-workbook.xlsx"
    with zipfile.ZipFile(path, "w") as package:
        package.writestr("hello.txt", "ironcalc would refuse this, were it let open it")

    def refuse() -> None:
        raise WorkbookError(f"{path}: refused by vet")

    with pytest.raises(WorkbookError, match="refused by vet"):
        engines.recalculate("ironcalc", path, [XHAT], refuse)
