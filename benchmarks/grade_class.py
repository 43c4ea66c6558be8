"""Benchmark: grade a class of learners' exercise workbooks (default 200 submissions of 8×4).

Writes the submissions once (openpyxl, as another program would: some right, some with the
usual mistakes), then times, each as a whole process (``python -m bnsheet``, trials included):
``bnsheet verify`` of one submission and ``bnsheet grade`` of it (medians of three), and one
``bnsheet grade`` of the whole folder (which grades in one worker per core); prints the times,
the CPU they took (user + system, all processes) and the ratios issue 16 and 18 set: the class
at most 15x one verify, one file at most 1.5x. The machine is shared: the load average is printed
beside, and wall times under load move with it.

    python benchmarks/grade_class.py [--files 200] [--n 8] [--d 4] [--engine formualizer]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import openpyxl
from openpyxl.workbook.defined_name import DefinedName

import bnsheet
from bnsheet.model.graph import load
from bnsheet.writing.exercise import NAME, choose, stored

MISTAKES = {  # node: a wrong formula for its first cell (filled over the row where it is 1xD)
    "dxhat": "=dout!{c}{r}*gamma!{c}{r}",  # $ forgotten
    "dmu": "=SUM(dx1!{c}$7:{c}${b})",  # sign
    "dsq": "=dvar!{c}$7",  # 1/N missing
    "dgammax": "=out!{c}{r}",  # wrong sheet
}


def write_class(folder: Path, files: int, n: int, d: int) -> list[Path]:
    solution = bnsheet.build(folder / "solution.xlsx", n=n, d=d, seed=1)
    exercise = ",".join(choose("backward", load()))
    rng = random.Random(0)
    paths = []
    for k in range(files):
        book = openpyxl.load_workbook(solution)
        book.defined_names[NAME] = DefinedName(NAME, attr_text=stored(exercise.split(",")))
        for node in rng.sample(sorted(MISTAKES), rng.randint(0, 2)):
            last = 7 if node == "dmu" else 6 + n
            for row in book[node].iter_rows(min_row=7, max_row=last, min_col=3, max_col=2 + d):
                for cell in row:
                    cell.value = MISTAKES[node].format(c=cell.column_letter, r=cell.row, b=6 + n)
        path = folder / "class" / f"learner{k:03d}.xlsx"
        path.parent.mkdir(exist_ok=True)
        book.save(path)
        paths.append(path)
    solution.unlink()
    return paths


def timed(*args: str) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, with every process it started) of ``bnsheet ARGS``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bnsheet", *args], capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise SystemExit(f"bnsheet {' '.join(args)} failed: {done.stderr}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def median_of_three(*args: str) -> tuple[float, float]:
    runs = [timed(*args) for _ in range(3)]
    return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--d", type=int, default=4)
    parser.add_argument("--engine", default="formualizer")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        paths = write_class(folder, args.files, args.n, args.d)
        written = time.perf_counter() - start
        one = str(paths[0])
        verify = median_of_three("verify", one, "--engine", args.engine)
        single = median_of_three("grade", one, "--engine", args.engine)
        load = os.getloadavg()[0]
        graded = timed("grade", str(folder / "class"), "--engine", args.engine, "--csv")
        book = bnsheet.grade_all([folder / "class"], engine=args.engine, workers=1)
    scores = book.scores["score"].astype(float)
    print(f"{args.files} submissions of {args.n}x{args.d}, engine {args.engine}, written in {written:.1f} s; "
          f"{os.cpu_count()} cores, load average {load:.1f} before grading the class")  # fmt: skip
    header = ("task", "wall s", "CPU s", "x verify (wall)", "x verify (CPU)")
    print(" ".join(f"{h:>16}" for h in header))
    for task, (wall, cpu) in (("verify one", verify), ("grade one", single), (f"grade {args.files}", graded)):
        print(f"{task:>16} {wall:>16.2f} {cpu:>16.2f} {wall / verify[0]:>16.1f} {cpu / verify[1]:>16.1f}")
    print(f"mean score {scores.mean():.2f} of {book.grades[0].out_of}; per file {1000 * graded[0] / args.files:.0f} ms")


if __name__ == "__main__":
    main()
