"""The process runner for spreadsheet applications: timeouts, process groups, workspaces."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from bnsheet import engines
from bnsheet.engines import external
from bnsheet.errors import EngineError


def _alive(pid: int) -> bool:
    # A killed child of a killed group may linger as a zombie until reaped by init; once reaped,
    # its /proc entry is gone (also between the two looks here).
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.mark.apps()  # waits out a two-second timeout
def test_a_hung_application_is_killed_with_its_helpers(tmp_path):
    pidfile = tmp_path / "helper.pid"
    command = ["sh", "-c", f"sleep 300 & echo $! > {pidfile}; sleep 300"]  # a helper, then hang
    started = time.monotonic()
    with pytest.raises(EngineError, match="hung: no answer after 2 s"):
        external.run(command, name="app", cwd=tmp_path, timeout=2)
    # not a measure of speed: a group left alive would keep the output pipe open for 300 s
    assert time.monotonic() - started < 60
    helper = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while _alive(helper) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(helper)


def test_a_failing_or_missing_application_is_an_engine_error(tmp_path):
    with pytest.raises(EngineError, match="app failed with exit status 3: broken"):
        external.run(["sh", "-c", "echo broken; exit 3"], name="app", cwd=tmp_path)
    with pytest.raises(EngineError, match="app could not be started"):
        external.run([str(tmp_path / "no-such-program")], name="app", cwd=tmp_path)


def test_the_workspace_holds_a_copy_and_is_removed_even_after_a_failure(tmp_path, monkeypatch):
    # A private temporary folder: another test run on the machine may have workspaces of its own.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    source = tmp_path / "book.xlsx"
    source.write_bytes(b"original")

    def app_that_overwrites_its_input_then_fails(ws: external.Workspace, out: Path) -> list[str]:
        return ["sh", "-c", f"echo changed > {ws.source}; exit 1"]

    with pytest.raises(EngineError):
        with external.recalculated(source, name="app", command=app_that_overwrites_its_input_then_fails):
            pass
    assert source.read_bytes() == b"original"
    assert not list(Path(tempfile.gettempdir()).glob("bnsheet-app-*"))


def test_an_application_that_saves_nothing_is_an_engine_error(tmp_path):
    source = tmp_path / "book.xlsx"
    source.write_bytes(b"x")
    with pytest.raises(EngineError, match="did not save a recalculated copy"):
        with external.recalculated(source, name="app", command=lambda ws, out: ["true"]):
            pass


def test_save_copy_never_overwrites(tmp_path):
    (tmp_path / "saved.xlsx").write_bytes(b"new")
    (tmp_path / "mine.xlsx").write_bytes(b"keep")
    with pytest.raises(EngineError, match="already exists"):
        external.save_copy(tmp_path / "saved.xlsx", tmp_path / "mine.xlsx")
    assert (tmp_path / "mine.xlsx").read_bytes() == b"keep"


@pytest.mark.parametrize(
    "value, allowed",
    [(1.0, 5e-15), (9.99, 5e-15), (0.0123, 5e-17), (-123456.0, 5e-10), (0.0, 0.0)],
)
def test_libreoffice_is_allowed_half_a_unit_in_its_15th_digit(value, allowed):
    assert engines.rounding("libreoffice", np.array([value]))[0] == pytest.approx(allowed, rel=0.05)
    assert engines.rounding("formualizer", np.array([value]))[0] == 0.0


def test_fifteen_digits_fit_in_the_allowance_and_sixteen_wrong_ones_do_not():
    rng = np.random.default_rng(3)
    values = rng.normal(0, 1, 1000) * 10.0 ** rng.integers(-8, 8, 1000)
    stored = np.array([float(f"{v:.14e}") for v in values])  # what LibreOffice writes
    assert np.all(np.abs(stored - values) <= engines.rounding("libreoffice", values))
    off = stored + 3 * engines.rounding("libreoffice", values)  # three half-units off: a real difference
    assert np.all(np.abs(off - values) > engines.rounding("libreoffice", values))
