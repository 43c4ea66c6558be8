"""The libreoffice engine: LibreOffice Calc, headless, recalculating the whole workbook on load.

Each call runs ``soffice --convert-to xlsx`` on a copy of the file with a private, throw-away
profile whose settings say "always recalculate on load" (OOXMLRecalcMode and ODFRecalcMode 0),
so LibreOffice computes every formula itself instead of keeping the values cached in the file.
Two verifies at once each have their own profile, so they never wait for or talk to each other.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..a1 import Area
from . import external

NAME = "libreoffice"
PROGRAM = "soffice"
# LibreOffice writes numbers with 15 significant digits, so each stored value may be off by
# half a unit in the 15th digit: the verifier allows that much per cell, and no more.
SIGNIFICANT_DIGITS = 15

_SETTING = (
    '<item oor:path="/org.openoffice.Office.Calc/Formula/Load">'
    '<prop oor:name="{0}" oor:op="fuse"><value>0</value></prop></item>'
)
_ALWAYS_RECALCULATE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema"'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">\n'
    + _SETTING.format("OOXMLRecalcMode")
    + "\n"
    + _SETTING.format("ODFRecalcMode")
    + "\n</oor:items>\n"
)


def installed() -> bool:
    return shutil.which(PROGRAM) is not None


def recalculate(path: Path, areas: list[Area], vetted: Callable[[], None] = lambda: None) -> dict[Area, np.ndarray]:
    with external.recalculated(path, name=NAME, command=_command, vetted=vetted, setup=_private_profile) as saved:
        return external.stored_values(saved, areas)


def save(path: Path, target: Path) -> Path:
    """Open ``path`` in LibreOffice, recalculate it and save it as .xlsx at ``target`` (a new file)."""
    with external.recalculated(path, name=NAME, command=_command, setup=_private_profile) as saved:
        return external.save_copy(saved, target)


def _private_profile(ws: external.Workspace) -> None:
    user = ws.folder / "profile" / "user"
    user.mkdir(parents=True)
    (user / "registrymodifications.xcu").write_text(_ALWAYS_RECALCULATE, encoding="utf-8")


def _command(ws: external.Workspace, out: Path) -> list[str]:
    profile = f"-env:UserInstallation={(ws.folder / 'profile').as_uri()}"
    quiet = ["--headless", "--norestore", "--nologo", "--nolockcheck"]
    return [PROGRAM, profile, *quiet, "--convert-to", "xlsx", "--outdir", str(out), str(ws.source)]
