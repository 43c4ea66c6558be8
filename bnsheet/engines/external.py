"""Running a spreadsheet application as a separate process: the one place for workspaces,
timeouts and cleanup.

Each run gets a fresh temporary workspace that holds a copy of the input (the user's file is
never handed to the application, so it cannot be converted or locked in place), the application's
private profile and its output. The application runs in its own process group; on timeout the
whole group is killed, so no helper process is left behind, and the workspace is removed whatever
happens.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..a1 import Area
from ..errors import EngineError
from ..reading.xlsx import XlsxFile

TIMEOUT = 300.0  # seconds; a 512x128 workbook takes LibreOffice about 10 s here. Read at each run.


@dataclass(frozen=True)
class Workspace:
    """A throw-away folder for one application run: ``source`` is the copy of the input."""

    folder: Path
    source: Path


@contextmanager
def workspace(path: Path, prefix: str = "bnsheet-") -> Iterator[Workspace]:
    """A temporary folder holding a copy of ``path``; removed on exit, also after a failure.

    >>> _ = Path("book.xlsx").write_bytes(b"the user's bytes")
    >>> with workspace(Path("book.xlsx")) as ws:
    ...     ws.source.name, ws.source.read_bytes()
    ('book.xlsx', b"the user's bytes")
    >>> ws.folder.exists()
    False
    """
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        source = folder / "in" / Path(path).name
        source.parent.mkdir()
        try:
            shutil.copyfile(path, source)
        except OSError as exc:
            raise EngineError(f"{path}: cannot copy it for the application ({exc.strerror})") from None
        yield Workspace(folder, source)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(command: Sequence[str], *, name: str, cwd: Path, timeout: float | None = None) -> str:
    """Run ``command`` in its own process group and return its output (stdout and stderr).

    A missing program, a non-zero exit status or ``timeout`` seconds without finishing is an
    EngineError; on timeout every process of the group is killed first. ``timeout`` defaults to
    TIMEOUT as it is when the run starts.
    """
    timeout = TIMEOUT if timeout is None else timeout
    env = dict(os.environ, HOME=str(cwd), TMPDIR=str(cwd))  # nothing of the user's is read or written
    held = _HeldInterrupt()
    try:
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            text=True,
            errors="replace",
        )
    except OSError as exc:
        held.release()
        raise EngineError(f"{name} could not be started ({command[0]}: {exc.strerror})") from None
    except BaseException:
        held.release()
        raise
    try:
        held.release()  # a Ctrl-C that came while it started is raised here, where the group is killed
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise EngineError(f"{name} hung: no answer after {timeout:g} s; it was stopped") from None
    except BaseException:  # Ctrl-C: leave no application behind
        _kill_group(process)
        raise
    finally:
        _kill_group(process, only_leftovers=True)
    if process.returncode != 0:
        last = output.strip().splitlines()[-1:] or ["no output"]
        raise EngineError(f"{name} failed with exit status {process.returncode}: {last[0]}")
    return output


class _HeldInterrupt:
    """Ctrl-C held back from its creation to :meth:`release`, which then raises it if it came.

    Between the fork and Popen's return an interrupt would leave a started application with no
    one to stop it, and its helpers running (on a busy machine the Ctrl-C of
    tests/test_hung_applications.py can land there).
    Only Python's own handler is held (it raises KeyboardInterrupt, and so does ``release``), and
    only in the main thread, the one that receives Ctrl-C.
    """

    def __init__(self) -> None:
        self.came = False
        self._holding = (
            threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler
        )
        if self._holding:
            signal.signal(signal.SIGINT, self._note)

    def _note(self, signum: int, frame: object) -> None:
        self.came = True

    def release(self) -> None:
        if self._holding:
            self._holding = False
            signal.signal(signal.SIGINT, signal.default_int_handler)
            if self.came:
                raise KeyboardInterrupt


def _kill_group(process: subprocess.Popen[str], only_leftovers: bool = False) -> None:
    # A session leader's group id is its pid; helpers it started (soffice.bin) share the group.
    # After a normal exit, helpers may linger: they are leftovers of our run, so they go too.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    if not only_leftovers:
        process.communicate()  # reaps it and closes its pipe; every writer is gone now


@contextmanager
def recalculated(
    path: Path,
    *,
    name: str,
    command: Callable[[Workspace, Path], Sequence[str]],
    setup: Callable[[Workspace], None] | None = None,
    vetted: Callable[[], None] = lambda: None,
) -> Iterator[Path]:
    """The .xlsx an application saves after recalculating a copy of ``path``; gone after the block.

    ``command(workspace, output_folder)`` gives the command line, which must write
    ``output_folder / <input name>`` with an .xlsx suffix; ``setup`` prepares the workspace
    (a private profile, for instance); ``vetted()`` must return before the application starts.
    """
    with recalculated_copies(
        path, name=name, command=lambda ws, out, sources: command(ws, out), setup=setup, vetted=vetted
    ) as saved:
        yield saved[0]


@contextmanager
def recalculated_copies(
    path: Path, *, name: str, command: Callable[[Workspace, Path, list[Path]], Sequence[str]],
    setup: Callable[[Workspace], None] | None = None, vetted: Callable[[], None] = lambda: None,
    copies: Callable[[Path], list[Path]] = lambda folder: [],
) -> Iterator[list[Path]]:  # fmt: skip
    """Like :func:`recalculated`, for the copy of ``path`` and the files ``copies(folder)`` writes
    into the input folder (after vetting), all in one run of the application: ``command(workspace,
    output_folder, sources)`` must write ``output_folder / <name>.xlsx`` for each source. Yields
    the saved files in the order of the sources."""
    with workspace(path, prefix=f"bnsheet-{name}-") as ws:
        out = ws.folder / "out"
        out.mkdir()
        if setup is not None:
            setup(ws)
        vetted()
        sources = [ws.source, *copies(ws.source.parent)]
        run(command(ws, out, sources), name=name, cwd=ws.folder)
        saved = [out / (source.stem + ".xlsx") for source in sources]
        if not all(file.exists() for file in saved):
            raise EngineError(f"{name} did not save a recalculated copy of {path}")
        yield saved


def save_copy(saved: Path, target: Path) -> Path:
    """Copy an application's saved file to ``target``, refusing to overwrite anything there."""
    try:
        with open(saved, "rb") as source, open(target, "xb") as copy:
            shutil.copyfileobj(source, copy)
    except FileExistsError:
        raise EngineError(f"{target}: already exists; not overwritten") from None
    return target


def stored_values(path: Path, areas: list[Area]) -> dict[Area, np.ndarray]:
    """The values an application stored for ``areas`` in a file it has just recalculated and saved."""
    values: dict[Area, np.ndarray] = {}
    with XlsxFile(path) as book:
        for area in areas:
            block = np.full(area.shape, None, dtype=object)
            if area.sheet in book.sheet_names:
                cells = book.cells(area.sheet)
                for i, j in np.ndindex(area.shape):
                    stored = cells.get((area.top + i, area.left + j))
                    block[i, j] = None if stored is None else stored.value
            values[area] = block
    return values
