"""Verify's own reading in a second process, beside the engine: the file vetted, then every block
read as :class:`~bnsheet.reading.stored.Stored`, its formulas checked (filled.py).

Vetting the file, reading a million formulas out of the sheet XML and checking that each block is
one formula filled takes as long as formualizer's evaluation. In a forked process it runs beside
the engine instead of before or between it; on two cores that halves the wait. The process first
vets the file and says so (the engine loads nothing before), then sends back a Stored per area.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ..a1 import Area
from ..errors import EngineError, WorkbookError
from ..reading import vetting
from ..reading.stored import Stored
from ..reading.xlsx import XlsxFile
from .filled import formula_fault

TIMEOUT = 900.0  # seconds for the second process to vet or to read: minutes beyond the largest workbook
# Below this many cells in the areas, forking costs more than running beside the engine saves: a
# 4×3 workbook takes 0.19 s of CPU forked from a process of 300 MB and 0.13 s read here, while at
# 32×16 (31,000 cells) the fork is ahead by a fifth of the wall time.
FORK_FROM = 10_000


def read(book: XlsxFile, areas: list[Area]) -> dict[Area, Stored]:
    """Each area as ``book`` stores it, with what is wrong with its formulas. A sheet's scan is
    let go once its last area is read: kept to the end, the scans of a 512×128 workbook hold four
    times the memory of the one being read."""
    last = {area.sheet: k for k, area in enumerate(areas)}
    stored: dict[Area, Stored] = {}
    for k, area in enumerate(areas):
        grid = book.grid(area)
        stored[area] = Stored.of(grid, formula_fault(grid))
        del grid  # it holds the sheet's scan, which would otherwise live on beside the next one's
        if last[area.sheet] == k:
            book.forget(area.sheet)
    return stored


class Reading:
    """A second process that vets ``path`` and then reads ``areas``, from entering the block to
    leaving it: ``vetted()`` waits for its verdict on the file, ``result()`` for what it read.
    It runs at the caller's priority: niced, it was starved on a machine kept busy by other
    processes (busy loops beside verify at 512×128, load 7: 120 s, the timeout reached
    before it finished, against 43–50 s unniced), and on an idle machine the engine and the reader
    take a core each either way. A thread takes its answers as they come (while the engine
    evaluates, which lets go of Python's lock), so the process ends, and its memory is free,
    as soon as it has read the file rather than when the engine is done. Where processes cannot
    be forked, or the areas are too few to be worth a process (FORK_FROM), both happen here, on
    entering.
    """

    def __init__(self, path: Path, areas: list[Area]) -> None:
        self.path, self.areas = path, areas
        self._verdict: bool = False
        self._result: dict[Area, Stored] | None = None
        self._error: Exception | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._answers: Connection | None = None
        self._received: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._receiver: threading.Thread | None = None

    def __enter__(self) -> Reading:
        try:
            context = multiprocessing.get_context("fork")
        except ValueError:  # no fork here (Windows): vet and read at once, in this process
            return self._here()
        if sum(a.shape[0] * a.shape[1] for a in self.areas) < FORK_FROM:
            return self._here()
        self._answers, answers = context.Pipe(duplex=False)
        self._process = context.Process(target=_read_in_child, args=(self.path, self.areas, answers), daemon=True)
        try:
            self._process.start()
        finally:
            answers.close()
        self._receiver = threading.Thread(target=self._receive_all, args=(self._answers,), daemon=True)
        self._receiver.start()
        return self

    def _here(self) -> Reading:
        vetting.vet(self.path)
        self._verdict = True
        with XlsxFile(self.path) as book:
            self._result = read(book, self.areas)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._process is not None:
            if self._process.is_alive():
                self._process.kill()
            self._process.join()
            self._process.close()
            self._process = None
        if self._receiver is not None:  # the process is gone: the thread meets the pipe's end
            self._receiver.join()
            self._receiver = None
        if self._answers is not None:
            self._answers.close()
            self._answers = None

    def vetted(self) -> None:
        """Return once the file has been vetted; raise vet's WorkbookError if it was refused."""
        if not self._verdict:
            self._next()
            self._verdict = True

    def result(self) -> dict[Area, Stored]:
        self.vetted()
        if self._result is None:
            self._result = self._next()
        return self._result

    def _next(self) -> Any:
        """The process's next answer, as the thread received it; its error raised, here and on
        every later call."""
        if self._error is None:
            kind, answer = self._received.get()
            if kind != "error":
                return answer
            self._error = answer
        raise self._error

    def _receive_all(self, answers: Connection) -> None:
        """In the thread: the verdict, then what was read, or the first error."""
        for _ in range(2):
            try:
                if not answers.poll(TIMEOUT):
                    raise EngineError(
                        f"the process that reads the workbook gave no answer in {TIMEOUT:g} s; it was stopped"
                    )
                kind, answer = answers.recv()
            except EngineError as exc:
                kind, answer = "error", exc
            except (EOFError, OSError):
                kind, answer = "error", EngineError("the process that reads the workbook stopped without an answer")
            self._received.put((kind, answer))
            if kind == "error":
                return


def _read_in_child(path: Path, areas: list[Area], answers: Connection) -> None:
    try:
        vetting.vet(path)
        answers.send(("vetted", None))
        with XlsxFile(path) as book:
            answers.send(("stored", read(book, areas)))
    except (WorkbookError, EngineError) as exc:
        answers.send(("error", exc))
    except Exception as exc:  # a fault of ours: the parent raises it with what the child saw
        answers.send(("error", RuntimeError(f"reading {path} failed: {type(exc).__name__}: {exc}")))
    finally:
        answers.close()
