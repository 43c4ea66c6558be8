"""The everyday path as a new user meets it: a build in any folder, usage and version, optional engines."""

from __future__ import annotations

from pathlib import Path

from test_cli import run

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
