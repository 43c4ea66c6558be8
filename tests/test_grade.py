"""Exercise workbooks filled the way learners fill them, graded with a real engine.

Submissions are written with openpyxl, as another program would; the expected numbers come from
the NumPy reference, never from the grader.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from openpyxl.worksheet.formula import ArrayFormula

import bnsheet
from bnsheet.grading.grade import grade
from bnsheet.grading.gradebook import grade_all
from bnsheet.model.inputs import make

N, D = 4, 3
COLS = "CDE"
ROWS = range(7, 7 + N)

# One correct formula per backward node, in styles that differ from bnsheet's own: unquoted sheet
# names, other orders, SUM of a product array, INDEX over a named range, bn_ parameters, the
# compact dx. {c} is the column, {r} the row.
CORRECT = {
    "dbeta": "=SUM(INDEX(bn_dout,0,COLUMN()-2))",
    "dgammax": "=dout!{c}{r}",
    "dgamma": ArrayFormula,  # =SUM(dgammax!C7:C10*xhat!C7:C10), entered as an array formula
    "dxhat": "=gamma!{c}$7*dout!{c}{r}",
    "divar": "=SUMPRODUCT(xmu!{c}$7:{c}$10,dxhat!{c}$7:{c}$10)",
    "dxmu1": "=dxhat!{c}{r}/sqrtvar!{c}$7",
    "dsqrtvar": "=-divar!{c}$7/sqrtvar!{c}$7^2",
    "dvar": "=dsqrtvar!{c}$7*0.5*(var!{c}$7+bn_eps)^-0.5",
    "dsq": "=dvar!{c}$7/bn_n",
    "dxmu2": "=2*dsq!{c}{r}*xmu!{c}{r}",
    "dx1": "=dxmu2!{c}{r}+dxmu1!{c}{r}",
    "dmu": "=-SUM(dx1!{c}$7:{c}$10)",
    "dx2": "=dmu!{c}$7/ROWS(bn_x)",
    "dx": "=(1/bn_n)*gamma!{c}$7*ivar!{c}$7*(bn_n*dout!{c}{r}-dbeta!{c}$7-xhat!{c}{r}*dgamma!{c}$7)",
}
ROW_NODES = {"dbeta", "dgamma", "divar", "dsqrtvar", "dvar", "dmu"}

Fill = str | Callable[[int, str], object] | None


@pytest.fixture(scope="module")
def exercise(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bnsheet.build(tmp_path_factory.mktemp("exercise") / "exercise.xlsx", n=N, d=D, seed=0, exercise="backward")


@pytest.fixture(scope="module")
def expected() -> dict[str, np.ndarray]:
    i = make(n=N, d=D, seed=0)
    return bnsheet.reference.nodes(i.x, i.gamma, i.beta, i.dout, i.eps)


def submit(exercise: Path, target: Path, **changes: Fill) -> Path:
    """A learner's submission: every backward block filled correctly, except ``changes``
    (a pattern, a function of (row, column letter) giving each cell, or None to leave it empty)."""
    book = openpyxl.load_workbook(exercise)
    for node, fill in (CORRECT | changes).items():
        rows = [7] if node in ROW_NODES else ROWS
        for r in rows:
            for c in COLS:
                if fill is ArrayFormula:
                    book[node][f"{c}{r}"] = ArrayFormula(f"{c}{r}", f"=SUM(dgammax!{c}7:{c}10*xhat!{c}7:{c}10)")
                elif isinstance(fill, str):
                    book[node][f"{c}{r}"] = fill.format(c=c, r=r)
                elif fill is not None:
                    book[node][f"{c}{r}"] = fill(r, c)
    target.parent.mkdir(parents=True, exist_ok=True)
    book.save(target)
    return target


def verdicts(path: Path, engine: str = "formualizer") -> dict[str, tuple[str, str]]:
    return {g.node: (g.status, g.diagnosis) for g in grade(path, engine=engine).nodes}


def test_the_exercise_file_leaves_the_chosen_blocks_empty_with_the_task_above(exercise):
    from bnsheet.reading.xlsx import XlsxFile

    with XlsxFile(exercise) as book:
        assert book.names["bn_exercise"] == '"' + ",".join(CORRECT) + '"'
        dxhat = book.cells("dxhat")
        assert all(dxhat[(r, col)].r1c1 is None and dxhat[(r, col)].value is None for r in ROWS for col in (3, 4, 5))
        notes = [dxhat[(r, 2)].value for r in range(1, 5)]
        assert notes[0].startswith("exercise b8  dxhat") and "C7:E10" in notes[1]
        assert notes[2] == "read the sheets dgammax, gamma"
        assert book.cells("xhat")[(7, 3)].formula == "='xmu'!C7*'ivar'!C$7"  # the forward pass is filled


def test_a_blank_exercise_is_all_empty(exercise):
    graded = grade(exercise)
    assert {g.status for g in graded.nodes} == {"empty"} and graded.score == 0
    assert [g.node for g in graded.nodes] == list(CORRECT)


def test_correct_formulas_in_other_styles_pass(exercise, tmp_path):
    graded = grade(submit(exercise, tmp_path / "styles.xlsx"), engine="formualizer")
    assert graded.ok, graded.to_text()
    assert (graded.score, graded.out_of) == (14, 14)


def test_formulas_that_differ_per_cell_pass_with_a_note(exercise, tmp_path):
    path = submit(exercise, tmp_path / "s.xlsx", dxhat=lambda r, c: f"=dout!${c}${r}*gamma!${c}$7")
    status, diagnosis = verdicts(path)["dxhat"]
    assert status == "correct" and "not one formula filled" in diagnosis


MISTAKES = [  # node, fill, status, diagnosis the grader must give
    ("dxhat", "=dout!{c}{r}*gamma!{c}{r}", "wrong",
     "only the first row is right: gamma!C7 should be 'gamma'!C$7"),
    ("dgamma", "=SUMPRODUCT(dgammax!{c}7:{c}10,xhat!$C$7:$C$10)", "wrong",
     "only the first column is right: xhat!$C$7:$C$10 should be 'xhat'!C$7:C$10"),
    ("dmu", "=SUM(dx1!{c}$7:{c}$10)", "wrong", "sign error"),
    ("dvar", "=1/SQRT(var!{c}$7+bn_eps)*dsqrtvar!{c}$7", "wrong", "factor error: every cell is 2 times"),
    ("dsq", "=dvar!{c}$7", "wrong", "factor error: every cell is 4 (N) times"),
    ("dgammax", "=out!{c}{r}", "wrong", "the numbers are those of out: a reference to the wrong sheet? (it reads out)"),
    ("dsqrtvar", "=-1/(sqrtvar!{c}$7-sqrtvar!{c}$7)^2*divar!{c}$7", "error", "error values #DIV/0! in C7, D7, E7"),
    ("dx1", "=dxmu1!{c}{r}+dxmu2!{c}{r}+0*dmu!{c}$7", "error", "a circular reference"),
    ("dx2", None, "empty", "nothing typed in C7:E10"),
]  # fmt: skip


@pytest.mark.parametrize("node, fill, status, diagnosis", MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_mistake_fails_with_its_diagnosis(exercise, tmp_path, node, fill, status, diagnosis):
    graded = verdicts(submit(exercise, tmp_path / f"{node}.xlsx", **{node: fill}))
    assert graded[node][0] == status and diagnosis in graded[node][1], graded[node]
    others = {name: v for name, v in graded.items() if name != node and v[0] != "correct"}
    if node == "dx1":  # dmu reads dx1: the cycle runs through both
        assert set(others) == {"dmu"} and "circular" in others["dmu"][1]
    else:  # the mistake is counted once: blocks downstream are judged from the expected values
        assert others == {}, others


def test_values_pasted_instead_of_formulas_fail_though_the_numbers_are_right(exercise, tmp_path, expected):
    pasted = submit(exercise, tmp_path / "p.xlsx", dxmu1=lambda r, c: float(expected["dxmu1"][r - 7, "CDE".index(c)]))
    status, diagnosis = verdicts(pasted)["dxmu1"]
    assert status == "wrong" and "values pasted instead of formulas in 12 cell(s)" in diagnosis


def test_wrong_cells_are_listed_with_expected_and_got(exercise, tmp_path, expected):
    path = submit(exercise, tmp_path / "w.xlsx", dxhat="=dout!{c}{r}*gamma!{c}{r}")
    dxhat = next(g for g in grade(path).nodes if g.node == "dxhat")
    assert dxhat.wrong_cells == 9
    address, want, got = dxhat.wrong[0]
    assert address == "C8" and want == pytest.approx(expected["dxhat"][1, 0], rel=1e-12) and got == 0.0


@pytest.mark.apps("soffice")
def test_a_libreoffice_saved_submission_passes(exercise, tmp_path):
    source = submit(exercise, tmp_path / "source" / "learner.xlsx")
    profile = (tmp_path / "profile").as_uri()
    subprocess.run(
        ["soffice", f"-env:UserInstallation={profile}", "--headless", "--calc", "--convert-to", "xlsx",
         "--outdir", str(tmp_path / "saved"), str(source)],
        check=True, capture_output=True, timeout=240,
    )  # fmt: skip
    graded = grade(tmp_path / "saved" / "learner.xlsx", engine="formualizer")
    assert graded.ok, graded.to_text()


def test_a_folder_of_mixed_submissions_grades_into_a_csv_with_right_scores(exercise, tmp_path, expected):
    import io

    import pandas as pd

    folder = tmp_path / "class"
    submit(exercise, folder / "ada.xlsx")
    submit(exercise, folder / "bo.xlsx", dmu="=SUM(dx1!{c}$7:{c}$10)", dx=None)
    shutil.copy(exercise, folder / "cy.xlsx")
    (folder / "dee.xlsx").write_text("not a workbook")
    book = grade_all([folder], engine="formualizer")
    table = pd.read_csv(io.StringIO(book.to_csv()))
    scores = table.groupby("file")["score"].first().to_dict()
    assert scores == {str(folder / "ada.xlsx"): 14, str(folder / "bo.xlsx"): 12,
                      str(folder / "cy.xlsx"): 0, str(folder / "dee.xlsx"): 0}  # fmt: skip
    assert table.groupby("file")["out_of"].first().fillna(-1).to_dict()[str(folder / "bo.xlsx")] == 14
    bo = table[table["file"] == str(folder / "bo.xlsx")].set_index("node")["status"]
    assert bo["dmu"] == "wrong" and bo["dx"] == "empty" and (bo.drop(["dmu", "dx"]) == "correct").all()
    dee = table[table["file"] == str(folder / "dee.xlsx")]
    assert dee["status"].tolist() == ["unusable"] and "not an .xlsx workbook" in dee["diagnosis"].iloc[0]
    assert len(table) == 3 * 14 + 1 and not book.ok


def test_a_multi_cell_array_formula_is_one_formula(exercise, tmp_path):
    path = submit(exercise, tmp_path / "a.xlsx", dxhat=None)
    book = openpyxl.load_workbook(path)
    book["dxhat"]["C7"] = ArrayFormula("C7:E10", "=dout!C7:E10*gamma!C7:E7")
    book.save(path)
    status, diagnosis = verdicts(path)["dxhat"]
    assert (status, diagnosis) == ("correct", "")


@pytest.mark.parametrize("engine", ["formualizer", pytest.param("formulas", marks=pytest.mark.apps())])
def test_column_of_its_own_cell_is_no_circular_reference(exercise, tmp_path, engine):
    """formualizer and formulas report COLUMN(C7) typed in C7 as circular (Excel and LibreOffice
    do not); grading folds such a COLUMN into its number before recalculating."""
    from bnsheet.a1 import Area
    from bnsheet.engines import recalculate

    path = submit(exercise, tmp_path / "c.xlsx", dbeta="=SUM(INDEX(bn_dout,0,COLUMN({c}7)-2))")
    faulty = recalculate(engine, path, [Area("dbeta", 7, 3, 7, 5)])[Area("dbeta", 7, 3, 7, 5)]
    assert list(faulty[0]) in (["#CIRCULAR!"] * 3, [None] * 3), engine
    assert verdicts(path)["dbeta"] == ("correct", "")


# A correct dmu that takes each column of dx1 with INDEX(range, 0, k).
INDEX_COLUMN = "=-SUM(INDEX(bn_dx1,0,COLUMN()-2))"


@pytest.mark.apps()  # the formulas engine and Gnumeric
def test_engine_faults_that_grading_meets(exercise, tmp_path):
    """Known faults, kept visible: a correct learner's formula these engines get wrong.

    formulas: INDEX(range, 0, k) should be the whole column k, it gives one cell.
    gnumeric: INDEX(range, 0, k) inside SUM is #REF!.
    formualizer: MMULT is unknown (#NAME?): status app-dependent, naming the engines that compute it.
    The grader's default engine is formualizer, which gets INDEX right (gnumeric: the test below).
    Both formulas sit in one submission, graded once by each engine: blocks downstream are judged
    from the expected values, so neither verdict depends on the other block."""
    path = submit(
        exercise, tmp_path / "f.xlsx", dmu=INDEX_COLUMN, dgamma="=SUMPRODUCT(dgammax!{c}7:{c}10*xhat!{c}7:{c}10)"
    )
    book = openpyxl.load_workbook(path)
    book["dgamma"]["C7"] = "=SUMPRODUCT(MMULT(TRANSPOSE(dgammax!C7:C10),xhat!C7:C10))"
    book.save(path)
    by_formulas, by_formualizer = verdicts(path, engine="formulas"), verdicts(path)
    assert by_formualizer["dmu"][0] == "correct"
    assert by_formulas["dmu"][0] == "wrong"
    assert by_formulas["dgamma"][0] == "correct"
    status, diagnosis = by_formualizer["dgamma"]
    assert status == "app-dependent" and diagnosis.startswith("formualizer cannot compute MMULT")


@pytest.mark.apps("ssconvert")
def test_gnumeric_fault_that_grading_meets(exercise, tmp_path):
    """gnumeric: INDEX(range, 0, k) inside SUM is #REF! (see the test above)."""
    path = submit(exercise, tmp_path / "f.xlsx", dmu=INDEX_COLUMN)
    assert verdicts(path, engine="gnumeric")["dmu"] == ("error", "error values #REF! in C7, D7, E7")


def test_a_workbook_without_an_exercise_is_graded_on_every_node(built):
    graded = grade(built)
    assert len(graded.nodes) == 30 and graded.ok


def test_assert_workbook_matches_fails_with_the_per_node_table(built):
    from bnsheet.testing import assert_workbook_matches
    from conftest import tamper

    assert_workbook_matches(built, engine="formualizer")

    def change(book):
        book["dvar"]["D7"] = "=1/SQRT('var'!D$7+bn_eps)*'dsqrtvar'!D$7"

    with pytest.raises(AssertionError) as failure:
        assert_workbook_matches(tamper(built, change), engine="formualizer")
    message = str(failure.value)
    assert "dvar: mismatch at 'dvar'!D7" in message and "    node shape" in message


def test_build_refuses_an_unknown_exercise(tmp_path):
    with pytest.raises(bnsheet.InputError, match="--exercise dz: choose backward, forward, all"):
        bnsheet.build(tmp_path / "w.xlsx", exercise="dx,dz")
    with pytest.raises(bnsheet.InputError, match="inputs cannot be exercises"):
        bnsheet.build(tmp_path / "w.xlsx", exercise="x")
    assert not (tmp_path / "w.xlsx").exists()


def test_the_grade_command(exercise, tmp_path):
    import json

    from test_cli import run_here as run

    made = run("build", "-o", str(tmp_path / "e.xlsx"), "--exercise", "dxhat,dvar", "--n", "4", "--d", "3")
    assert made.returncode == 0 and made.stdout == f"wrote {tmp_path / 'e.xlsx'}\n"
    good = submit(exercise, tmp_path / "class" / "good.xlsx")
    bad = submit(exercise, tmp_path / "class" / "bad.xlsx", dsq="=dvar!{c}$7")
    assert run("grade", str(good)).returncode == 0
    text = run("grade", str(bad), str(tmp_path / "e.xlsx"))
    assert text.returncode == 1 and "dsq: wrong: factor error: every cell is 4 (N) times" in text.stdout
    assert "score 13/14" in text.stdout and "score 0/2" in text.stdout
    data = json.loads(run("grade", str(tmp_path / "class"), "--json").stdout)
    scores = [(Path(f["file"]).name, f["score"], f["out_of"]) for f in data["files"]]
    assert scores == [("bad.xlsx", 13, 14), ("good.xlsx", 14, 14)]
    unusable = run("grade", str(tmp_path / "nothing.xlsx"))
    assert unusable.returncode == 2 and unusable.stderr == f"bnsheet: {tmp_path / 'nothing.xlsx'}: no such file\n"
    empty = run("grade", str(tmp_path / "e.xlsx"), "--csv")
    assert empty.returncode == 1 and empty.stdout.count("\n") == 3  # header and two nodes


def test_substitute_writes_numbers_into_a_block_whose_rows_are_missing(tmp_path):
    from bnsheet.a1 import Area
    from bnsheet.engines.substitute import substitute
    from bnsheet.reading.xlsx import XlsxFile

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "s"
    sheet["A1"], sheet["D8"], sheet["B12"] = "title", "=C7*2", 5.0  # rows 7 and 9..11 do not exist
    book.save(tmp_path / "w.xlsx")
    block = Area("s", 7, 3, 9, 4)
    numbers = np.arange(6.0).reshape(3, 2) / 3
    with XlsxFile(tmp_path / "w.xlsx") as source:
        substitute(source, tmp_path / "copy.xlsx", {block: numbers})
    with XlsxFile(tmp_path / "copy.xlsx") as copy:
        cells = copy.cells("s")
        assert [[cells[(r, c)].value for c in (3, 4)] for r in (7, 8, 9)] == numbers.tolist()
        assert all(cells[(r, c)].r1c1 is None for r in (7, 8, 9) for c in (3, 4))
        assert cells[(1, 1)].value == "title" and cells[(12, 2)].value == 5.0
    assert openpyxl.load_workbook(tmp_path / "copy.xlsx")["s"]["D9"].value == 5 / 3
