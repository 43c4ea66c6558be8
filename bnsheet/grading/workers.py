"""Grading many files side by side: a task run per file in worker processes, results in the
order of the files.

The workers are forked where this process runs a single thread (Linux tells): they start at
once, with what the parent has imported, instead of a fresh interpreter importing NumPy and
bnsheet again (0.4 s of grading 200 small files on two cores). A process with other threads
(an engine's, a test runner's) would fork copies of locks that no thread will let go of, so
there, and where the threads cannot be counted, they are started with ``spawn``.

They ignore Ctrl-C, which the parent alone handles: it stops the workers (SIGTERM, which a
worker turns into SystemExit so that an application it runs is killed with its process group,
see engines/external.py; then SIGKILL for one that does not go) and lets the KeyboardInterrupt
through, so no child is left and no worker prints a traceback. A worker that dies (a crash in an
engine) breaks the pool: the files it had not finished are graded again one at a time, each in a
worker of its own, so the crash is pinned to its file, which gets a reason (``crashed``), and
the class is graded.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
# The command line grades fewer files than this in its own process: starting a worker (a fresh
# interpreter importing NumPy and formualizer) costs about as much as grading a few files.
PARALLEL_FROM = 8
STOP_WAIT = 5.0  # seconds a worker has to go after SIGTERM before it is killed


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_each(
    task: Callable[[Path], T], paths: Sequence[Path], workers: int, crashed: Callable[[Path, str], T]
) -> list[T]:
    """``task(path)`` for every path, in ``workers`` processes, in the order of ``paths``; a path
    whose worker died is ``crashed(path, why)``. ``task`` must be a module-level function (the
    workers import it by name) and its results picklable."""
    context = _context()
    results: dict[int, T] = {}
    broken: list[int] = []
    with _Pool(workers, context) as pool:
        futures = {k: pool.submit(task, path) for k, path in enumerate(paths)}
        for k, future in futures.items():
            try:
                results[k] = future.result()
            except BrokenProcessPool:
                broken.append(k)
    for k in broken:  # one at a time, each alone, so that a crash is its own file's
        with _Pool(1, context) as alone:
            try:
                results[k] = alone.submit(task, paths[k]).result()
            except BrokenProcessPool as exc:
                results[k] = crashed(paths[k], f"grading it stopped its worker process ({exc or 'it died'})")
    return [results[k] for k in range(len(paths))]


def _context() -> multiprocessing.context.BaseContext:
    if "fork" in multiprocessing.get_all_start_methods() and _threads() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _threads() -> int:
    """The threads of this process, 0 where it cannot be told."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0


class _Pool:
    """A ProcessPoolExecutor whose workers are stopped, not waited for, when the block is left by
    an exception (Ctrl-C)."""

    def __init__(self, workers: int, context: multiprocessing.context.BaseContext) -> None:
        self.executor = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_worker_signals)

    def __enter__(self) -> _Pool:
        return self

    def submit(self, task: Callable[[Path], T], path: Path) -> Future[T]:
        return self.executor.submit(task, path)

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        if kind is None:
            self.executor.shutdown(wait=True)
            return
        processes = list(multiprocessing.active_children())
        self.executor.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(STOP_WAIT)
            if process.is_alive():
                process.kill()
                process.join()


def _worker_signals() -> None:
    """In a worker: Ctrl-C is the parent's to handle; SIGTERM unwinds (running cleanups)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit)


def _exit(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)
