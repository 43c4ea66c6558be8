"""The command line as a user meets it: exit statuses 0/1/2 and one-line messages, no tracebacks."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bnsheet import cli
from conftest import tamper

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m bnsheet ARGS`` with this checkout first on the path, whatever ``cwd`` is."""
    paths = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, **(env or {}), "PYTHONPATH": os.pathsep.join(paths)}
    return subprocess.run(
        [sys.executable, "-m", "bnsheet", *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


def run_here(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``bnsheet ARGS`` in this process, as ``python -m bnsheet`` runs it (``SystemExit(main())``)
    without starting Python: for the messages and statuses; :func:`run` is the real command. An
    exception main lets out fails the test, as a traceback would."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(cwd or Path.cwd()), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = cli.main(list(args))
        except SystemExit as exit:  # argparse's --help, --version and usage errors
            status = 0 if exit.code is None else exit.code if isinstance(exit.code, int) else 1
    return subprocess.CompletedProcess(list(args), status, out.getvalue(), err.getvalue())


def test_build_then_verify_exit_0(tmp_path):
    built = run("build", "-o", str(tmp_path / "w.xlsx"), "--n", "5", "--d", "2", "--seed", "3")
    assert built.returncode == 0 and f"wrote {tmp_path / 'w.xlsx'}" in built.stdout
    checked = run("verify", str(tmp_path / "w.xlsx"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "all 62 nodes match" in checked.stdout
    rows = [line.split() for line in checked.stdout.splitlines()]
    for node in ("mean", "dsqrtvar", "dx1", "dx", "check_fd_holds"):
        assert [node, *rows[[r[:1] for r in rows].index([node])][1:]][-1] == "ok"


def test_default_build_writes_output_batchnorm(tmp_path):
    (tmp_path / "output").mkdir()
    assert run_here("build", cwd=tmp_path).returncode == 0
    assert (tmp_path / "output" / "batchnorm.xlsx").is_file()


def test_verify_json(built):
    import json

    result = run_here("verify", str(built), "--json", "--engine", "formualizer")
    data = json.loads(result.stdout)
    assert result.returncode == 0 and data["ok"] is True and len(data["nodes"]) == 62


def test_a_tampered_workbook_exits_1_and_names_the_cell(built):
    def change(book):
        book["dx"]["E8"] = "='dx1'!E8-'dx2'!E8"

    result = run_here("verify", str(tamper(built, change)))
    assert result.returncode == 1
    assert "dx: mismatch at 'dx'!E8" in result.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["verify", "missing.xlsx"], "missing.xlsx: no such file"),
        (["verify", "notes.txt"], "not an .xlsx workbook"),
        (["verify", "ok.xlsx", "--engine", "excel"], "invalid choice: 'excel'"),
        (["build", "--n", "1"], "N must be at least 2"),
        (["build", "--d", "0"], "D must be at least 1"),
        (["build", "--eps", "0"], "eps must be a positive number"),
        (["build", "--eps", "-1e-5"], "eps must be a positive number, got -1e-05"),
        (["build", "--momentum", "-2.5E-1"], "momentum must be a number from 0 to 1, got -0.25"),
        (["build", "--quiet", "-1e-5"], "unrecognized arguments: -1e-5"),
        (["build", "--x", "typo.csv"], "typo.csv: row 1, column 3: '3o' is not a number"),
        (["build", "--x", "ragged.csv"], "ragged.csv: row 2 has 1 field, row 1 has 2"),
        (["build", "--x", "words.csv"], "words.csv: row 2, column 2: 'abc' is not a number"),
        (["build", "--x", "good.csv", "--gamma", "gamma3.csv"], "gamma (gamma3.csv) must be 1x2, got 1x3"),
        (["build", "-o", "nowhere/w.xlsx"], "the folder nowhere does not exist"),
        (["build", "--n", "two"], "invalid int value"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_unusable_input_exits_2_with_one_line(tmp_path, args, message):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "ragged.csv").write_text("1,2\n3\n")
    (tmp_path / "words.csv").write_text("a,b\n1,abc\n")
    (tmp_path / "typo.csv").write_text("1.5,2,3o\n4,5,6\n7,8,9\n")
    (tmp_path / "good.csv").write_text("1,2\n3,4\n5,7\n")
    (tmp_path / "gamma3.csv").write_text("1,2,3\n")
    (tmp_path / "ok.xlsx").write_bytes(b"")
    result = run_here(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_build_from_csv_files_with_and_without_header(tmp_path):
    (tmp_path / "x.csv").write_text("f1,f2\n1.5,2\n-3,4.25\n0.1,8\n")
    (tmp_path / "gamma.csv").write_text("2,0.5\n")
    result = run_here("build", "-o", "w.xlsx", "--x", "x.csv", "--gamma", "gamma.csv", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    from bnsheet.reading.xlsx import XlsxFile

    with XlsxFile(tmp_path / "w.xlsx") as book:
        assert book.names["bn_x"] == "'x'!$C$7:$D$9"
        assert book.cells("x")[(8, 4)].value == 4.25
        assert book.cells("gamma")[(7, 3)].value == 2.0
    assert run_here("verify", "w.xlsx", cwd=tmp_path).returncode == 0


def test_python_dash_m_and_the_console_script_agree(tmp_path):
    script = Path(sys.executable).with_name("bnsheet")
    if not script.exists():
        pytest.skip("console script not on this interpreter's path")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "build" in result.stdout and "verify" in result.stdout


def _on_a_terminal(*args: str) -> tuple[int, str]:
    """Run bnsheet with stderr on a pseudo-terminal; its exit status and what it drew there."""
    import fcntl
    import os
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # tqdm draws nothing at width 0
    process = subprocess.Popen([sys.executable, "-m", "bnsheet", *args], stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    drawn = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the terminal closes when bnsheet exits
            break
        if not chunk:
            break
        drawn += chunk
    os.close(leader)
    return process.wait(timeout=300), drawn.decode(errors="replace")


@pytest.mark.apps()  # builds and verifies behind a pseudo-terminal, seconds
def test_progress_bars_on_a_terminal_and_quiet_with_quiet(tmp_path):
    path = str(tmp_path / "w.xlsx")
    status, drawn = _on_a_terminal("build", "-o", path, "--n", "40", "--d", "5")
    assert status == 0 and "build" in drawn and "cell" in drawn
    status, drawn = _on_a_terminal("verify", path)
    assert status == 0 and "check" in drawn and "step" in drawn
    for command in (["build", "-o", path, "--n", "40", "--d", "5", "--quiet"], ["verify", path, "--quiet"]):
        status, drawn = _on_a_terminal(*command)
        assert status == 0 and drawn == ""


def test_no_progress_bar_when_stderr_is_not_a_terminal(tmp_path):
    built = run("build", "-o", str(tmp_path / "w.xlsx"), "--n", "40", "--d", "5")
    checked = run("verify", str(tmp_path / "w.xlsx"))
    assert built.returncode == checked.returncode == 0 and built.stderr == checked.stderr == ""


@pytest.mark.parametrize(
    "n, d, fits",
    [
        (1_048_576 - 6, 1, True),  # the block starts at row 7: the last sample on Excel's last row
        (1_048_576 - 5, 1, False),
        (2, 16_384 - 2, True),  # and at column C
        (2, 16_384 - 1, False),
    ],
)
def test_sizes_beyond_excel_are_refused_up_front(tmp_path, n, d, fits):
    from bnsheet.errors import InputError
    from bnsheet.model.inputs import check_size

    if fits:
        check_size(n, d)
        return
    with pytest.raises(InputError):
        check_size(n, d)
    result = run_here("build", "-o", str(tmp_path / "w.xlsx"), "--n", str(n), "--d", str(d))
    assert result.returncode == 2 and "does not fit on a sheet" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not (tmp_path / "w.xlsx").exists()
