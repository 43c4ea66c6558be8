"""Grading a class in worker processes: the same verdicts in the order of the files, a worker
that dies costs only its own file, and Ctrl-C stops every process with one line.

Submissions are real workbooks filled with openpyxl and graded with formualizer in real worker
processes (spawned from this test process, which has threads; forked from the command).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_grade import D, N, submit

import bnsheet
from bnsheet.grading import workers
from bnsheet.grading.gradebook import grade_all

pytestmark = pytest.mark.apps()  # starts worker processes, spawned ones importing bnsheet

MISTAKES = [{}, {"dxhat": "=dout!{c}{r}*gamma!{c}{r}"}, {"dmu": "=SUM(dx1!{c}$7:{c}$10)"}, {"dsq": "=dvar!{c}$7"}]


@pytest.fixture(scope="module")
def submissions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten submissions, right or with one of three mistakes, and a broken file among them."""
    folder = tmp_path_factory.mktemp("submissions")
    exercise = bnsheet.build(tmp_path_factory.mktemp("blank") / "e.xlsx", n=N, d=D, seed=0, exercise="backward")
    for k in range(10):
        submit(exercise, folder / f"s{k:02d}.xlsx", **MISTAKES[k % len(MISTAKES)])  # type: ignore[arg-type]
    (folder / "s05.xlsx").write_bytes(b"PK\x03\x04 not a zip")
    return folder


def test_two_workers_give_the_verdicts_of_one_in_the_order_of_the_files(submissions):
    alone = grade_all([submissions], workers=1)
    side_by_side = grade_all([submissions], workers=2)
    assert side_by_side.to_csv() == alone.to_csv()
    names = [g.path.name for g in side_by_side.grades]
    assert names == sorted(f"s{k:02d}.xlsx" for k in range(10) if k != 5)
    wrong = {g.path.name: [n.node for n in g.nodes if n.status != "correct"] for g in side_by_side.grades}
    assert wrong["s00.xlsx"] == [] and wrong["s01.xlsx"] == ["dxhat"] and wrong["s02.xlsx"] == ["dmu"]
    assert wrong["s03.xlsx"] == ["dsq"]
    assert [(p.name, "not an .xlsx workbook" in why) for p, why in side_by_side.unusable] == [("s05.xlsx", True)]


def _start_method(script: str) -> str:
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_workers_are_forked_from_one_thread_and_spawned_from_several():
    """Forking a process with other threads copies locks that no thread will let go of."""
    pick = "from bnsheet.grading import workers; print(workers._context().get_start_method())"
    assert _start_method(pick) == "fork"
    threaded = "import threading, time; threading.Thread(target=time.sleep, args=(5,), daemon=True).start(); "
    assert _start_method(threaded + pick) == "spawn"


def dies_on_b(path: Path) -> str:
    """A task that kills its worker process on the file b (as an engine that crashes would)."""
    if path.name == "b":
        os._exit(3)
    return path.name


def test_a_worker_that_dies_costs_only_its_own_file():
    paths = [Path(name) for name in "abcd"]
    results = workers.run_each(dies_on_b, paths, 2, lambda path, why: f"{path.name} crashed: {why}")
    assert results[0] == "a" and results[2:] == ["c", "d"]
    assert results[1].startswith("b crashed: grading it stopped its worker process")


def _interruptible() -> None:
    """Ctrl-C acts in the command as at a terminal, also in a test run started in the background
    (as conftest.interruptible; not imported: the workers import this module, where conftest may
    name another file)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _session(sid: int) -> list[int]:
    """The processes of session ``sid`` still running (zombies are gone)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def test_ctrl_c_stops_the_workers_with_one_line(submissions, tmp_path):
    many = tmp_path / "many"
    many.mkdir()
    for k in range(4):  # 36 files: the workers are busy when Ctrl-C comes
        for path in submissions.glob("*.xlsx"):
            (many / f"{k}-{path.name}").write_bytes(path.read_bytes())
    process = subprocess.Popen(
        [sys.executable, "-m", "bnsheet", "grade", str(many)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_interruptible,
        cwd=Path(__file__).parent.parent,
    )
    deadline = time.monotonic() + 60
    while len(_session(process.pid)) < 3 and time.monotonic() < deadline:  # the command and two workers
        time.sleep(0.05)
    assert len(_session(process.pid)) >= 3, "the workers never started"
    time.sleep(1.0)
    os.killpg(process.pid, signal.SIGINT)  # as a terminal sends Ctrl-C: to the whole group
    _, err = process.communicate(timeout=60)
    assert (process.returncode, err) == (130, "bnsheet: interrupted\n")
    deadline = time.monotonic() + 10
    while _session(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _session(process.pid) == []
