"""Reading the shared formulas Excel writes, and comparing engines with each other."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sheetxml import as_shared, blocks, set_formula

import bnsheet
from bnsheet.a1 import Area
from bnsheet.checking import agreement
from bnsheet.checking.report import NodeResult, Report
from bnsheet.reading.xlsx import XlsxFile
from bnsheet.values import ErrorValue


@pytest.fixture
def shared(built, tmp_path):
    cached = {(a.sheet, a.top + i, a.left + j): 0.0 for a in blocks(built) for i, j in np.ndindex(a.shape)}
    return as_shared(built, tmp_path / "shared.xlsx", cached)


def test_a_shared_formula_reads_as_the_blocks_formula_filled(built, shared):
    with XlsxFile(built) as plain, XlsxFile(shared) as excel:
        for sheet in plain.sheet_names:
            ours, theirs = plain.cells(sheet), excel.cells(sheet)
            assert {k: c.formula for k, c in ours.items()} == {k: c.formula for k, c in theirs.items()}, sheet
        assert excel.cells("xhat")[(10, 5)].formula == "='xmu'!E10*'ivar'!E$7"
        assert excel.cells("xhat")[(10, 5)].shared and not excel.cells("xhat")[(7, 3)].shared


def test_a_cell_with_its_own_formula_overrides_only_itself(shared, tmp_path):
    # Excel stores a cell edited inside a shared range as a plain <f> of its own.
    plain = set_formula(shared, tmp_path / "plain.xlsx", "xmu", "D9", "'x'!D9*3")
    with XlsxFile(plain) as book:
        cells = book.cells("xmu")
        assert cells[(9, 4)].formula == "='x'!D9*3" and not cells[(9, 4)].shared
        others = {k: c.formula for k, c in cells.items() if k != (9, 4) and c.r1c1}
        assert others[(10, 5)] == "='x'!E10-'mean'!E$7" and len(set(map(_r1c1, others.items()))) == 1
    row = bnsheet.verify(plain).table.set_index("node").loc["xmu"]
    assert row.status == "mismatch" and row.first_bad_cell == "'xmu'!D9"


def _r1c1(item):
    from bnsheet.a1 import to_r1c1

    (row, col), formula = item
    return to_r1c1(formula, row, col)


AREA = Area("xmu", 7, 3, 8, 4)


def _block(*values):
    return np.array(values, dtype=object).reshape(2, 2)


@pytest.mark.parametrize(
    "a, b, disagree",
    [
        (_block(1.0, 2.0, 3.0, 4.0), _block(1.0, 2.0, 3.0, 4.0), None),
        (_block(1.0, 2.0, 3.0, 4.0), _block(1.0, 2.0, 3.0 + 1e-9, 4.0), "C8"),  # cells C7 D7 / C8 D8
        (_block(1.0, 2.0, 3.0, 4.0), _block(1.0, 2.0 + 1e-13, 3.0, 4.0), None),  # within tolerance
        (_block(ErrorValue("#NUM!"), 2.0, 3.0, 4.0), _block(ErrorValue("#VALUE!"), 2.0, 3.0, 4.0), None),
        (_block(ErrorValue("#NUM!"), 2.0, 3.0, 4.0), _block(0.0, 2.0, 3.0, 4.0), "C7"),
        (_block(None, 2.0, 3.0, 4.0), _block(0.0, 2.0, 3.0, 4.0), "C7"),
    ],
)
def test_engines_disagree_beyond_tolerance(a, b, disagree):
    tolerance = {"xmu": np.full((2, 2), 1e-12)}
    found = agreement.disagreements({"formualizer": {AREA: a}, "formulas": {AREA: b}}, {"xmu": AREA}, tolerance)
    assert (found["xmu"].address if found else None) == disagree


def test_libreoffice_may_differ_by_its_15_digits_and_no_more():
    exact = _block(1 / 3, 2.0, 3.0, 4.0)
    tolerance = {"xmu": np.zeros((2, 2))}
    for stored, disagree in ((float(f"{1 / 3:.14e}"), False), (1 / 3 + 1e-15, True)):
        runs = {"formualizer": {AREA: exact}, "libreoffice": {AREA: _block(stored, 2.0, 3.0, 4.0)}}
        assert bool(agreement.disagreements(runs, {"xmu": AREA}, tolerance)) is disagree


def test_a_node_both_engines_get_right_but_differently_is_reported_as_disagree():
    results = {
        name: [NodeResult("xmu", "xmu", "2x2", 4, max_abs_err=err, max_rel_err=err)]
        for name, err in (("one", 1e-13), ("two", 2e-13))
    }
    found = {"xmu": agreement.Difference("xmu", "D8", "one", "two", 1.0, 1.0 + 3e-13, 1)}
    report = Report.combine(Path("w.xlsx"), results, found, agreement.pairwise({}, {}, {}), [])
    table = report.table
    assert not report.ok and list(table.status) == ["disagree"] and table.first_bad_cell[0] == "'xmu'!D8"
    assert list(table.status_one) == list(table.status_two) == ["ok"] and table.max_abs_err[0] == 2e-13
