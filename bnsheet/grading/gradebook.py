"""A gradebook: grade many learners' workbooks (files or folders) into one table, a score per file.

A file that cannot be graded (not a workbook, no inputs) is a row of its own, so one broken
submission does not stop a class from being graded.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .. import engines, tables
from ..engines import libreoffice
from ..errors import BnsheetError, WorkbookError
from ..writing.roster import Roster
from . import opinions
from . import workers as workers_module
from .grade import COLUMNS, Grade, grade, template

if TYPE_CHECKING:
    import pandas as pd

FILE_COLUMNS = ["file", "student", "status", "inputs", "score", "out_of", "correct", "nodes", "reason"]


@dataclass
class Gradebook:
    """Grades of several files, and the files that could not be graded (path, reason)."""

    grades: list[Grade] = field(default_factory=list)
    unusable: list[tuple[Path, str]] = field(default_factory=list)
    roster: Roster | None = None

    @property
    def ok(self) -> bool:
        return not self.unusable and all(g.ok for g in self.grades)

    @property
    def scores(self) -> pd.DataFrame:
        """One row per file: its student, status (graded or unusable), whose inputs it carries, its
        score (the points of its correct nodes) out of the exercise's points, correct and node
        counts, and why it is unusable."""
        import pandas as pd

        return pd.DataFrame(self._score_rows(), columns=FILE_COLUMNS, dtype=object)  # object: points stay whole

    def _score_rows(self) -> list[tuple[object, ...]]:
        rows: list[tuple[object, ...]] = [
            (str(g.path), g.student, "graded", g.inputs, g.score, g.out_of, g.correct, len(g.nodes), "")
            for g in self.grades
        ]
        rows += [
            (str(path), _student(path, self.roster), "unusable", "", 0, None, 0, 0, why) for path, why in self.unusable
        ]
        return rows

    @property
    def table(self) -> pd.DataFrame:
        """One row per file and node; a file that could not be graded is one row, status unusable."""
        import pandas as pd

        columns, rows = self._node_rows()
        # object columns where an unusable file leaves cells empty: the whole numbers stay whole
        return pd.DataFrame(rows, columns=columns, dtype=object if self.unusable else None)

    def _node_rows(self) -> tuple[list[str], list[list[object]]]:
        compared = dict.fromkeys(name for g in self.grades for name in g.compared)
        columns = ["file", "score", "out_of", *COLUMNS, *(f"status_{name}" for name in compared)]
        rows = [
            [row.get(column) for column in columns]
            for g in self.grades
            for row in ({"file": str(g.path), "score": g.score, "out_of": g.out_of} | one for one in g.rows())
        ]
        rows += [
            [row.get(column) for column in columns]
            for row in (
                {"file": str(path), "score": 0, "status": "unusable", "diagnosis": reason}
                for path, reason in self.unusable
            )
        ]
        return columns, rows

    def to_csv(self) -> str:
        return _csv(*self._node_rows())

    def to_json(self) -> str:
        files = json.loads(self.scores.to_json(orient="records"))
        nodes = json.loads(self.table.to_json(orient="records"))
        return json.dumps({"ok": self.ok, "files": files, "nodes": nodes}, indent=2)

    def to_lms_csv(self) -> str:
        """The gradebook an LMS imports: one row per roster student (per file without a roster):
        id, score (the points of the correct nodes), out_of (the exercise's points), status
        (graded, unusable, missing), inputs, file, then each node's status. A student with several
        files is given the best one."""
        nodes = list(dict.fromkeys(g.node for grade in self.grades for g in grade.nodes))
        rows: dict[str, dict[str, object]] = {}
        for path, reason in self.unusable:
            student = _student(path, self.roster) or path.stem
            rows.setdefault(student, {"id": student, "score": 0, "out_of": "", "status": "unusable",
                                      "inputs": "", "file": str(path), "reason": reason})  # fmt: skip
        for graded in sorted(self.grades, key=lambda g: g.score):  # the best file of a student last
            student = graded.student or graded.path.stem
            rows[student] = {"id": student, "score": graded.score, "out_of": graded.out_of, "status": "graded",
                             "inputs": graded.inputs, "file": str(graded.path), "reason": ""}  # fmt: skip
            rows[student] |= {g.node: g.status for g in graded.nodes}
        if self.roster is not None:
            missing = {"score": 0, "out_of": "", "status": "missing", "inputs": "", "file": "", "reason": "no file"}
            rows = {student: rows.get(student, {"id": student} | missing) for student in self.roster.ids} | {
                student: row for student, row in rows.items() if student not in self.roster.ids
            }
        columns = ["id", "score", "out_of", "status", "inputs", "file", "reason", *nodes]
        return _csv(columns, [[row.get(column) for column in columns] for row in rows.values()])

    def to_text(self) -> str:
        parts = [g.to_text() for g in self.grades]
        parts += [f"{path}: cannot be graded: {reason}" for path, reason in self.unusable]
        if len(self.grades) + len(self.unusable) > 1:
            # not through pandas: importing it would take longer than grading a small file
            parts.append(tables.aligned(FILE_COLUMNS, tables.shown(self._score_rows())))
        return "\n\n".join(parts)


def _csv(columns: list[str], rows: list[list[object]]) -> str:
    """CSV as pandas writes it (an empty field for nothing), without importing pandas: that takes
    longer than writing a class's rows."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return text.getvalue()


def _student(path: Path, roster: Roster | None) -> str:
    return path.stem if roster is not None and path.stem in roster.ids else ""


def submissions(paths: Sequence[str | Path]) -> list[Path]:
    """The workbooks to grade: files as given, and every .xlsx in a folder (sorted, recursively);
    .ods files in a folder are listed too, so that each is reported (unusable) rather than skipped."""
    found: list[Path] = []
    for given in map(Path, paths):
        if given.is_dir():
            found += sorted(
                p
                for p in given.rglob("*")
                if p.suffix.lower() in (".xlsx", ".ods")
                and p.is_file()
                and not p.name.startswith(("~$", ".~lock", "."))
            )
        else:
            found.append(given)
    if not found:
        raise WorkbookError(f"no .xlsx workbooks in {', '.join(map(str, paths)) or 'the arguments'}")
    return found


def grade_all(
    paths: Sequence[str | Path], engine: str | None = None, roster: Roster | None = None, *, workers: int = 1
) -> Gradebook:
    """Grade every workbook in ``paths`` (files or folders); with a ``roster`` (writing/roster.py),
    each file's inputs are checked against every student's. ``engine="all"`` grades with the
    default engine and asks every installed engine too (opinions.py). ``workers`` processes grade
    files side by side (workers.py; the grades keep the order of the files); from a process with
    threads they are fresh interpreters, so a script that asks for more than one must keep its
    own work under ``if __name__ == "__main__":``.

    >>> from bnsheet import build
    >>> book = grade_all([build("output/doctest-class.xlsx", exercise="dmu")])
    >>> book.scores[["correct", "nodes"]].values.tolist()
    [[0, 1]]
    """
    compare: list[str] = []
    if engine == engines.ALL:
        engine = engines.default()
        compare = [engine, *opinions.others(engine)]
    engine = engine or engines.default()
    engines.require(engine)
    files = submissions(paths)
    task = functools.partial(_graded, engine=engine, roster=roster, compare=compare)
    if min(workers, len(files)) > 1:
        results = workers_module.run_each(task, files, min(workers, len(files)), _unusable)
    else:
        results = [task(path) for path in files]
    book = Gradebook(roster=roster)
    for result in results:
        if isinstance(result, Grade):
            book.grades.append(result)
        else:
            book.unusable.append(result)
    if compare:
        _weigh(book, compare)
    return book


def _graded(path: Path, engine: str, roster: Roster | None, compare: Sequence[str]) -> Grade | tuple[Path, str]:
    """One file's grade, with the opinions of the engines ``compare`` but LibreOffice, which
    _weigh asks for all files in one run (an .ods: here too, of its converted copy), or the file
    and why it cannot be graded (run in a worker process too)."""
    try:
        graded = grade(path, engine=engine, roster=roster)
        if compare:
            with contextlib.ExitStack() as stack:
                readable = path
                if path.suffix.lower() == ".ods":
                    readable = stack.enter_context(libreoffice.xlsx_of_ods(path))
                asked = [name for name in compare if name != libreoffice.NAME or readable != path]
                found, upstream = opinions.one_file(readable, asked, template()), opinions.reads(readable, template())
            for node in graded.nodes:
                node.engines = {name: found[name][node.node] for name in asked if node.node in found[name]}
                node.reads = upstream.get(node.node, [])
        return graded
    except BnsheetError as exc:
        return path, str(exc)


def _weigh(book: Gradebook, compare: list[str]) -> None:
    """LibreOffice's opinions (all files in one run), then each node's status given every engine's."""
    xlsx = [g for g in book.grades if g.path.suffix.lower() != ".ods"]  # an .ods has LibreOffice's already
    if libreoffice.NAME in compare and xlsx:
        found = opinions.many_files([g.path for g in xlsx], template())
        for graded, verdicts in zip(xlsx, found, strict=True):
            for node in graded.nodes:
                if verdicts is None and node.engines:  # LibreOffice could not save this file
                    node.engines[libreoffice.NAME] = "error"
                elif verdicts is not None and node.node in verdicts:
                    node.engines[libreoffice.NAME] = verdicts[node.node]
    for graded in book.grades:
        graded.compared = compare
        for node in graded.nodes:
            node.engines = {name: node.engines[name] for name in compare if name in node.engines}
        differ = {node.node for node in graded.nodes if opinions.disagree(node.engines)}
        for node in graded.nodes:
            status, note = opinions.weigh(node.status, node.engines, [r for r in node.reads if r in differ])
            node.status = status
            if note:
                node.note(note)


def _unusable(path: Path, why: str) -> tuple[Path, str]:
    return path, f"{path}: {why}"
