"""Options of an exercise: the hints its sheets give, the mark on the graph sheet, the titles that
ask for the exercise first (a formula every engine recalculates), and per-node points, recorded in
the workbook and counted by grade.

Workbooks are built by the command line and filled with openpyxl as a learner would; the titles
are recalculated by the real engines.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import openpyxl
import pytest
from test_cli import run_here as run
from test_grade import COLS, ROWS, submit

from bnsheet import engines
from bnsheet.a1 import Area

DXMU2 = "=2*dsq!{c}{r}*xmu!{c}{r}"
TITLE = Area("dx", 1, 2, 1, 2)  # B1 of dx, which reads dxmu2


def names_of(path: Path) -> dict[str, str]:
    return {name: d.attr_text for name, d in openpyxl.load_workbook(path).defined_names.items()}


def notes(path: Path, sheet: str) -> list[str | None]:
    book = openpyxl.load_workbook(path)
    return [book[sheet].cell(r, 2).value for r in range(1, 6)]


TITLE_LINES = [
    "exercise b3  dxmu2: compute the second branch of the gradient flowing into xmu",
    "shape N×D = 4×3: type one formula in C7 and fill it over C7:E10",
]
HINTS = {
    "none": [*TITLE_LINES, None, None, None],
    "rule": [*TITLE_LINES, "read the sheets xmu, dsq", "local rule: d(x²)/dx = 2x", None],
    "math": [*TITLE_LINES, "read the sheets xmu, dsq", "local rule: d(x²)/dx = 2x", "dxmu2 = 2 · xmu · dsq"],
}


@pytest.mark.parametrize("hints", list(HINTS))
def test_hints_choose_what_the_exercise_sheet_gives_besides_its_task(tmp_path, hints):
    path = tmp_path / f"{hints}.xlsx"
    made = run("build", "-o", str(path), "--exercise", "dxmu2", "--hints", hints)
    assert made.returncode == 0, made.stderr
    assert notes(path, "dxmu2") == HINTS[hints]
    assert names_of(path)["bn_hints"] == f'"{hints}"'


def test_the_default_hints_are_the_rule_and_hints_need_an_exercise(tmp_path):
    path = tmp_path / "e.xlsx"
    assert run("build", "-o", str(path), "--exercise", "dxmu2").returncode == 0
    assert notes(path, "dxmu2") == HINTS["rule"] and names_of(path)["bn_hints"] == '"rule"'
    alone = run("build", "-o", str(tmp_path / "f.xlsx"), "--hints", "none")
    assert (alone.returncode, alone.stderr) == (2, "bnsheet: --hints goes with --exercise NODES\n")
    assert not (tmp_path / "f.xlsx").exists()


@pytest.mark.parametrize(
    "lang, legend", [("en", "✎ marks an exercise: its sheet is yours to fill in."), ("ja", "✎ は演習")]
)
def test_the_graph_sheet_marks_the_exercises(tmp_path, lang, legend):
    path = tmp_path / f"{lang}.xlsx"
    assert run("build", "-o", str(path), "--exercise", "dxmu2,mean", "--lang", lang).returncode == 0
    graph = openpyxl.load_workbook(path)["graph"]
    names = [c.value for row in graph.iter_rows() for c in row if c.hyperlink and "✎" in str(c.value)]
    assert sorted(names) == ["✎ dxmu2", "✎ mean"]
    assert legend in graph["B3"].value
    links = {c.coordinate: c.hyperlink.location for row in graph.iter_rows() for c in row if c.hyperlink}
    marked = next(c.coordinate for row in graph.iter_rows() for c in row if c.value == "✎ dxmu2")
    assert links[marked] == "'dxmu2'!A1"
    plain = openpyxl.load_workbook(_full(tmp_path, lang))["graph"]
    assert not [c.value for row in plain.iter_rows() for c in row if isinstance(c.value, str) and "✎" in c.value]


def _full(tmp_path: Path, lang: str) -> Path:
    path = tmp_path / f"full-{lang}.xlsx"
    assert run("build", "-o", str(path), "--lang", lang).returncode == 0
    return path


@pytest.fixture(scope="module")
def dxmu2(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The dxmu2 exercise blank, half filled (column C only) and filled in."""
    folder = tmp_path_factory.mktemp("dxmu2")
    blank = folder / "blank.xlsx"
    assert run("build", "-o", str(blank), "--exercise", "dxmu2").returncode == 0
    half = folder / "half.xlsx"
    book = openpyxl.load_workbook(blank)
    for r in ROWS:
        book["dxmu2"][f"C{r}"] = DXMU2.format(c="C", r=r)
    book.save(half)
    filled = folder / "filled.xlsx"
    for r in ROWS:
        for c in COLS:
            book["dxmu2"][f"{c}{r}"] = DXMU2.format(c=c, r=r)
    book.save(filled)
    return {"blank": blank, "half": half, "filled": filled}


LIVE_ENGINES = [
    "formualizer",
    "ironcalc",
    pytest.param("libreoffice", marks=pytest.mark.apps("soffice")),
    pytest.param("gnumeric", marks=pytest.mark.apps("ssconvert")),
]


