"""Where a written file may go, and writing it atomically: the one place bnsheet replaces a file.

Nothing a user had is lost by surprise: a target that bnsheet did not write is replaced only when
asked to (``force``), and a write that is interrupted (Ctrl-C, a full disk, a killed process)
leaves whatever was there before untouched.
"""

from __future__ import annotations

import glob
import os
import secrets
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import WorkbookError
from .ooxml import APPLICATION


def check_target(path: Path, *, force: bool = False) -> None:
    """Refuse, before any work, to write where the workbook could not go or would replace a
    file bnsheet did not make (unless ``force``)."""
    folder = path.parent
    if path.suffix.lower() != ".xlsx":
        raise WorkbookError(f"{path}: the workbook's name must end in .xlsx")
    if not folder.is_dir():
        state = "is not a folder" if folder.exists() else "does not exist"
        raise WorkbookError(f"{path}: the folder {folder} {state}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise WorkbookError(f"{path}: cannot write in {folder} (permission denied)")
    if path.is_dir():
        raise WorkbookError(f"{path}: is a folder")
    if path.exists() and not force and not made_by_bnsheet(path):
        raise WorkbookError(f"{path}: exists and was not written by bnsheet; use --force to replace it")


def made_by_bnsheet(path: Path) -> bool:
    """Whether ``path`` is a workbook bnsheet wrote (its docProps/app.xml names bnsheet)."""
    try:
        with zipfile.ZipFile(path) as package, package.open("docProps/app.xml") as part:
            app = part.read(1 << 16)
    except (OSError, KeyError, zipfile.BadZipFile, ValueError, EOFError):
        return False
    return f"<Application>{APPLICATION}</Application>".encode() in app


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A hidden temporary file beside ``path`` to write into; once the block ends, it is flushed to
    disk and renamed over ``path``, so a reader sees the old file or the new one, never half of one.

    The temporary file (``.<name>.<pid>.<random>.tmp``, the mode the user's umask asks for) is
    removed if the block fails or is interrupted; those of earlier writes whose process died are
    removed first.

    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "table.csv"
    >>> with replacing(target) as temporary:
    ...     _ = temporary.write_text("a,b\\n")
    >>> target.read_text()
    'a,b\\n'
    """
    folder = path.parent
    _remove_stale_temps(path)
    temp = folder / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        # os.open with 0o666 gives the file the mode the user's umask asks for, as open() would.
        os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as exc:
        raise WorkbookError(f"{path}: cannot write in {folder} ({exc.strerror})") from None
    try:
        yield temp
        _sync(temp)
        os.replace(temp, path)
        _sync(folder)  # makes the rename itself durable
    except OSError as exc:
        raise WorkbookError(f"{path}: cannot write ({exc.strerror or exc})") from None
    finally:  # also on Ctrl-C: no partial file is left behind
        temp.unlink(missing_ok=True)


def _remove_stale_temps(path: Path) -> None:
    """Temporary files of earlier writes of ``path`` whose process died (killed, power lost)."""
    for temp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = temp.name[len(path.name) + 2 :].split(".")[0]
        if pid.isdigit() and not _alive(int(pid)):
            temp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists but belongs to someone else
    return True


def _sync(path: Path) -> None:
    """Flush a file, or a folder's entries, to disk (where the system lets it be opened)."""
    try:
        handle = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
