"""The gnumeric engine: Gnumeric's ``ssconvert --recalc``, which recalculates every formula
before saving a copy as .xlsx."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..a1 import Area
from . import external

NAME = "gnumeric"
PROGRAM = "ssconvert"


def installed() -> bool:
    return shutil.which(PROGRAM) is not None


def recalculate(path: Path, areas: list[Area], vetted: Callable[[], None] = lambda: None) -> dict[Area, np.ndarray]:
    with external.recalculated(path, name=NAME, command=_command, vetted=vetted) as saved:
        return external.stored_values(saved, areas)


def save(path: Path, target: Path) -> Path:
    """Open ``path`` in Gnumeric, recalculate it and save it as .xlsx at ``target`` (a new file)."""
    with external.recalculated(path, name=NAME, command=_command) as saved:
        return external.save_copy(saved, target)


def _command(ws: external.Workspace, out: Path) -> list[str]:
    target = out / (ws.source.stem + ".xlsx")
    return [PROGRAM, "--recalc", "--export-type=Gnumeric_Excel:xlsx2", str(ws.source), str(target)]
