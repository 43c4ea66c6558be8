"""Shared fixtures: a built workbook per test, and a way to tamper with a copy of it."""

from __future__ import annotations

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
