"""Writes are atomic and never replace what a user had by surprise: an interrupted build leaves
the previous file intact, and a file bnsheet did not write is replaced only with --force."""

from __future__ import annotations

import hashlib
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import bnsheet
from bnsheet import cli
from conftest import interruptible, tamper


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# A build held at the last moment an interruption can come: its temporary file is written and
# about to be renamed over the old one. An audit hook in the real process holds it (and says so
# by creating the file named first on its command line), so the signal cannot come too late.
_HELD_BUILD = """
import sys, time
from pathlib import Path

held = Path(sys.argv[1])

def hold(event, args):
    if event == "os.rename" and str(args[0]).endswith(".tmp"):
        held.touch()
        time.sleep(120)  # until the test interrupts it; then the rename goes ahead and the test fails

sys.addaudithook(hold)
from bnsheet.cli import main
raise SystemExit(main(sys.argv[2:]))
"""


def held_build(held: Path, *args: str) -> subprocess.Popen[str]:
    """``bnsheet build --quiet ARGS`` in a process of its own, held before its rename (see above)."""
    return subprocess.Popen(
        [sys.executable, "-c", _HELD_BUILD, str(held), "build", "--quiet", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,
    )


def wait_until_held(held: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if held.exists():
            return
        time.sleep(0.02)
    raise AssertionError(f"the build never reached its rename: {process.communicate()}")


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_the_workbook_gets_the_mode_the_umask_asks_for(tmp_path, umask):
    old = os.umask(umask)
    try:
        path = bnsheet.build(tmp_path / "w.xlsx")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
    assert leftovers(tmp_path) == []


def test_a_bnsheet_workbook_is_rebuilt_freely(tmp_path):
    path = bnsheet.build(tmp_path / "w.xlsx", seed=1)
    first = sha256(path)
    bnsheet.build(path, seed=2)
    assert sha256(path) != first and bnsheet.verify(path).ok


@pytest.mark.parametrize("kind", ["text", "saved by another application", "empty"])
def test_a_file_bnsheet_did_not_write_is_kept_unless_forced(tmp_path, capsys, kind):
    path = tmp_path / "w.xlsx"
    if kind == "text":
        path.write_text("my notes\n")
    elif kind == "empty":
        path.write_bytes(b"")
    else:  # a learner's edited copy of a bnsheet workbook: openpyxl marks it as its own
        tamper(bnsheet.build(tmp_path / "original.xlsx"), lambda book: None, name="w.xlsx")
    before = sha256(path)
    assert cli.main(["build", "-o", str(path)]) == 2
    err = capsys.readouterr().err
    assert err == f"bnsheet: {path}: exists and was not written by bnsheet; use --force to replace it\n"
    assert sha256(path) == before and leftovers(tmp_path) == []
    with pytest.raises(bnsheet.WorkbookError, match="use --force"):
        bnsheet.build(path)
    assert cli.main(["build", "-o", str(path), "--force"]) == 0
    assert bnsheet.verify(path).ok


def test_an_unwritable_folder(tmp_path, capsys):
    if os.geteuid() == 0:  # root writes anywhere a mode allows; /sys refuses even root
        folder = Path("/sys")
    else:
        folder = tmp_path / "locked"
        folder.mkdir(mode=0o500)
    assert cli.main(["build", "-o", str(folder / "w.xlsx")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"bnsheet: {folder / 'w.xlsx'}: cannot write in {folder}") and err.count("\n") == 1


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path):
    """A write that fails midway (here a file-size limit, as a full disk would) changes nothing."""
    path = bnsheet.build(tmp_path / "w.xlsx")
    before = sha256(path)

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # so the write fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 10, 64 << 10))

    result = subprocess.run(
        [sys.executable, "-m", "bnsheet", "build", "-o", str(path), "--n", "200", "--d", "20"],
        capture_output=True, text=True, preexec_fn=small_files, timeout=300,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"bnsheet: {path}: cannot write (File too large)\n"
    assert sha256(path) == before and leftovers(tmp_path) == []


def test_ctrl_c_midway_leaves_the_old_file_intact_and_no_partial_file(tmp_path):
    path = bnsheet.build(tmp_path / "w.xlsx")
    before = sha256(path)
    process = held_build(tmp_path / "held", "-o", str(path), "--seed", "1")  # other bytes than before
    wait_until_held(tmp_path / "held", process)
    assert len(leftovers(tmp_path)) == 1  # the new workbook, written, not yet in place
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130 and err.strip() == "bnsheet: interrupted"
    assert sha256(path) == before and leftovers(tmp_path) == []
    assert bnsheet.verify(path).ok


def test_a_killed_build_leaves_the_old_file_intact_and_the_next_build_cleans_up(tmp_path):
    path = bnsheet.build(tmp_path / "w.xlsx")
    before = sha256(path)
    process = held_build(tmp_path / "held", "-o", str(path), "--seed", "1")
    wait_until_held(tmp_path / "held", process)
    process.kill()
    process.communicate(timeout=60)
    assert sha256(path) == before and bnsheet.verify(path).ok
    stale = leftovers(tmp_path)
    assert len(stale) == 1 and stale[0].startswith(f".w.xlsx.{process.pid}.")  # hidden, named after its pid
    bnsheet.build(path, seed=5)
    assert leftovers(tmp_path) == [] and sha256(path) != before
