"""Grading a class: a roster's workbooks built with the command line, filled with openpyxl as
learners would (right, typed numbers, copied, edited), graded with a real engine.

Expected numbers come from the NumPy reference on the inputs read back from each file with
openpyxl, never from the grader.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from openpyxl.worksheet.formula import ArrayFormula
from test_cli import run_here as run
from test_grade import COLS, CORRECT, ROWS, submit

import bnsheet
from bnsheet.grading.grade import grade
from bnsheet.grading.gradebook import grade_all
from bnsheet.writing.roster import read as read_roster

IDS = ["17", "18", "ann-b", "c.d", "19", "20"]
BACKWARD = ",".join(CORRECT)


@pytest.fixture(scope="module")
def roster(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("roster")
    (folder / "roster.csv").write_text("name,ID,email\n" + "".join(f"N{k},{s},{s}@x\n" for k, s in enumerate(IDS)))
    return folder / "roster.csv"


@pytest.fixture(scope="module")
def klass(roster: Path) -> Path:
    """The class's blank workbooks, built by the command line: klass/<id>.xlsx."""
    target = roster.parent / "class"
    made = run("build", "--exercise", "backward", "--roster", str(roster), "-o", str(target), "--n", "4", "--d", "3")
    assert made.returncode == 0 and made.stdout == f"wrote {len(IDS)} workbooks to {target}\n", made.stderr
    return target


def inputs_of(path: Path) -> dict[str, np.ndarray]:
    book = openpyxl.load_workbook(path)
    rows = {"x": 4, "dout": 4, "gamma": 1, "beta": 1, "running_mean": 1, "running_var": 1}
    return {
        name: np.array([[book[name][f"{c}{r}"].value for c in COLS] for r in range(7, 7 + count)], dtype=float)
        for name, count in rows.items()
    }


def expected_of(path: Path) -> dict[str, np.ndarray]:
    i = inputs_of(path)
    return bnsheet.reference.nodes(i["x"], i["gamma"], i["beta"], i["dout"], 1e-5)


def names_of(path: Path) -> dict[str, str]:
    return {name: d.attr_text for name, d in openpyxl.load_workbook(path).defined_names.items()}


def learner(klass: Path, student: str, target: Path, **changes: object) -> Path:
    """Student ``student``'s own workbook, filled right except ``changes`` (as test_grade.submit)."""
    return submit(klass / f"{student}.xlsx", target / f"{student}.xlsx", **changes)  # type: ignore[arg-type]


def test_each_student_gets_own_inputs_from_a_seed_of_id_and_exercise(klass):
    assert sorted(p.name for p in klass.iterdir()) == sorted(f"{s}.xlsx" for s in IDS)
    xs = {s: inputs_of(klass / f"{s}.xlsx")["x"] for s in IDS}
    assert len({x.tobytes() for x in xs.values()}) == len(IDS)
    names = names_of(klass / "17.xlsx")
    assert names["bn_student"] == '"17"' and names["bn_exercise"] == f'"{BACKWARD}"'
    # the seed is SHA-256 of "bnsheet roster", the exercise and the id (SPEC §13), its first 31 bits
    digest = hashlib.sha256(f"bnsheet roster\0{BACKWARD}\0{17}".encode()).digest()
    assert int(names["bn_seed"]) == int.from_bytes(digest[:4], "big") >> 1


@pytest.mark.apps()  # a second bnsheet process builds the class again
def test_the_same_roster_gives_the_same_inputs_in_another_process(klass, roster, tmp_path):
    """Not Python's hash(): a process with another PYTHONHASHSEED draws the same numbers."""
    env = os.environ | {"PYTHONHASHSEED": "12345"}
    command = [sys.executable, "-m", "bnsheet", "build", "--exercise", "backward", "--roster", str(roster),
               "-o", str(tmp_path / "again"), "--n", "4", "--d", "3"]  # fmt: skip
    subprocess.run(command, check=True, env=env, capture_output=True, cwd=Path(bnsheet.__file__).parents[1])
    for student in IDS:
        again = inputs_of(tmp_path / "again" / f"{student}.xlsx")["x"]
        assert np.array_equal(inputs_of(klass / f"{student}.xlsx")["x"], again)


