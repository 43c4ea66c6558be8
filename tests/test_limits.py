"""One set of size limits (bnsheet/limits.py): build refuses, before writing, what verify would
refuse, and its estimate of a workbook's size holds the writer's from above."""

from __future__ import annotations

import zipfile

import pytest
from test_cli import run

import bnsheet
from bnsheet import limits
from bnsheet.layout import Layout
from bnsheet.model.graph import load
from bnsheet.reading import vetting
from bnsheet.writing import size


@pytest.mark.parametrize(
    ("unpacked", "sheet", "total", "refused"),
    [
        (limits.MAX_UNPACKED_BYTES, limits.MAX_SHEET_CELLS, limits.MAX_WORKBOOK_CELLS, None),
        (limits.MAX_UNPACKED_BYTES + 1, 10, 10, "unpack to"),
        (10, limits.MAX_SHEET_CELLS + 1, limits.MAX_SHEET_CELLS + 1, "a sheet would hold"),
        (10, 10, limits.MAX_WORKBOOK_CELLS + 1, "the sheets would hold"),
    ],
)
def test_what_verify_would_refuse_is_named_on_either_side_of_each_limit(unpacked, sheet, total, refused):
    reason = limits.problem(unpacked, sheet, total)
    assert reason is None if refused is None else refused in reason and "more than bnsheet reads" in reason


@pytest.mark.parametrize(
    ("n", "d"),
    [
        (4, 3),
        (64, 16),
        (300, 2),
        pytest.param(5, 700, marks=pytest.mark.apps()),
        pytest.param(128, 64, marks=pytest.mark.apps()),
    ],
)  # the two largest take seconds
def test_the_size_estimate_holds_the_writers_from_above_and_closely(tmp_path, n, d):
    path = bnsheet.build(tmp_path / "w.xlsx", n=n, d=d, lang="ja")
    with zipfile.ZipFile(path) as package:
        unpacked = sum(info.file_size for info in package.infolist())
        sheets = [vetting._count_cells(package.read(name)) for name in package.namelist() if "worksheets/sheet" in name]
    bound, largest, total = size.estimate(load(lang="ja"), Layout(n, d))
    assert unpacked <= bound <= 1.2 * unpacked + (1 << 20)
    assert max(sheets) <= largest and sum(sheets) <= total


@pytest.mark.parametrize(("n", "d", "builds"), [(2048, 256, True), (2048, 320, False), (1024, 1024, False),
                                                (1_048_570, 1, False), (8192, 64, True)])  # fmt: skip
def test_build_takes_what_verify_reads_and_no_more(n, d, builds):
    graph = load()
    if builds:
        size.check(graph, Layout(n, d))
    else:
        with pytest.raises(bnsheet.InputError, match=f"^{n}x{d}: it would unpack to .* MB, more than bnsheet reads"):
            size.check(graph, Layout(n, d))


@pytest.mark.parametrize(("n", "d"), [("1024", "1024"), pytest.param("1048570", "1", marks=pytest.mark.apps())])
def test_a_size_verify_could_not_read_is_refused_in_one_line_before_anything_is_written(tmp_path, n, d):
    target = tmp_path / "big.xlsx"
    done = run("build", "-o", str(target), "--n", n, "--d", d, "--quiet")
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"bnsheet: {n}x{d}: it would unpack to"), done.stderr
    assert "could not be verified" in lines[0] and not list(tmp_path.iterdir())
