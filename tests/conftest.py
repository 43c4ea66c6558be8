"""Shared fixtures: a built workbook per test, and a way to tamper with a copy of it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest

import bnsheet


@pytest.fixture
def built(tmp_path: Path) -> Path:
    """A freshly built default workbook (N=4, D=3, seed 0)."""
    return bnsheet.build(tmp_path / "batchnorm.xlsx")


def tamper(source: Path, change: Callable[[openpyxl.Workbook], None], name: str = "tampered.xlsx") -> Path:
    """A copy of ``source`` opened and saved by openpyxl after ``change`` edited it."""
    target = source.with_name(name)
    shutil.copy(source, target)
    book = openpyxl.load_workbook(target)
    change(book)
    book.save(target)
    return target


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