@pytest.mark.parametrize(
    "text, message",
    [
        ("id\n17\n18\n17\n", ", row 4: the id '17' is also in row 2"),
        ("id\nAnn\nann\n", ", row 3: the id 'ann' is also in row 2"),
        ("name,id\nA,17\nB,\n", ", row 3: no id"),
        ("Student ID,name\n17,A\n", ", row 1: the id 'Student ID' cannot be a file name"),
        ("id\n../17\n", ", row 2: the id '../17' cannot be a file name"),
        ("id\n", ": no students in it"),
    ],
)
def test_a_bad_roster_is_one_line_naming_the_row(tmp_path, text, message):
    (tmp_path / "r.csv").write_text(text)
    made = run("build", "--exercise", "dmu", "--roster", str(tmp_path / "r.csv"), "-o", str(tmp_path / "c"))
    assert made.returncode == 2 and made.stderr.startswith(f"bnsheet: --roster {tmp_path / 'r.csv'}{message}")
    assert made.stderr.count("\n") == 1 and not (tmp_path / "c").exists()


def test_a_roster_build_never_replaces_a_file(roster, tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "18.xlsx").write_text("a learner's work")
    made = run("build", "--exercise", "dmu", "--roster", str(roster), "-o", str(tmp_path / "c"))
    refused = f"bnsheet: {tmp_path / 'c' / '18.xlsx'} exists already; build a class into a new or empty folder\n"
    assert made.returncode == 2 and made.stderr == refused
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["18.xlsx"]
    assert (tmp_path / "c" / "18.xlsx").read_text() == "a learner's work"


def test_a_roster_draws_the_inputs_itself(roster, tmp_path):
    made = run("build", "--exercise", "dmu", "--roster", str(roster), "-o", str(tmp_path / "c"), "--seed", "3")
    assert made.returncode == 2 and "drop --seed" in made.stderr and not (tmp_path / "c").exists()
    made = run("build", "--roster", str(roster), "-o", str(tmp_path / "c"))
    assert made.returncode == 2 and "give --exercise NODES and -o FOLDER" in made.stderr


def test_grade_tells_own_copied_and_edited_inputs(klass, roster, tmp_path):
    folder = tmp_path / "submitted"
    learner(klass, "17", folder)
    shutil.copy(learner(klass, "17", tmp_path / "other"), folder / "18.xlsx")  # 18 hands in 17's file
    edited = learner(klass, "19", folder)
    book = openpyxl.load_workbook(edited)
    book["x"]["C7"] = 1.5
    book.save(edited)
    graded = grade_all([folder], roster=read_roster(roster))
    files = graded.scores.set_index("student")
    assert files.loc["17", "inputs"] == "own" and files.loc["17", "score"] == 14
    assert files.loc["18", "inputs"] == "of student 17"
    assert files.loc["19", "inputs"] == "edited"
    # without the roster, a file still checks its recorded student's inputs
    alone = grade(edited)
    assert (alone.student, alone.inputs) == ("19", "edited")


def test_numbers_typed_as_formulas_are_wrong_at_the_hidden_trials(klass, tmp_path):
    path = klass / "20.xlsx"
    right = expected_of(path)["dxmu1"]
    typed = learner(klass, "20", tmp_path, dxmu1=lambda r, c: f"={float(right[r - 7, COLS.index(c)])!r}")
    dxmu1 = {g.node: g for g in grade(typed).nodes}
    status, diagnosis = dxmu1["dxmu1"].status, dxmu1["dxmu1"].diagnosis
    assert status == "wrong" and diagnosis.startswith("typed numbers, not formulas: C7, D7, E7, C8, D8 … (12 cells)")
    assert dxmu1["dxmu1"].wrong == [] and dxmu1["dxmu1"].wrong_cells == 12  # the trials' numbers are not shown
    others = {g.node: g.status for g in dxmu1.values() if g.node != "dxmu1"}
    assert set(others.values()) == {"correct"}, others  # dx1 and the rest: judged with the expected dxmu1


