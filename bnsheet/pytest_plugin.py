"""The pytest plugin (SPEC §18): ``pytest --bnsheet PATH…`` collects every .xlsx workbook under the
paths as one test item, which runs ``bnsheet verify`` on it and fails with verify's table.

Without ``--bnsheet`` the plugin collects nothing and imports nothing beyond this module (pytest
loads it through the ``pytest11`` entry point wherever bnsheet is installed).

Each workbook is verified with the first map found of: ``--bnsheet-map FILE`` (for every
workbook), ``<stem>.map.toml`` beside the workbook, ``MAP.toml`` in its folder; with none, by
bnsheet's own defined names. ``--bnsheet-engine NAME`` picks the engine (default: as verify's).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .checking.report import Report

# Files no one means to test: Excel's and LibreOffice's lock files, hidden files.
_SKIPPED_PREFIXES = ("~$", ".~lock", ".")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("bnsheet", "bnsheet: verify Batch Normalization workbooks")
    group.addoption(
        "--bnsheet", action="store_true", default=False,
        help="collect every .xlsx workbook under the given paths as a test that runs bnsheet verify",
    )  # fmt: skip
    group.addoption(
        "--bnsheet-map", metavar="FILE", default=None,
        help="the map of where the blocks sit, for every workbook (default: <stem>.map.toml or MAP.toml beside it)",
    )  # fmt: skip
    group.addoption("--bnsheet-engine", metavar="NAME", default=None, help="formula engine for bnsheet verify")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if not parent.config.getoption("bnsheet"):
        return None
    if file_path.suffix.lower() not in (".xlsx", ".ods") or file_path.name.startswith(_SKIPPED_PREFIXES):
        return None
    return Workbook.from_parent(parent, path=file_path)


def map_for(workbook: Path, given: str | None) -> Path | None:
    """The map a workbook is verified with: ``given``, else ``<stem>.map.toml`` beside it, else
    ``MAP.toml`` in its folder, else None (bnsheet's defined names)."""
    if given is not None:
        return Path(given)
    for candidate in (workbook.with_name(f"{workbook.stem}.map.toml"), workbook.with_name("MAP.toml")):
        if candidate.is_file():
            return candidate
    return None


class Workbook(pytest.File):
    """One workbook file: it holds a single item, its verify."""

    def collect(self) -> Iterator[pytest.Item]:
        yield VerifyItem.from_parent(self, name="verify")


class WorkbookFails(Exception):
    """A workbook some node of which does not match: carries verify's report."""

    def __init__(self, report: Report) -> None:
        super().__init__(report.to_text())
        self.report = report


class VerifyItem(pytest.Item):
    """``bnsheet verify`` of one workbook: passes when every checked node matches."""

    def runtest(self) -> None:
        from .checking.verify import verify  # only now: a run without --bnsheet never imports it

        config = self.config
        blocks = map_for(self.path, config.getoption("bnsheet_map"))
        report = verify(self.path, engine=config.getoption("bnsheet_engine"), blocks=blocks)
        if not report.ok:
            raise WorkbookFails(report)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str | Any:
        from .errors import BnsheetError

        if isinstance(excinfo.value, WorkbookFails):
            return excinfo.value.report.to_text()
        if isinstance(excinfo.value, BnsheetError):  # the file, its map or the engine cannot be used
            return f"bnsheet: {excinfo.value}"
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"bnsheet verify {self.path.name}"
