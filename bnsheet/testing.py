"""A pytest helper for people who keep spreadsheets under test.

>>> from bnsheet import build
>>> from bnsheet.testing import assert_workbook_matches
>>> assert_workbook_matches(build("output/doctest-testing.xlsx"), engine="formualizer")
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .checking.verify import verify

__all__ = ["assert_workbook_matches"]


def assert_workbook_matches(
    path: str | Path, engine: str | None = None, blocks: Mapping[str, str | float] | str | Path | None = None
) -> None:
    """Recalculate ``path`` and check every node against the NumPy reference, as ``bnsheet verify``
    does; raise AssertionError with the per-node table and every problem when one fails.
    ``blocks`` is a map for a workbook laid out by hand (a dict or a TOML file, SPEC §18).

    Use it in a test: ``assert_workbook_matches("model.xlsx", engine="formualizer")``, or
    ``assert_workbook_matches("bn.xlsx", blocks="bn.map.toml")``.
    """
    report = verify(path, engine=engine, blocks=blocks)
    if not report.ok:
        raise AssertionError("the workbook does not match the reference:\n" + report.to_text())
