"""Shared fixtures: a built workbook per test, a way to tamper with a copy of it, and the ``apps``
marker for the heavy tests: those that run the spreadsheet applications it names, and those of
seconds each for another reason (the pure-Python formulas engine, a nested pytest, the package
validator, a training run). ``python -m pytest -m "not apps"`` is the fast subset."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import openpyxl
import pytest

import bnsheet


@pytest.fixture(scope="session", autouse=True)
def _commands_import_this_checkout() -> Iterator[None]:
    """``python -m bnsheet`` started from another folder (a test's tmp_path) imports the package of
    this checkout, not whichever one an installed bnsheet points at (an editable install of
    another worktree, say, which may be half-way through a change)."""
    root = str(Path(__file__).resolve().parent.parent)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
        yield


@pytest.fixture(scope="session")
def _built_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bnsheet.build(tmp_path_factory.mktemp("built") / "batchnorm.xlsx")


@pytest.fixture
def built(tmp_path: Path, _built_once: Path) -> Path:
    """The default workbook (N=4, D=3, seed 0) in this test's own folder: a copy of one build, so a
    test may change or replace it freely."""
    return Path(shutil.copy2(_built_once, tmp_path / "batchnorm.xlsx"))


def interruptible() -> None:
    """For ``preexec_fn``: Ctrl-C (SIGINT) acts in the child as at a terminal, also in a test run
    started in the background, which the shell starts with SIGINT ignored (and children inherit it)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def tamper(source: Path, change: Callable[[openpyxl.Workbook], None], name: str = "tampered.xlsx") -> Path:
    """A copy of ``source`` opened and saved by openpyxl after ``change`` edited it."""
    target = source.with_name(name)
    shutil.copy(source, target)
    book = openpyxl.load_workbook(target)
    change(book)
    book.save(target)
    return target


def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test marked ``apps("soffice", ...)`` needs those programs: checked before any fixture of
    it is set up, so a module's shared workbooks are not recalculated by a missing application."""
    for marker in item.iter_markers("apps"):
        require_apps(*marker.args)


def require_apps(*programs: str) -> None:
    """Skip the test when a spreadsheet application is missing, unless BNSHEET_REQUIRE_APPS=1
    (as in CI), which makes the missing application a failure: CI must always run them."""
    missing = [p for p in programs if shutil.which(p) is None]
    if not missing:
        return
    message = f"{', '.join(missing)} not installed (apt: libreoffice-calc-nogui gnumeric)"
    if os.environ.get("BNSHEET_REQUIRE_APPS") == "1":
        pytest.fail(f"{message}, and BNSHEET_REQUIRE_APPS=1 requires them")
    pytest.skip(message)