def test_a_formula_right_only_for_these_inputs_is_wrong(klass, tmp_path):
    """eps typed as 1e-05 instead of read from bn_eps: the trials draw another eps."""
    path = learner(klass, "ann-b", tmp_path, dvar="=dsqrtvar!{c}$7*0.5*(var!{c}$7+0.00001)^-0.5")
    graded = {g.node: g for g in grade(path).nodes}
    assert graded["dvar"].status == "wrong"
    assert graded["dvar"].diagnosis.startswith("right only for these inputs: at other inputs C7")
    assert all(g.status == "correct" for name, g in graded.items() if name != "dvar"), {
        name: (g.status, g.diagnosis) for name, g in graded.items()
    }  # a mistake counts once, at the trials too


def test_a_one_feature_workbook_catches_typed_numbers(tmp_path):
    path = bnsheet.build(tmp_path / "d1.xlsx", n=4, d=1, seed=2, exercise="dmu")
    i = inputs_of_d1(path)
    dmu = bnsheet.reference.nodes(i["x"], i["gamma"], i["beta"], i["dout"], 1e-5)["dmu"]
    book = openpyxl.load_workbook(path)
    book["dmu"]["C7"] = f"={float(dmu[0, 0])!r}"
    book.save(path)
    (g,) = grade(path).nodes
    assert g.status == "wrong" and g.diagnosis.startswith("typed numbers, not formulas: C7")


def inputs_of_d1(path: Path) -> dict[str, np.ndarray]:
    book = openpyxl.load_workbook(path)
    rows = {"x": 4, "dout": 4, "gamma": 1, "beta": 1}
    return {
        name: np.array([[book[name][f"C{r}"].value] for r in range(7, 7 + k)], dtype=float) for name, k in rows.items()
    }


def test_the_gradebook_has_a_row_per_roster_student(klass, roster, tmp_path):
    folder = tmp_path / "submitted"
    learner(klass, "17", folder)
    learner(klass, "18", folder, dmu="=SUM(dx1!{c}$7:{c}$10)")
    (folder / "19.xlsx").write_text("not a workbook")
    gradebook = tmp_path / "gradebook.csv"
    graded = run("grade", str(folder), "--roster", str(roster), "--gradebook", str(gradebook), "--csv")
    assert graded.returncode == 1, graded.stderr
    rows = {row["id"]: row for row in csv.DictReader(io.StringIO(gradebook.read_text()))}
    assert list(rows) == IDS
    assert (rows["17"]["score"], rows["17"]["out_of"], rows["17"]["status"]) == ("14", "14", "graded")
    assert (rows["18"]["score"], rows["18"]["dmu"], rows["18"]["dxhat"]) == ("13", "wrong", "correct")
    assert rows["19"]["status"] == "unusable" and "not an .xlsx workbook" in rows["19"]["reason"]
    assert rows["20"]["status"] == "missing" and rows["20"]["score"] == "0"
    again = run("grade", str(folder), "--roster", str(roster), "--gradebook", str(gradebook))
    assert again.returncode == 2
    assert again.stderr == f"bnsheet: --gradebook {gradebook}: exists already; choose a new name\n"


