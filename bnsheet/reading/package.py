"""The zip package of a workbook as parts: where a relationship points, and a private copy with
some parts edited (what engines and trials recalculate instead of the user's file)."""

from __future__ import annotations

import io
import posixpath
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

from ..errors import WorkbookError
from ..limits import MAX_PARTS, MAX_RATIO, MAX_UNPACKED_BYTES, RATIO_FLOOR


def part_target(target: str, base: str = "xl") -> str:
    """The part a relationship's ``Target`` names, from the folder of the part that holds it.

    >>> part_target("worksheets/sheet1.xml"), part_target("/xl/worksheets/sheet2.xml")
    ('xl/worksheets/sheet1.xml', 'xl/worksheets/sheet2.xml')
    """
    return target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join(base, target))


def copy(
    source: Path | bytes,
    destination: Path | IO[bytes],
    edit: Callable[[str, bytes], bytes],
    *,
    compression: int = zipfile.ZIP_DEFLATED,
    added: Mapping[str, bytes] | None = None,
) -> None:
    """Copy the package ``source`` (a file, or its bytes) to ``destination`` part by part, each
    part's bytes passed through ``edit(name, data)``, and then the ``added`` parts (new names).

    No more bytes are read than the zip declares, checked first (as every reader does, see
    :func:`check_sizes`), and a package with two parts of one name is
    refused, so a copy may be made before the file is vetted. Raises zipfile.BadZipFile, zlib.error,
    OSError or EOFError for a file that is not a sound zip.
    """
    package = io.BytesIO(source) if isinstance(source, bytes) else source
    with zipfile.ZipFile(package) as original, zipfile.ZipFile(destination, "w", compression) as copied:
        infos = original.infolist()
        check_sizes(Path("the workbook") if isinstance(source, bytes) else source, infos)
        if len({info.filename for info in infos}) < len(infos):
            raise zipfile.BadZipFile("two parts of the same name")
        for info in infos:
            copied.writestr(info.filename, edit(info.filename, original.read(info)))
        for name, data in (added or {}).items():
            copied.writestr(name, data)


def check_sizes(path: Path, infos: list[zipfile.ZipInfo]) -> None:
    """Refuse a zip whose parts are too many, too large in all, or compressed like a bomb."""
    if len(infos) > MAX_PARTS:
        raise WorkbookError(f"{path}: {len(infos)} parts in the zip; a workbook has far fewer (limit {MAX_PARTS})")
    total = sum(info.file_size for info in infos)
    if total > MAX_UNPACKED_BYTES:
        raise WorkbookError(
            f"{path}: unpacks to {total >> 20} MB, more than bnsheet reads ({MAX_UNPACKED_BYTES >> 20} MB); a zip bomb?"
        )
    for info in infos:
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            ratio = info.file_size // max(info.compress_size, 1)
            raise WorkbookError(f"{path}: {info.filename} is compressed {ratio}:1, beyond any spreadsheet; a zip bomb?")
