"""The pytest plugin as an engineer runs it (SPEC §18): ``pytest --bnsheet FOLDER`` in a real pytest
process, one item per workbook; and nothing changes for a pytest run without ``--bnsheet``. The
nested runs that verify are marked ``apps``, heavy (seconds each); so is the one that guards plain runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import openpyxl
import pytest
from handmade import SHEET, handmade, map_toml
from test_cli import ROOT

import bnsheet


def pytest_run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m pytest ARGS`` in ``cwd``, with this checkout's bnsheet and its plugin loaded (by
    its entry point where this checkout is the installed one, else by name)."""
    registered = any(e.value == "bnsheet.pytest_plugin" for e in metadata.entry_points(group="pytest11"))
    plugin = [] if registered else ["-p", "bnsheet.pytest_plugin"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", *plugin, "-p", "no:cacheprovider", *args],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=600,
    )  # fmt: skip


def _tampered(source: Path, target: Path, sheet: str, address: str, value: object) -> Path:
    book = openpyxl.load_workbook(source)
    book[sheet][address] = value
    book.save(target)
    return target


@pytest.mark.apps()  # a nested pytest run that verifies
def test_a_folder_with_a_good_and_a_tampered_workbook_gives_one_pass_and_one_failure(tmp_path, built):
    folder = tmp_path / "books"
    folder.mkdir()
    shutil.copy(built, folder / "good.xlsx")
    _tampered(built, folder / "tampered.xlsx", "dxhat", "D8", "=1+'dgammax'!D8")
    (folder / "~$good.xlsx").write_bytes(b"Excel's lock file")  # not a workbook: never collected
    result = pytest_run("--bnsheet", "books", "-q", cwd=tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "1 failed, 1 passed" in result.stdout
    assert "FAILED books/tampered.xlsx::verify" in result.stdout
    assert "dxhat: mismatch at 'dxhat'!D8" in result.stdout  # verify's table and problem lines
    assert "root cause: dxhat fails" in result.stdout


@pytest.mark.apps()  # a nested pytest run that verifies
def test_a_hand_laid_out_workbook_takes_the_map_beside_it(tmp_path):
    folder = tmp_path / "books"
    folder.mkdir()
    hand = handmade(folder / "hand.xlsx")
    (folder / "hand.map.toml").write_text(map_toml(), encoding="utf-8")  # for hand.xlsx only
    other = folder / "other"
    other.mkdir()
    _tampered(hand, other / "copy.xlsx", SHEET, "AU5", 0.5)
    (other / "MAP.toml").write_text(map_toml(), encoding="utf-8")  # for every workbook of its folder
    result = pytest_run("--bnsheet", "books", "-q", "-rA", cwd=tmp_path)
    assert "1 failed, 1 passed" in result.stdout, result.stdout + result.stderr
    assert "PASSED books/hand.xlsx::verify" in result.stdout
    assert f"out: mismatch at '{SHEET}'!AU5" in result.stdout and "1 of 23 mapped nodes fail" in result.stdout
    # the same map given on the command line, for both
    (folder / "hand.map.toml").unlink()
    (other / "MAP.toml").rename(tmp_path / "one.toml")
    given = pytest_run("--bnsheet", "--bnsheet-map", "one.toml", "--bnsheet-engine", "formualizer", "books", "-q",
                       cwd=tmp_path)  # fmt: skip
    assert "1 failed, 1 passed" in given.stdout, given.stdout + given.stderr


@pytest.mark.apps()  # a nested pytest run that verifies
def test_an_unusable_workbook_fails_with_one_line(tmp_path):
    (tmp_path / "broken.xlsx").write_bytes(b"not a zip")
    result = pytest_run("--bnsheet", ".", "-q", cwd=tmp_path)
    assert "1 failed" in result.stdout
    assert f"bnsheet: {tmp_path / 'broken.xlsx'}: not an .xlsx workbook" in result.stdout
    assert "Traceback" not in result.stdout


@pytest.mark.apps()  # a nested pytest run
def test_without_bnsheet_pytest_collects_what_it_did_and_imports_nothing_of_bnsheet(tmp_path, built):
    shutil.copy(built, tmp_path / "book.xlsx")
    (tmp_path / "test_plain.py").write_text(
        "import sys\n\n\ndef test_light():\n"
        "    assert 'numpy' not in sys.modules and 'bnsheet.checking' not in sys.modules\n",
        encoding="utf-8",
    )
    result = pytest_run("-q", "-p", "no:hypothesispytest", "-p", "no:openxml-audit", "-p", "no:benchmark", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout and "book.xlsx" not in result.stdout
    assert "--bnsheet" in pytest_run("--help", cwd=tmp_path).stdout


def test_the_package_declares_the_plugin_and_the_helper_keeps_working(built):
    with (ROOT / "pyproject.toml").open("rb") as handle:
        project = tomllib.load(handle)["project"]
    assert project["entry-points"]["pytest11"] == {"bnsheet": "bnsheet.pytest_plugin"}
    from bnsheet.testing import assert_workbook_matches

    assert_workbook_matches(built)
    assert bnsheet.verify(built, seed=1).ok