@pytest.mark.parametrize("engine", LIVE_ENGINES)
def test_a_sheet_downstream_asks_for_the_exercise_until_it_is_filled_in(dxmu2, engine):
    if engine not in engines.installed():
        pytest.skip(f"{engine} is not installed")
    shown = {state: engines.recalculate(engine, path, [TITLE])[TITLE][0, 0] for state, path in dxmu2.items()}
    title = "b0  dx (N×D = 4×3): gradient of x: what the layer passes back"
    asking = f"{title}  (fill in the exercise dxmu2 first: until then these numbers are computed from its empty cells)"
    assert shown == {"blank": asking, "half": asking, "filled": title}


BAD_POINTS = [
    (["--points", "dxq=2"], "--points dxq: no node of that name (did you mean dx?)"),
    (["--points", "dvar=2"], "--points dvar: not in the exercise (dxhat, dx)"),
    (["--points", "dx=0"], "--points dx=0: points must be a positive number"),
    (["--points", "dx=-1"], "--points dx=-1: points must be a positive number"),
    (["--points", "dx=two"], "--points dx=two: points must be a positive number"),
    (["--points", "dx=nan"], "--points dx=nan: points must be a positive number"),
    (["--points", "dx=2,dx=3"], "--points dx: given twice"),
    (["--points", "dx"], "--points dx: write node=points, such as dxhat=2,dvar=3"),
]


@pytest.mark.parametrize("args, message", BAD_POINTS, ids=[b[0][1] for b in BAD_POINTS])
def test_bad_points_are_one_line_and_nothing_is_written(tmp_path, args, message):
    path = tmp_path / "e.xlsx"
    made = run("build", "-o", str(path), "--exercise", "dxhat,dx", *args)
    assert (made.returncode, made.stderr) == (2, f"bnsheet: {message}\n")
    roster = tmp_path / "roster.csv"
    roster.write_text("id\n1\n2\n")
    made = run("build", "-o", str(tmp_path / "class"), "--exercise", "dxhat,dx", "--roster", str(roster), *args)
    assert (made.returncode, made.stderr) == (2, f"bnsheet: {message}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["roster.csv"]


@pytest.fixture(scope="module")
def pointed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A class of two built with points: dxhat 2, dvar 3, the other twelve backward nodes 1."""
    folder = tmp_path_factory.mktemp("pointed")
    (folder / "roster.csv").write_text("id\n17\n18\n")
    made = run(
        "build", "--exercise", "backward", "--roster", str(folder / "roster.csv"), "-o", str(folder / "class"),
        "--points", "dxhat=2,dvar=3", "--hints", "none",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    return folder


def test_points_are_recorded_and_the_score_is_out_of_them(pointed, tmp_path):
    names = names_of(pointed / "class" / "17.xlsx")
    assert names["bn_points"].startswith('"dbeta=1,') and "dxhat=2" in names["bn_points"]
    assert "dvar=3" in names["bn_points"] and names["bn_hints"] == '"none"'
    folder = tmp_path / "submitted"
    submit(pointed / "class" / "17.xlsx", folder / "17.xlsx", dxhat="=dout!{c}{r}*gamma!{c}{r}")  # wrong: 2 points
    submit(pointed / "class" / "18.xlsx", folder / "18.xlsx", dsq="=dvar!{c}$7")  # wrong: 1 point
    gradebook = tmp_path / "gradebook.csv"
    roster = str(pointed / "roster.csv")
    graded = run("grade", str(folder), "--roster", roster, "--gradebook", str(gradebook), "--json")
    assert graded.returncode == 1, graded.stderr
    files = {Path(f["file"]).stem: (f["score"], f["out_of"], f["correct"]) for f in json.loads(graded.stdout)["files"]}
    assert files == {"17": (15, 17, 13), "18": (16, 17, 13)}
    rows = {row["id"]: (row["score"], row["out_of"]) for row in csv.DictReader(io.StringIO(gradebook.read_text()))}
    assert rows == {"17": ("15", "17"), "18": ("16", "17")}
    table = list(csv.DictReader(io.StringIO(run("grade", str(folder / "17.xlsx"), "--csv").stdout)))
    assert {(row["node"], row["points"]) for row in table if row["node"] in ("dxhat", "dvar", "dx")} == {
        ("dxhat", "2"),
        ("dvar", "3"),
        ("dx", "1"),
    }
    assert "score 15/17 (13 of 14 nodes correct)" in run("grade", str(folder / "17.xlsx")).stdout


@pytest.mark.apps("soffice")
def test_hints_and_points_survive_a_save_in_libreoffice(pointed, tmp_path):
    from bnsheet.engines import libreoffice
    from bnsheet.grading.grade import grade

    saved = libreoffice.save(pointed / "class" / "17.xlsx", tmp_path / "17.xlsx")
    graded = grade(saved)
    assert (graded.hints, graded.out_of, graded.points["dvar"]) == ("none", 17, 3)
