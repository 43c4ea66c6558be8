"""A whole class graded in one ``bnsheet grade`` call, as a teacher runs it: a roster of 32, built
by the command line; 30 hand-ins (right in several forms, each typical mistake, typed numbers,
another student's file, edited inputs, an .ods, a broken file, a file saved through LibreOffice),
two students handing in nothing. Every verdict and diagnosis is asserted from the JSON report, the
gradebook has a row per roster student, and every graded file gets its feedback copy.

Submissions are written with openpyxl (and LibreOffice, for the two it saves); the expected
numbers of typed-in answers come from the NumPy reference at each file's own inputs.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest
from openpyxl.worksheet.formula import ArrayFormula
from test_class import COLS, expected_of, learner
from test_cli import run_here as run
from test_grade import MISTAKES

pytestmark = pytest.mark.apps("soffice")  # the .ods and the file saved through LibreOffice

IDS = [f"s{k:02d}" for k in range(32)]
MISSING = {"s30", "s31"}
DXHAT = "=gamma!{c}$7*dout!{c}{r}"

# student: (changes to the right answers, node -> (status, words of the diagnosis) the grader must give)
FILLED: dict[str, tuple[dict[str, object], dict[str, tuple[str, str]]]] = {
    "s00": ({}, {}),  # test_grade's CORRECT: unquoted names, INDEX, bn_ names, an array formula
    "s01": (
        {"dxhat": "='dgammax'!{c}{r}*'gamma'!{c}$7", "dmu": "=-SUMPRODUCT(dx1!{c}$7:{c}$10)", "dsq": "=dvar!{c}$7/4"},
        {},
    ),
    "s02": ({"dxhat": lambda r, c: f"=dout!${c}${r}*gamma!${c}$7"}, {"dxhat": ("correct", "not one formula filled")}),
    **{
        f"s{3 + k:02d}": ({node: fill}, {node: (status, diagnosis)})
        for k, (node, fill, status, diagnosis) in enumerate(MISTAKES)
    },  # s03 … s11, dx1's cycle runs through dmu: asserted below
    "s12": ({"dxhat": lambda r, c: DXHAT.format(c=c, r=9 if r == 10 else r)},
            {"dxhat": ("wrong", "only row 10 (the last row) is wrong")}),
    "s13": ({"dxhat": lambda r, c: DXHAT.format(c="D" if c == "E" else c, r=r)},
            {"dxhat": ("wrong", "only column E (the last column) is wrong")}),
    "s14": ({"dxhat": lambda r, c: DXHAT.format(c=c, r=r) + ("*2" if (r, c) == (8, "D") else "")},
            {"dxhat": ("wrong", "only D8 is wrong")}),
    "s15": ({"dmu": lambda r, c: "=-SUM(dx1!C$7:C$10)" if c == "C" else None},
            {"dmu": ("wrong", "incomplete: 2 cell(s) empty: D7, E7")}),
    "s16": ({"dgamma": "=SUM(dgammax!{c}7:{c}10*xhat!{c}7:{c}10)"},
            {"dgamma": ("app-dependent", "=SUM(dgammax!C7:C10*xhat!C7:C10) computes with the range")}),
    "s17": ({"dvar": "=dsqrtvar!{c}$7*0.5*(var!{c}$7+0.00001)^-0.5"},
            {"dvar": ("wrong", "right only for these inputs: at other inputs")}),
    "s18": ({"dx": None, "dx1": None}, {"dx": ("empty", "nothing typed in C7:E10"), "dx1": ("empty", "")}),
}  # fmt: skip
TYPED = "s19"  # dxmu1 typed as numbers, =0.123… in every cell
PASTED = "s20"  # dxmu1 pasted as plain numbers
ARRAY = "s21"  # dxhat one array formula over the block
COPIED = "s22"  # hands in s23's file under its own name
EDITED = "s23"  # x changed in C7
ODS = "s24"  # saved by LibreOffice as .ods
SAVED = "s25"  # saved by LibreOffice as .xlsx
BROKEN = "s26"  # not a zip at all
BLANK = ("s27", "s28", "s29")  # handed back blank, half done, all right again


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("class")
    roster = folder / "roster.csv"
    roster.write_text("id,name\n" + "".join(f"{s},Learner {s}\n" for s in IDS))
    blanks = folder / "blanks"
    made = run("build", "--exercise", "backward", "--roster", str(roster), "-o", str(blanks), "--n", "4", "--d", "3")
    assert made.returncode == 0, made.stderr
    handed = folder / "handed-in"
    for student, (changes, _) in FILLED.items():
        learner(blanks, student, handed, **changes)
    right = expected_of(blanks / f"{TYPED}.xlsx")["dxmu1"]
    learner(blanks, TYPED, handed, dxmu1=lambda r, c: f"={float(right[r - 7, COLS.index(c)])!r}")
    right = expected_of(blanks / f"{PASTED}.xlsx")["dxmu1"]
    learner(blanks, PASTED, handed, dxmu1=lambda r, c: float(right[r - 7, COLS.index(c)]))
    _array_over_block(learner(blanks, ARRAY, handed, dxhat=None))
    shutil.copy(learner(blanks, EDITED, folder / "elsewhere"), handed / f"{COPIED}.xlsx")
    _edit_x(learner(blanks, EDITED, handed))
    _through_libreoffice(learner(blanks, ODS, folder / "to-ods"), "ods", handed)
    _through_libreoffice(learner(blanks, SAVED, folder / "to-xlsx"), "xlsx", handed)
    (handed / f"{BROKEN}.xlsx").write_bytes(b"PK\x03\x04 cut short")
    shutil.copy(blanks / f"{BLANK[0]}.xlsx", handed / f"{BLANK[0]}.xlsx")
    learner(blanks, BLANK[1], handed, dx=None, dx1=None, dx2=None, dmu=None, dxmu2=None)
    learner(blanks, BLANK[2], handed)
    gradebook, feedback = folder / "grades.csv", folder / "feedback"
    done = run("grade", str(handed), "--roster", str(roster), "--gradebook", str(gradebook),
               "--feedback", str(feedback), "--json")  # fmt: skip
    assert done.returncode == 1, done.stderr  # wrong answers and a broken file: not all correct
    report = json.loads(done.stdout)
    files = {Path(row["file"]).stem: row for row in report["files"]}
    nodes: dict[str, dict[str, tuple[str, str]]] = {}
    for row in report["nodes"]:
        nodes.setdefault(Path(row["file"]).stem, {})[row["node"]] = (row["status"], row["diagnosis"] or "")
    rows = list(csv.DictReader(io.StringIO(gradebook.read_text())))
    return {"files": files, "nodes": nodes, "gradebook": rows, "feedback": feedback, "handed": handed}


def _array_over_block(path: Path) -> None:
    book = openpyxl.load_workbook(path)
    book["dxhat"]["C7"] = ArrayFormula("C7:E10", "=dgammax!C7:E10*gamma!C7:E7")
    book.save(path)


def _edit_x(path: Path) -> None:
    book = openpyxl.load_workbook(path)
    book["x"]["C7"] = 1.5
    book.save(path)


def _through_libreoffice(source: Path, kind: str, folder: Path) -> None:
    profile = (source.parent / "profile").as_uri()
    subprocess.run(
        ["soffice", f"-env:UserInstallation={profile}", "--headless", "--norestore", "--convert-to", kind,
         "--outdir", str(folder), str(source)],
        check=True, capture_output=True, timeout=240,
    )  # fmt: skip


def test_every_roster_student_has_a_gradebook_row_and_missing_ones_say_so(graded):
    rows = {row["id"]: row for row in graded["gradebook"]}
    assert list(rows) == IDS
    assert {s for s, row in rows.items() if row["status"] == "missing"} == MISSING
    assert rows[BROKEN]["status"] == "unusable" and rows[BROKEN]["reason"]
    assert all(rows[s]["status"] == "graded" for s in IDS if s not in MISSING | {BROKEN})
    assert all(rows[s]["out_of"] == "14" for s in IDS if s not in MISSING | {BROKEN})


def test_right_answers_in_every_form_score_full_marks(graded):
    for student in ("s00", "s01", ARRAY, ODS, SAVED, BLANK[2]):
        assert graded["files"][student]["score"] == 14, (student, graded["nodes"][student])


@pytest.mark.parametrize("student", sorted(FILLED))
def test_each_mistake_gets_its_status_and_diagnosis_and_counts_once(graded, student):
    changes, said = FILLED[student]
    nodes = graded["nodes"][student]
    for node, (status, diagnosis) in said.items():
        assert nodes[node][0] == status and diagnosis in nodes[node][1], (node, nodes[node])
    others = {n: v for n, v in nodes.items() if n not in said and v[0] != "correct"}
    if "dx1" in changes and changes["dx1"] is not None:  # the cycle runs through dmu, which reads dx1
        assert set(others) == {"dmu"} and "circular" in others["dmu"][1]
    else:
        assert others == {}, others
    assert graded["files"][student]["score"] == sum(status == "correct" for status, _ in nodes.values())


def test_numbers_typed_or_pasted_are_wrong(graded):
    typed, pasted = graded["nodes"][TYPED]["dxmu1"], graded["nodes"][PASTED]["dxmu1"]
    assert typed[0] == "wrong" and typed[1].startswith("typed numbers, not formulas: C7, D7, E7"), typed
    assert pasted[0] == "wrong" and "values pasted instead of formulas in 12 cell(s)" in pasted[1], pasted
    assert graded["files"][TYPED]["score"] == graded["files"][PASTED]["score"] == 13


def test_a_copied_file_names_its_owner_and_edited_inputs_are_told(graded):
    files = graded["files"]
    assert files[COPIED]["inputs"] == f"of student {EDITED}"
    assert files[EDITED]["inputs"] == "edited"
    assert {files[s]["inputs"] for s in ("s00", ODS, SAVED, *BLANK)} == {"own"}


def test_blank_and_half_done_workbooks(graded):
    assert {status for status, _ in graded["nodes"][BLANK[0]].values()} == {"empty"}
    half = graded["nodes"][BLANK[1]]
    assert {n for n, (status, _) in half.items() if status == "empty"} == {"dx", "dx1", "dx2", "dmu", "dxmu2"}
    assert graded["files"][BLANK[1]]["score"] == 9


def test_the_broken_file_is_unusable_in_the_files_table_too(graded):
    broken = graded["files"][BROKEN]
    assert broken["status"] == "unusable" and broken["reason"] and broken["score"] == 0


def test_every_graded_file_gets_a_feedback_copy_and_the_hand_ins_are_untouched(graded):
    written = {p.stem for p in graded["feedback"].iterdir()}
    assert written == set(IDS) - MISSING - {BROKEN}
    assert all(p.suffix == ".xlsx" for p in graded["feedback"].iterdir())
    summary = openpyxl.load_workbook(graded["feedback"] / f"{TYPED}.xlsx").worksheets[0]
    texts = [str(c.value) for row in summary.iter_rows() for c in row if c.value is not None]
    assert any("typed numbers" in t for t in texts)
    assert (graded["handed"] / f"{ODS}.ods").exists() and not (graded["handed"] / f"{ODS}.xlsx").exists()