@pytest.fixture(scope="module")
def blank(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bnsheet.build(tmp_path_factory.mktemp("blank") / "blank.xlsx", n=4, d=3, seed=0, exercise="backward")


def one_node(path: Path, node: str, engine: str = "formualizer", trials: int = 3) -> tuple[str, str]:
    found = next(g for g in grade(path, engine=engine, trials=trials).nodes if g.node == node)
    return found.status, found.diagnosis


DXHAT = "=gamma!{c}$7*dout!{c}{r}"


@pytest.mark.parametrize(
    "fill, said",
    [
        (lambda r, c: DXHAT.format(c=c, r=9 if r == 10 else r), "only row 10 (the last row) is wrong"),
        (lambda r, c: DXHAT.format(c="D" if c == "E" else c, r=r), "only column E (the last column) is wrong"),
        (lambda r, c: DXHAT.format(c=c, r=r) + ("*2" if (r, c) == (8, "D") else ""), "only D8 is wrong"),
        (lambda r, c: DXHAT.format(c=c, r=r) + ("*2" if r == 8 else ""), "only row 8 is wrong"),
    ],
    ids=["last-row", "last-column", "one-cell", "a-middle-row"],
)
def test_the_wrong_row_column_or_cell_is_named_as_it_is(blank, tmp_path, fill, said):
    status, diagnosis = one_node(submit(blank, tmp_path / "s.xlsx", dxhat=fill), "dxhat")
    assert status == "wrong" and diagnosis.startswith(said) and "$" not in diagnosis, diagnosis


def test_a_row_block_with_only_its_first_cell_filled_is_incomplete_not_a_pin(blank, tmp_path):
    path = submit(blank, tmp_path / "s.xlsx", dmu=lambda r, c: "=-SUM(dx1!C$7:C$10)" if c == "C" else None)
    status, diagnosis = one_node(path, "dmu")
    assert (status, diagnosis) == ("wrong", "incomplete: 2 cell(s) empty: D7, E7 (fill the formula over C7:E7)")


RANGE_PRODUCT = "=SUM(dgammax!{c}7:{c}10*xhat!{c}7:{c}10)"


def test_range_arithmetic_outside_an_array_formula_depends_on_the_application(blank, tmp_path):
    status, diagnosis = one_node(submit(blank, tmp_path / "s.xlsx", dgamma=RANGE_PRODUCT), "dgamma")
    assert status == "app-dependent"
    assert diagnosis.startswith("=SUM(dgammax!C7:C10*xhat!C7:C10) computes with the range dgammax!C7:C10 outside")
    assert "LibreOffice, Gnumeric and Excel 2019 or older take one cell" in diagnosis and "SUMPRODUCT" in diagnosis
    fixed = submit(blank, tmp_path / "f.xlsx", dgamma="=SUMPRODUCT(dgammax!{c}7:{c}10*xhat!{c}7:{c}10)")
    assert one_node(fixed, "dgamma") == ("correct", "")


@pytest.mark.apps("soffice")
def test_libreoffice_shows_other_numbers_for_range_arithmetic(blank, tmp_path):
    """What the status warns of: LibreOffice intersects, so its numbers are not the reference's."""
    path = submit(blank, tmp_path / "s.xlsx", dgamma=RANGE_PRODUCT)
    status, diagnosis = one_node(path, "dgamma", "libreoffice", trials=0)  # trials: 4 runs of LibreOffice more
    assert status == "wrong" and "implicit intersection" in diagnosis


def cse_over_block(blank: Path, target: Path) -> Path:
    """dxhat as one array formula over C7:E10, saved as Excel saves it: the formula in C7, the
    results as values in the other cells (here numbers that are not the results, which an engine
    must not read)."""
    path = submit(blank, target, dxhat=None)
    book = openpyxl.load_workbook(path)
    book["dxhat"]["C7"] = ArrayFormula("C7:E10", "=dgammax!C7:E10*gamma!C7:E7")
    for r in ROWS:
        for c in COLS:
            if (r, c) != (7, "C"):
                book["dxhat"][f"{c}{r}"] = 0.5
    book.save(path)
    return path


def test_an_array_formula_over_the_block_is_graded_like_any_formula(blank, tmp_path):
    assert one_node(cse_over_block(blank, tmp_path / "s.xlsx"), "dxhat") == ("correct", "")


@pytest.mark.parametrize("engine", ["formualizer", pytest.param("gnumeric", marks=pytest.mark.apps("ssconvert"))])
def test_a_circular_reference_is_an_error_whatever_the_engine_computes(blank, tmp_path, engine):
    path = submit(blank, tmp_path / "s.xlsx", dx1="=dxmu1!{c}{r}+dxmu2!{c}{r}+0*dmu!{c}$7")
    status, diagnosis = one_node(path, "dx1", engine)
    assert status == "error" and "circular reference" in diagnosis, engine


def test_dx_diff_on_a_near_constant_input_is_judged_with_dx_tolerance(tmp_path):
    """dx_diff is all rounding; where x is nearly constant, its cells are far above the RTOL of
    their own (tiny) scale, but within dx's."""
    rng = np.random.default_rng(5)
    x = 1000.0 + rng.standard_normal((4, 3)) * 1e-6
    path = bnsheet.build(tmp_path / "c.xlsx", x=x, seed=1, exercise="dx_diff")
    book = openpyxl.load_workbook(path)
    for r in ROWS:
        for c in COLS:
            book["dx_diff"][f"{c}{r}"] = f"=dx!{c}{r}-dx_compact!{c}{r}"
    book.save(path)
    assert one_node(path, "dx_diff") == ("correct", "")


def test_the_exercise_gives_the_task_not_the_answers_math_and_downstream_sheets_say_so(tmp_path):
    path = bnsheet.build(tmp_path / "e.xlsx", exercise="dxmu2")
    book = openpyxl.load_workbook(path)
    texts = [c.value for sheet in book for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]
    assert not [t for t in texts if "2 · xmu · dsq" in t]  # dxmu2's math line, on no sheet
    assert book["dxmu2"]["B1"].value.startswith("exercise b3  dxmu2: compute the second branch")
    assert "d(x²)/dx = 2x" in book["dxmu2"]["B4"].value  # the local rule stays
    shown = openpyxl.load_workbook(path, data_only=True)  # the cached values, what a preview shows
    assert "fill in the exercise dxmu2 first" in shown["dx"]["B1"].value
    assert "exercise" not in shown["dxmu1"]["B1"].value
    full = openpyxl.load_workbook(bnsheet.build(tmp_path / "full.xlsx"))
    assert any("2 · xmu · dsq" in (c.value or "") for c in full["graph"]["J"] if isinstance(c.value, str))


def test_unusable_files_have_a_status_and_a_reason_in_every_table(klass, tmp_path):
    import json

    folder = tmp_path / "submitted"
    learner(klass, "17", folder)
    shutil.copy(
        klass / "18.xlsx", folder / "18.ods"
    )  # an .xlsx named .ods: refused, by vetting or for want of LibreOffice
    (folder / "19.xlsx").write_bytes(b"PK\x03\x04 broken zip")
    graded = run("grade", str(folder), "--json")
    assert graded.returncode == 1
    files = {Path(f["file"]).name: f for f in json.loads(graded.stdout)["files"]}
    assert [files[name]["status"] for name in ("17.xlsx", "18.ods", "19.xlsx")] == ["graded", "unusable", "unusable"]
    assert files["18.ods"]["reason"].startswith(f"{folder / '18.ods'}: ")
    assert files["19.xlsx"]["reason"] and files["19.xlsx"]["score"] == 0
    table = run("grade", str(folder), "--csv").stdout
    rows = [row for row in csv.DictReader(io.StringIO(table)) if row["status"] == "unusable"]
    assert sorted(Path(row["file"]).name for row in rows) == ["18.ods", "19.xlsx"]
    text = run("grade", str(folder)).stdout
    assert "unusable" in text.splitlines()[-1] or "unusable" in text


def test_feedback_files_show_what_is_wrong_and_never_the_trials_numbers(klass, tmp_path):
    """A class's feedback: each file's own copy, marked at its own inputs (tests/test_feedback.py
    looks at one copy closely)."""
    folder = tmp_path / "submitted"
    right = expected_of(klass / "20.xlsx")["dxmu1"]
    learner(klass, "20", folder, dxmu1=lambda r, c: f"={float(right[r - 7, COLS.index(c)])!r}")
    learner(klass, "17", folder, dxhat="=dout!{c}{r}*gamma!{c}{r}")
    feedback = tmp_path / "feedback"
    graded = run("grade", str(folder), "--feedback", str(feedback))
    assert graded.returncode == 1
    assert sorted(p.name for p in feedback.iterdir()) == ["17.xlsx", "20.xlsx"]
    book17 = openpyxl.load_workbook(feedback / "17.xlsx")
    assert book17["feedback"]["A1"].value == "Feedback: student 17"
    assert book17["feedback"]["A2"].value == "17.xlsx: 13 of 14 exercise nodes correct"
    dxhat = expected_of(klass / "17.xlsx")["dxhat"]
    note = book17["dxhat"]["C8"].comment.text
    assert note.startswith(f"wrong: expected {dxhat[1, 0]:.6g}, got ") and "only the first row is right" in note
    note20 = openpyxl.load_workbook(feedback / "20.xlsx")["dxmu1"]["C7"].comment.text
    assert "typed numbers, not formulas" in note20 and "expected" not in note20
    kept = (feedback / "17.xlsx").read_bytes()
    again = run("grade", str(folder), "--feedback", str(feedback))
    assert again.returncode == 2 and "exists already" in again.stderr
    assert (feedback / "17.xlsx").read_bytes() == kept
