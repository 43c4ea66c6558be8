"""A gradebook: grade many learners' workbooks (files or folders) into one table, a score per file.

A file that cannot be graded (not a workbook, no inputs) is a row of its own, so one broken
submission does not stop a class from being graded.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .. import engines, tables
from ..errors import BnsheetError, WorkbookError
from .grade import COLUMNS, Grade, grade

if TYPE_CHECKING:
    import pandas as pd

FILE_COLUMNS = ["file", "score", "correct", "nodes"]


@dataclass
class Gradebook:
    """Grades of several files, and the files that could not be graded (path, reason)."""

    grades: list[Grade] = field(default_factory=list)
    unusable: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unusable and all(g.ok for g in self.grades)

    @property
    def scores(self) -> pd.DataFrame:
        """One row per file: its score (share of exercise nodes correct), correct and node counts."""
        import pandas as pd

        rows = [(str(g.path), round(g.score, 4), g.correct, len(g.nodes)) for g in self.grades]
        rows += [(str(path), 0.0, 0, 0) for path, _ in self.unusable]
        return pd.DataFrame(rows, columns=FILE_COLUMNS)

    @property
    def table(self) -> pd.DataFrame:
        """One row per file and node; a file that could not be graded is one row, status unusable."""
        import pandas as pd

        frames = [g.table.assign(file=str(g.path), score=round(g.score, 4)) for g in self.grades]
        frames += [
            pd.DataFrame([{"file": str(path), "score": 0.0, "status": "unusable", "diagnosis": reason}])
            for path, reason in self.unusable
        ]
        if not frames:
            return pd.DataFrame(columns=["file", "score", *COLUMNS])
        return pd.concat(frames, ignore_index=True).reindex(columns=["file", "score", *COLUMNS])

    def to_csv(self) -> str:
        return str(self.table.to_csv(index=False))

    def to_json(self) -> str:
        files = json.loads(self.scores.to_json(orient="records"))
        nodes = json.loads(self.table.to_json(orient="records"))
        return json.dumps({"ok": self.ok, "files": files, "nodes": nodes}, indent=2)

    def to_text(self) -> str:
        parts = [g.to_text() for g in self.grades]
        parts += [f"{path}: cannot be graded: {reason}" for path, reason in self.unusable]
        if len(self.grades) + len(self.unusable) > 1:
            parts.append(tables.frame(self.scores))
        return "\n\n".join(parts)


def submissions(paths: Sequence[str | Path]) -> list[Path]:
    """The workbooks to grade: files as given, and every .xlsx in a folder (sorted, recursively)."""
    found: list[Path] = []
    for given in map(Path, paths):
        if given.is_dir():
            found += sorted(
                p for p in given.rglob("*.xlsx") if p.is_file() and not p.name.startswith(("~$", ".~lock", "."))
            )
        else:
            found.append(given)
    if not found:
        raise WorkbookError(f"no .xlsx workbooks in {', '.join(map(str, paths)) or 'the arguments'}")
    return found


def grade_all(paths: Sequence[str | Path], engine: str | None = None) -> Gradebook:
    """Grade every workbook in ``paths`` (files or folders).

    >>> from bnsheet import build
    >>> book = grade_all([build("output/doctest-class.xlsx", exercise="dmu")])
    >>> book.scores[["correct", "nodes"]].values.tolist()
    [[0, 1]]
    """
    engine = engine or engines.default()
    engines.require(engine)
    book = Gradebook()
    for path in submissions(paths):
        try:
            book.grades.append(grade(path, engine=engine))
        except BnsheetError as exc:
            book.unusable.append((path, str(exc)))
    return book
