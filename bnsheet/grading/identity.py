"""Whose inputs a submission carries: a roster's workbooks record their student and seed
(writing/roster.py), so grading can recompute the inputs and tell a copied or edited file.

The verdict is ``own``, ``of student 17`` (the inputs drawn for another student) or ``edited``
(no student's); empty for a file that records no student and is not named in the roster.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..model.inputs import Inputs, make
from ..writing.roster import Roster, student_seed

OWN, EDITED = "own", "edited"


def check(
    path: Path, recorded: tuple[str, int] | None, inputs: Inputs, exercise: tuple[str, ...], roster: Roster | None
) -> tuple[str, str]:
    """The student a file belongs to and the verdict on its inputs.

    With a roster, the file belongs to the student it is named after (``17.xlsx``), else to the
    student it records; every roster student's inputs are candidates for a copy.
    """
    ids = roster.ids if roster is not None else ()
    student = path.stem if path.stem in ids else recorded[0] if recorded is not None else ""
    if not student:
        return "", ""

    def carries(other: str) -> bool:
        return _same(inputs, make(n=inputs.n, d=inputs.d, seed=student_seed(other, exercise)))

    if carries(student):
        return student, OWN
    candidates = ([recorded[0]] if recorded is not None else []) + list(ids)
    copied = next((other for other in candidates if other != student and carries(other)), None)
    return student, f"of student {copied}" if copied is not None else EDITED


def _same(inputs: Inputs, drawn: Inputs) -> bool:
    return all(np.array_equal(value, drawn.arrays()[name]) for name, value in inputs.arrays().items())
