"""The everyday path as a new user meets it: a build in any folder, usage and version, optional engines."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import openpyxl
import pytest
from test_cli import ROOT, run, run_here

import bnsheet
from bnsheet.a1 import parse_area
from bnsheet.errors import WorkbookError
from conftest import tamper


def test_a_default_build_makes_the_output_folder(tmp_path):
    result = run("build", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "output" / "batchnorm.xlsx").is_file()
    assert bnsheet.verify(tmp_path / "output" / "batchnorm.xlsx").ok


def test_a_refused_default_build_leaves_no_folder(tmp_path):
    result = run_here("build", "--n", "1", cwd=tmp_path)
    assert result.returncode == 2 and "N must be at least 2" in result.stderr
    assert not (tmp_path / "output").exists()


def test_a_file_where_the_default_folder_goes_is_named(tmp_path):
    (tmp_path / "output").write_text("not a folder")
    result = run_here("build", cwd=tmp_path)
    assert result.returncode == 2 and "the folder output is not a folder" in result.stderr


def test_a_folder_given_explicitly_is_not_made(tmp_path):
    for path in ("missing/dir/w.xlsx", "output/batchnorm.xlsx"):
        result = run_here("build", "-o", path, cwd=tmp_path)
        assert result.returncode == 2
        assert f"the folder {Path(path).parent} does not exist" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "missing").exists() and not (tmp_path / "output").exists()


def _pyproject_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return str(tomllib.load(handle)["project"]["version"])


def test_bnsheet_alone_prints_the_usage_and_the_commands():
    result = run_here()
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("usage: bnsheet")
    listed = {line.split()[0] for line in result.stderr.splitlines() if line.startswith("    ")}
    assert {"build", "verify", "grade", "experiment"} <= listed
    assert "--version" in result.stderr


def test_version_on_the_command_line_and_in_python():
    result = run("--version")
    assert result.returncode == 0 and result.stdout == f"bnsheet {_pyproject_version()}\n"
    assert bnsheet.__version__ == metadata.version("bnsheet") == _pyproject_version()


def test_an_uninstalled_checkout_takes_its_version_from_pyproject(tmp_path):
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
    # run from an empty folder: a checkout's bnsheet.egg-info beside the cwd would be found
    result = subprocess.run(
        [sys.executable, "-S", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"{_pyproject_version()}\n"


def run_without(modules: list[str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m bnsheet ARGS`` as where ``modules`` are not installed (None in sys.modules makes
    their import fail and find_spec find nothing) and no spreadsheet application is on the PATH."""
    script = (
        f"import runpy, sys\nsys.modules.update(dict.fromkeys({modules!r}))\n"
        "runpy.run_module('bnsheet', run_name='__main__')"
    )
    no_apps = cwd / "empty-path"
    no_apps.mkdir(exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PATH": str(no_apps)}
    return subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )


def test_without_the_optional_engines_and_openpyxl_build_and_verify_all_run_with_what_is_installed(tmp_path):
    optional = ["formulas", "ironcalc", "openpyxl"]
    built = run_without(optional, "build", "-o", "w.xlsx", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    checked = run_without(optional, "verify", "w.xlsx", "--engine", "all", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    assert "(engine: formualizer;" in checked.stdout
    assert "formulas" not in checked.stdout and "ironcalc" not in checked.stdout


def test_the_package_imports_openpyxl_nowhere_and_the_optional_engines_only_in_their_modules():
    importers: dict[str, set[str]] = {}
    for source in (ROOT / "bnsheet").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                importers.setdefault(name.split(".")[0], set()).add(source.relative_to(ROOT).as_posix())
    assert "openpyxl" not in importers
    assert importers["formulas"] == {"bnsheet/engines/formulas.py"}
    assert importers["ironcalc"] == {"bnsheet/engines/ironcalc.py"}


@pytest.mark.apps()  # three bnsheet processes
def test_a_chosen_engine_that_is_not_installed_says_how_to_install_it(tmp_path):
    bnsheet.build(tmp_path / "w.xlsx")
    hints = [("formulas", "pip install 'bnsheet[formulas]'"), ("ironcalc", "pip install 'bnsheet[ironcalc]'"),
             ("libreoffice", "apt-get install")]  # fmt: skip
    for engine, hint in hints:
        result = run_without(["formulas", "ironcalc"], "verify", "w.xlsx", "--engine", engine, cwd=tmp_path)
        assert result.returncode == 2
        assert f"bnsheet: engine {engine} is not installed; " in result.stderr and hint in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def test_negative_numbers_in_scientific_notation_reach_their_options(tmp_path):
    from bnsheet.reading.xlsx import XlsxFile

    result = run_here("build", "-o", "w.xlsx", "--lr", "-1e-1", "--eps", "1e-3", "--seed", "2", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with XlsxFile(tmp_path / "w.xlsx") as book:
        params = book.cells("params")
        assert [params[parse_area(book.names[name]).top, parse_area(book.names[name]).left].value
                for name in ("bn_lr", "bn_eps")] == [-0.1, 0.001]  # fmt: skip


def _cell_of(book: openpyxl.Workbook, name: str) -> tuple[str, str]:
    """The sheet and address the defined name ``name`` points to (its first cell)."""
    area = parse_area(book.defined_names[name].attr_text)
    assert area is not None
    return area.sheet, area.address(0, 0)


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("bn_unbiased", 2, "unbiased must be 0 or 1, got 2"),
        ("bn_unbiased", 0.5, "unbiased must be 0 or 1, got 0.5"),
        ("bn_momentum", 1.5, "momentum must be a number from 0 to 1, got 1.5"),
        ("bn_momentum", -0.1, "momentum must be a number from 0 to 1, got -0.1"),
        ("bn_eps", 0, "eps must be a positive number, got 0"),
        ("bn_eps", -1e-5, "eps must be a positive number, got -1e-05"),
    ],
)
def test_verify_names_a_parameter_out_of_range_and_its_cell(built, name, value, message):
    where: list[str] = []

    def change(book):
        sheet, address = _cell_of(book, name)
        book[sheet][address] = value
        where.append(f"'{sheet}'!{address}")

    tampered = tamper(built, change)
    with pytest.raises(WorkbookError) as refused:
        bnsheet.verify(tampered)
    assert str(refused.value) == f"{tampered}: {where[0]}: {message}"


def test_a_blank_input_cell_is_empty_and_the_sheet_is_quoted_as_the_file_has_it(built):
    def change(book):
        book["x"].title = "x's"
        book.defined_names["bn_x"].attr_text = "'x''s'!$C$7:$E$10"
        book["x's"]["C9"] = None

    result = run_here("verify", str(tamper(built, change)))
    assert result.returncode == 2
    assert result.stderr.endswith(": input cell 'x''s'!C9 is empty\n") and result.stderr.count("\n") == 1


def test_a_hidden_sheet_is_named_as_the_file_quotes_it(built):
    def change(book):
        book.create_sheet("it's").sheet_state = "hidden"

    report = bnsheet.verify(tamper(built, change), trials=0)
    assert "hidden sheets: 'it''s' (hidden); a reader of the workbook does not see them" in report.notes
