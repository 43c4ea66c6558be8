"""The libreoffice engine: LibreOffice Calc, headless, recalculating the whole workbook on load.

Each call runs ``soffice --convert-to xlsx`` on a copy of the file with a private, throw-away
profile whose settings say "always recalculate on load" (OOXMLRecalcMode and ODFRecalcMode 0),
so LibreOffice computes every formula itself instead of keeping the values cached in the file.
Two verifies at once each have their own profile, so they never wait for or talk to each other.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ..a1 import Area
from ..errors import BnsheetError, WorkbookError
from ..reading import vetting
from ..reading.xlsx import XlsxFile
from . import external
from .substitute import substitute

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
    return recalculate_variants(path, areas, (), vetted)[0]


def recalculate_variants(
    path: Path, areas: list[Area], variants: Sequence[Mapping[Area, np.ndarray]], vetted: Callable[[], None]
) -> list[dict[Area, np.ndarray]]:
    """The workbook and a copy per variant, all converted in one run: LibreOffice's start-up, most
    of the cost of a small workbook, is paid once."""

    def copies(folder: Path) -> list[Path]:
        with XlsxFile(path) as book:
            return [
                substitute(book, folder / f"{path.stem}.trial-{k}.xlsx", variant)
                for k, variant in enumerate(variants, 1)
            ]

    with external.recalculated_copies(
        path, name=NAME, command=_command, vetted=vetted, setup=_private_profile, copies=copies
    ) as saved:
        return [external.stored_values(file, areas) for file in saved]


def recalculate_files(paths: Sequence[Path], areas: Sequence[list[Area]]) -> list[dict[Area, np.ndarray]]:
    """Several workbooks, each already vetted, recalculated in one run (grade --engine all: a
    class's files): the values of ``areas[k]`` in ``paths[k]``. The copies are named by their
    place in the list, so files of the same name in different folders do not meet."""
    first, rest = paths[0], paths[1:]

    def copies(folder: Path) -> list[Path]:
        made = []
        for k, other in enumerate(rest, 1):
            copy = folder / f"~bnsheet-{k}.xlsx"
            shutil.copyfile(other, copy)
            made.append(copy)
        return made

    with external.recalculated_copies(
        first, name=NAME, command=_command, setup=_private_profile, copies=copies
    ) as saved:
        return [external.stored_values(file, wanted) for file, wanted in zip(saved, areas, strict=True)]


def save(path: Path, target: Path) -> Path:
    """Open ``path`` in LibreOffice, recalculate it and save it as .xlsx at ``target`` (a new file)."""
    with external.recalculated_copies(path, name=NAME, command=_command, setup=_private_profile) as saved:
        return external.save_copy(saved[0], target)


@contextmanager
def xlsx_of_ods(path: Path) -> Iterator[Path]:
    """An OpenDocument spreadsheet (.ods) as an .xlsx file, for verify and grade to read like any
    other: the .ods is vetted (vetting.vet_ods), then LibreOffice converts a copy of it in a
    throw-away workspace with a private profile, recalculating every formula; the .xlsx lives
    until the block ends. The user's file is only read. Without LibreOffice, a WorkbookError of
    one line. A bnsheet error raised in the block names the .ods instead of the copy.

    >>> with xlsx_of_ods(Path("submission.ods")) as xlsx:    # doctest: +SKIP
    ...     report = verify(xlsx)
    """
    if not installed():
        raise WorkbookError(
            f"{path}: an .ods workbook is read by converting it with LibreOffice, which is not installed "
            "(apt-get install libreoffice-calc-nogui); or save it as .xlsx"
        )
    vetting.vet_ods(path)
    with external.recalculated(
        path, name=NAME, command=lambda ws, out: _command(ws, out, [ws.source]), setup=_private_profile
    ) as saved:
        try:
            yield saved
        except BnsheetError as exc:
            raise type(exc)(str(exc).replace(str(saved), str(path))) from None


def _private_profile(ws: external.Workspace) -> None:
    user = ws.folder / "profile" / "user"
    user.mkdir(parents=True)
    (user / "registrymodifications.xcu").write_text(_ALWAYS_RECALCULATE, encoding="utf-8")


def _command(ws: external.Workspace, out: Path, sources: list[Path]) -> list[str]:
    return [
        PROGRAM, f"-env:UserInstallation={(ws.folder / 'profile').as_uri()}",
        "--headless", "--norestore", "--nologo", "--nolockcheck",
        "--convert-to", "xlsx", "--outdir", str(out), *map(str, sources),
    ]  # fmt: skip
