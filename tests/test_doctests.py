"""Doctests write only into temporary folders: running them leaves the repository's output/ as it was."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _listing(folder: Path) -> dict[str, tuple[int, int]]:
    """Each file in ``folder`` with its size and modification time: a rewrite shows as a change."""
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


@pytest.mark.apps()  # a second pytest, with README's examples
def test_doctests_leave_the_repositorys_output_folder_as_it_was():
    # README's examples and a module's doctest, each collected its own way (--doctest-glob,
    # --doctest-modules); both build workbooks under "output/" as a user would.
    output = ROOT / "output"
    before = _listing(output)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "README.md", "bnsheet/writing/build.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "passed" in run.stdout and _listing(output) == before
