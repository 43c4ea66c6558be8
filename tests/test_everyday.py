"""The everyday path as a new user meets it: a build in any folder, usage and version, optional engines."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from test_cli import ROOT, run

import bnsheet


def test_a_default_build_makes_the_output_folder(tmp_path):
    result = run("build", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "output" / "batchnorm.xlsx").is_file()
    assert bnsheet.verify(tmp_path / "output" / "batchnorm.xlsx").ok


def test_a_refused_default_build_leaves_no_folder(tmp_path):
    result = run("build", "--n", "1", cwd=tmp_path)
    assert result.returncode == 2 and "N must be at least 2" in result.stderr
    assert not (tmp_path / "output").exists()


def test_a_file_where_the_default_folder_goes_is_named(tmp_path):
    (tmp_path / "output").write_text("not a folder")
    result = run("build", cwd=tmp_path)
    assert result.returncode == 2 and "the folder output is not a folder" in result.stderr


def test_a_folder_given_explicitly_is_not_made(tmp_path):
    for path in ("missing/dir/w.xlsx", "output/batchnorm.xlsx"):
        result = run("build", "-o", path, cwd=tmp_path)
        assert result.returncode == 2
        assert f"the folder {Path(path).parent} does not exist" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "missing").exists() and not (tmp_path / "output").exists()


def _pyproject_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return str(tomllib.load(handle)["project"]["version"])


def test_bnsheet_alone_prints_the_usage_and_the_commands():
    result = run()
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("usage: bnsheet")
    listed = {line.split()[0] for line in result.stderr.splitlines() if line.startswith("    ")}
    assert {"build", "verify", "grade", "experiment"} <= listed
    assert "--version" in result.stderr


def test_version_on_the_command_line_and_in_python():
    result = run("--version")
    assert result.returncode == 0 and result.stdout == f"bnsheet {_pyproject_version()}\n"
    assert bnsheet.__version__ == metadata.version("bnsheet") == _pyproject_version()


def test_an_uninstalled_checkout_takes_its_version_from_pyproject():
    # python -S: no site-packages, so no installed bnsheet for importlib.metadata to find
    script = (
        "import importlib.util, sys\n"
        "from importlib import metadata\n"
        "try:\n    metadata.version('bnsheet')\nexcept metadata.PackageNotFoundError:\n    pass\n"
        "else:\n    sys.exit('bnsheet is installed where python -S looks')\n"
        f"spec = importlib.util.spec_from_file_location('version', {str(ROOT / 'bnsheet' / 'version.py')!r})\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "print(module.__version__)\n"
    )
    result = subprocess.run([sys.executable, "-S", "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{_pyproject_version()}\n"
