"""Benchmark: grade a class of learners' exercise workbooks (default 200 submissions of 8×4).

Writes the submissions once (openpyxl, as another program would: some right, some with the
usual mistakes), then times ``grade_all`` over the folder and prints a table.

    python benchmarks/grade_class.py [--files 200] [--n 8] [--d 4] [--engine formualizer]
"""

from __future__ import annotations

import argparse
import random
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
        write_class(folder, args.files, args.n, args.d)
        written = time.perf_counter() - start
        start = time.perf_counter()
        book = bnsheet.grade_all([folder / "class"], engine=args.engine)
        graded = time.perf_counter() - start
    scores = book.scores["score"]
    header = ("files", "N×D", "engine", "write s", "grade s", "per file ms", "mean score")
    print(" ".join(f"{h:>{w}}" for h, w in zip(header, (6, 6, 12, 8, 8, 12, 10), strict=True)))
    print(f"{args.files:>6} {f'{args.n}x{args.d}':>6} {args.engine:>12} {written:>8.1f} {graded:>8.1f} "
          f"{1000 * graded / args.files:>12.0f} {scores.mean():>10.3f}")  # fmt: skip


if __name__ == "__main__":
    main()
