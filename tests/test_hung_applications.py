"""A spreadsheet application that hangs, as verify meets it end to end: the command answers with
one line and exit status 2 (or 130 on Ctrl-C), no process of the application is left, its
temporary workspace is gone, and the workbook is untouched.

The application is a stand-in script named like the real program, first on PATH: it starts a
helper process (as soffice starts soffice.bin) and then never answers.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from bnsheet import cli
from bnsheet.engines import external
from conftest import interruptible

pytestmark = pytest.mark.apps()  # stand-ins that hang until verify's timeout, seconds each

PROGRAMS = {"libreoffice": "soffice", "gnumeric": "ssconvert"}


@pytest.fixture
def hanging(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on PATH with hanging stand-ins for the applications; returns where helpers record their pid."""
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    pids = tmp_path / "pids"
    pids.mkdir()
    for program in PROGRAMS.values():
        script = bin_folder / program
        script.write_text(f'#!/bin/sh\nsleep 300 &\necho $! > "{pids}/helper.$$"\nsleep 300\n')
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_folder}{os.pathsep}{os.environ['PATH']}")
    return pids


@pytest.fixture
def temp_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A temporary-files folder of this test's own, so leftovers can be counted."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def helpers(pids: Path) -> list[int]:
    return [int(p.read_text()) for p in pids.iterdir() if p.read_text().strip()]


def alive(pid: int) -> bool:
    try:  # a zombie is gone; a reaped process has no /proc entry (also between two looks)
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def all_gone(pids: list[int]) -> bool:
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(alive(pid) for pid in pids)


@pytest.mark.parametrize("engine", PROGRAMS)
def test_a_hung_application_is_stopped_and_reported(built, hanging, temp_folder, monkeypatch, capsys, engine):
    monkeypatch.setattr(external, "TIMEOUT", 2.0)
    before = hashlib.sha256(built.read_bytes()).hexdigest()
    started = time.monotonic()
    assert cli.main(["verify", str(built), "--engine", engine]) == 2
    assert time.monotonic() - started < 60
    assert capsys.readouterr().err == f"bnsheet: {engine} hung: no answer after 2 s; it was stopped\n"
    started_helpers = helpers(hanging)
    assert len(started_helpers) == 1 and all_gone(started_helpers)
    assert list(temp_folder.iterdir()) == []
    assert hashlib.sha256(built.read_bytes()).hexdigest() == before


def test_ctrl_c_while_an_application_runs_leaves_nothing_behind(built, hanging, temp_folder):
    process = subprocess.Popen(
        [sys.executable, "-m", "bnsheet", "verify", str(built), "--engine", "libreoffice"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,
    )
    deadline = time.monotonic() + 60
    while not helpers(hanging) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert helpers(hanging), "the application never started"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and err == "bnsheet: interrupted\n"
    assert all_gone(helpers(hanging))
    assert list(temp_folder.iterdir()) == []
