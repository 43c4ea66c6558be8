"""A class roster: one exercise workbook per student, each with its own inputs.

A student's inputs are drawn from a seed derived from the student's id and the exercise (SHA-256,
so the same roster and exercise give the same workbooks on any machine and Python version), and
the workbook records both in defined names, ``bn_student = "17"`` and ``bn_seed = 123456``, which
Excel, LibreOffice and Gnumeric keep when they save. Grading recomputes the inputs from them and
tells a file that carries another student's inputs, or edited ones.

>>> student_seed("17", ("dxhat", "dvar")) == student_seed("17", ("dxhat", "dvar"))
True
>>> student_seed("17", ("dxhat",)) != student_seed("18", ("dxhat",))
True
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, WorkbookError
from ..layout import defined_name

STUDENT = defined_name("student")
SEED = defined_name("seed")
# A student id becomes a file name: letters, digits, '.', '_' and '-', not starting with '.'.
_SAFE_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")
_WINDOWS_RESERVED = re.compile(r"(?i)(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?")


def student_seed(student: str, exercise: tuple[str, ...]) -> int:
    """The seed of a student's inputs: the first 31 bits of SHA-256 of the exercise and the id."""
    digest = hashlib.sha256(f"bnsheet roster\0{','.join(exercise)}\0{student}".encode()).digest()
    return int.from_bytes(digest[:4], "big") >> 1


@dataclass(frozen=True)
class Roster:
    """The students' ids in roster order, and the file they were read from."""

    path: Path
    ids: tuple[str, ...]


def read(path: str | Path) -> Roster:
    """The ids of a roster CSV: the column named ``id`` (any case) if the first row names one,
    and then that row is a header; otherwise the first column of every row.

    Each id must be a safe file name (letters, digits, ``.``, ``_``, ``-``; not starting with
    ``.``; at most 64 characters) and appear once, whatever its case; a problem is one line naming
    the row.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as stream:
            rows = [(k, row) for k, row in enumerate(csv.reader(stream), start=1) if any(c.strip() for c in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"--roster {path}: cannot be read ({exc})") from None
    if not rows:
        raise InputError(f"--roster {path}: no students in it")
    header = [cell.strip().lower() for cell in rows[0][1]]
    column = header.index("id") if "id" in header else 0
    if "id" in header:
        rows = rows[1:]
    seen: dict[str, int] = {}
    ids = []
    for k, row in rows:
        student = row[column].strip() if column < len(row) else ""
        if not student:
            raise InputError(f"--roster {path}, row {k}: no id")
        if not _SAFE_ID.fullmatch(student) or _WINDOWS_RESERVED.fullmatch(student):
            raise InputError(
                f"--roster {path}, row {k}: the id {student!r} cannot be a file name (letters, digits, "
                "'.', '_' and '-'; a header row needs a column named id)"
            )
        if student.lower() in seen:
            raise InputError(f"--roster {path}, row {k}: the id {student!r} is also in row {seen[student.lower()]}")
        seen[student.lower()] = k
        ids.append(student)
    if not ids:
        raise InputError(f"--roster {path}: no students in it")
    return Roster(path, tuple(ids))


def targets(roster: Roster, folder: Path) -> dict[str, Path]:
    """Each student's workbook in ``folder``; refuses, before anything is written, a folder that
    holds any of them already (a class's files are never replaced)."""
    if folder.exists() and not folder.is_dir():
        raise WorkbookError(f"{folder}: is not a folder")
    if not folder.parent.is_dir():
        raise WorkbookError(f"{folder}: the folder {folder.parent} does not exist")
    paths = {student: folder / f"{student}.xlsx" for student in roster.ids}
    existing = [path for path in paths.values() if path.exists()]
    if existing:
        more = f" (and {len(existing) - 1} more)" if len(existing) > 1 else ""
        raise WorkbookError(f"{existing[0]} exists already{more}; build a class into a new or empty folder")
    return paths


def recorded_names(student: str, seed: int) -> dict[str, str]:
    """The defined names a student's workbook records: its id (a string) and its seed."""
    return {STUDENT: f'"{student}"', SEED: str(seed)}


def recorded(names: Mapping[str, str]) -> tuple[str, int] | None:
    """The (student, seed) a workbook records, or None if it records none (or not both)."""
    student = names.get(STUDENT, "").strip().removeprefix("=").strip()
    seed = names.get(SEED, "").strip().removeprefix("=").strip()
    if len(student) < 2 or student[0] != '"' or student[-1] != '"' or not seed.isdigit():
        return None
    return student[1:-1], int(seed)
