"""``grade --engine all``: the default engine grades, every installed engine is asked too, and
where they disagree at the file's own inputs the grade says which engine gave which verdict.

Real submissions (openpyxl) and real applications; the disagreements are the known ones of
SPEC §13: range arithmetic outside an array formula (LibreOffice and Gnumeric intersect) and
INDEX(range,0,k) (Gnumeric: #REF!).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_cli import run_here as run
from test_grade import D, N, submit
from test_ods import to_ods

import bnsheet
from bnsheet import engines
from bnsheet.a1 import Area
from bnsheet.engines import libreoffice
from bnsheet.model.inputs import make

pytestmark = [pytest.mark.apps("soffice"), pytest.mark.apps("ssconvert")]
PLAIN_DBETA = "=SUM(dout!{c}$7:{c}$10)"  # test_grade's CORRECT has INDEX(bn_dout,0,k) for dbeta
RANGE = "=SUM(dgammax!{c}7:{c}10*xhat!{c}7:{c}10)"  # range arithmetic outside an array formula


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, dict[str, object]]]:
    """Three submissions graded once with --engine all: per file, per node, the JSON row."""
    folder = tmp_path_factory.mktemp("all")
    blank = bnsheet.build(folder / "blank.xlsx", n=N, d=D, seed=0, exercise="backward")
    submit(blank, folder / "s" / "plain.xlsx", dbeta=PLAIN_DBETA)
    submit(blank, folder / "s" / "range.xlsx", dbeta=PLAIN_DBETA, dgamma=RANGE)
    submit(blank, folder / "s" / "index.xlsx")
    saved = to_ods(submit(blank, folder / "o" / "rods.xlsx", dbeta=PLAIN_DBETA, dgamma=RANGE))
    saved.rename(folder / "s" / "rods.ods")  # an .ods: LibreOffice is asked of its converted copy
    done = run("grade", str(folder / "s"), "--engine", "all", "--json")
    assert done.returncode == 1, done.stderr
    rows: dict[str, dict[str, dict[str, object]]] = {}
    for row in json.loads(done.stdout)["nodes"]:
        rows.setdefault(Path(str(row["file"])).stem, {})[str(row["node"])] = row
    return rows


def test_every_installed_engine_gives_its_verdict(graded):
    columns = {key for key in graded["plain"]["dxhat"] if key.startswith("status_")}
    assert columns == {f"status_{name}" for name in engines.installed()}
    assert {row["status"] for row in graded["plain"].values()} == {"correct"}
    assert all(row["diagnosis"] in ("", None) for row in graded["plain"].values())


@pytest.mark.parametrize("name", ["range", "rods"])
def test_range_arithmetic_is_wrong_in_the_applications_that_intersect(graded, name):
    dgamma = graded[name]["dgamma"]
    assert dgamma["status"] == "app-dependent"
    assert (dgamma["status_libreoffice"], dgamma["status_gnumeric"]) == ("wrong", "wrong")
    assert "engines disagree at the file's own inputs: formualizer app-dependent, gnumeric wrong" in str(
        dgamma["diagnosis"]
    )
    dx = graded[name]["dx"]  # the compact dx reads dgamma: the disagreement is dgamma's, dx stays correct
    assert dx["status"] == "correct" and "(as they do on dgamma, which it reads)" in str(dx["diagnosis"])


def test_index_over_a_named_range_is_an_error_in_gnumeric(graded):
    dbeta = graded["index"]["dbeta"]
    assert (dbeta["status"], dbeta["status_formualizer"], dbeta["status_gnumeric"]) == (
        "app-dependent",
        "correct",
        "error",
    )
    assert graded["plain"]["dbeta"]["status_gnumeric"] == "correct"


def test_libreoffice_recalculates_files_of_one_name_in_one_run_each_its_own(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    paths = [bnsheet.build(tmp_path / folder / "book.xlsx", seed=seed) for folder, seed in (("a", 1), ("b", 2))]
    mean = Area("mean", 7, 3, 7, 5)
    runs = libreoffice.recalculate_files(paths, [[mean], [mean]])
    for seed, values in zip((1, 2), runs, strict=True):
        expected = make(n=4, d=3, seed=seed).x.mean(axis=0)
        np.testing.assert_allclose(values[mean].astype(float)[0], expected, rtol=1e-14)
