"""Build → verify with real engines, and tampered workbooks that verify must catch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import bnsheet
from bnsheet.errors import WorkbookError
from conftest import tamper

CASES = [  # (N, D, seed, eps)
    (4, 3, 0, 1e-5),
    (2, 1, 1, 1e-5),
    (5, 4, 2, 1e-3),
    (9, 2, 3, 1e-8),
]


@pytest.mark.parametrize("n, d, seed, eps", CASES)
def test_build_then_verify_with_formualizer(tmp_path, n, d, seed, eps):
    path = bnsheet.build(tmp_path / "w.xlsx", n=n, d=d, seed=seed, eps=eps)
    report = bnsheet.verify(path, engine="formualizer")
    assert report.ok, report.to_text()
    assert len(report.table) == 62 and set(report.table["status"]) == {"ok"}


@pytest.mark.apps()  # the formulas engine: seconds a workbook
@pytest.mark.parametrize("n, d, seed, eps", CASES[:2])
def test_build_then_verify_with_formulas(tmp_path, n, d, seed, eps):
    path = bnsheet.build(tmp_path / "w.xlsx", n=n, d=d, seed=seed, eps=eps)
    report = bnsheet.verify(path, engine="formulas")
    assert report.ok, report.to_text()


def test_inputs_round_trip_bit_for_bit_and_a_constant_column_verifies(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.normal(0, 1e3, (6, 3))
    x[:, 1] = 0.1  # constant: x - mean is all rounding, the tolerance must allow for it
    gamma = pd.DataFrame([[1 / 3, 2.0, np.pi]])
    path = bnsheet.build(tmp_path / "w.xlsx", x=x, gamma=gamma, beta=[0.0, 1e-8, -2.5], dout=x * 1e-3)
    report = bnsheet.verify(path)
    assert report.ok, report.to_text()
    from bnsheet.reading.xlsx import XlsxFile

    with XlsxFile(path) as book:
        cells = book.cells("x")
        stored = np.array([[cells[(7 + i, 3 + j)].value for j in range(3)] for i in range(6)])
        assert np.array_equal(stored, x)
        assert book.cells("gamma")[(7, 3)].value == 1 / 3


def test_report_table_columns(built):
    table = bnsheet.verify(built).table
    assert list(table.columns)[:10] == [
        "node", "sheet", "shape", "cells", "max_abs_err", "max_rel_err",
        "status", "first_bad_cell", "expected", "got",
    ]  # fmt: skip
    assert table.set_index("node").loc["xmu", "shape"] == "4x3"


def _result(report, node):
    return report.table.set_index("node").loc[node]


def test_one_cell_formula_changed_is_named(built):
    def change(book):
        book["xhat"]["D9"] = "='xmu'!D9*'ivar'!D$7*1.5"

    report = bnsheet.verify(tamper(built, change))
    assert not report.ok
    row = _result(report, "xhat")
    assert row.status == "mismatch" and row.first_bad_cell == "'xhat'!D9"
    assert "not one formula" in row.detail


def test_one_cell_edited_with_the_same_value_is_still_not_filled(built):
    def change(book):
        book["xhat"]["D9"] = "='ivar'!D$7*'xmu'!D9"  # same number, a different formula

    row = _result(bnsheet.verify(tamper(built, change)), "xhat")
    assert row.status == "not filled" and row.first_bad_cell == "'xhat'!D9"
    assert row.expected == "='xmu'!D9*'ivar'!D$7" and row.got == "='ivar'!D$7*'xmu'!D9"


def test_a_dollar_dropped_in_the_first_row_is_caught_though_its_value_is_right(built):
    def change(book):
        book["xhat"]["C7"] = "='xmu'!C7*'ivar'!C7"

    row = _result(bnsheet.verify(tamper(built, change)), "xhat")
    assert row.status == "not filled" and row.first_bad_cell == "'xhat'!C7"


def test_a_dollar_dropped_over_the_whole_block_stops_the_broadcast(built):
    def change(book):
        for r in range(7, 11):
            for c in "CDE":
                book["xhat"][f"{c}{r}"] = f"='xmu'!{c}{r}*'ivar'!{c}{r}"

    report = bnsheet.verify(tamper(built, change))
    row = _result(report, "xhat")
    assert row.status == "mismatch" and row.first_bad_cell == "'xhat'!C8"
    assert _result(report, "out").status == _result(report, "dgamma").status == "mismatch"  # downstream


def test_a_formula_replaced_by_its_value(built):
    value = bnsheet.reference.nodes(*_inputs(built))["dvar"][0, 1]

    def change(book):
        book["dvar"]["D7"] = float(value)

    row = _result(bnsheet.verify(tamper(built, change)), "dvar")
    assert row.status == "constant" and row.first_bad_cell == "'dvar'!D7"


def test_a_node_sheet_deleted(built):
    def change(book):
        del book["divar"]

    report = bnsheet.verify(tamper(built, change))
    assert not report.ok
    row = _result(report, "divar")
    assert row.status == "missing" and "'divar'" in row.detail
    assert _result(report, "dsqrtvar").status == "error"


def test_an_input_sheet_deleted_makes_the_file_unusable(built):
    def change(book):
        del book["gamma"]

    with pytest.raises(WorkbookError, match="input gamma is missing"):
        bnsheet.verify(tamper(built, change))


def test_a_defined_name_removed(built):
    def change(book):
        del book.defined_names["bn_dx1"]

    row = _result(bnsheet.verify(tamper(built, change)), "dx1")
    assert row.status == "missing" and "bn_dx1" in row.detail


def test_error_values_are_reported_not_raised(built):
    def change(book):
        for c in "CDE":
            book["sqrtvar"][f"{c}7"] = f"=SQRT(-1-'var'!{c}$7)"

    report = bnsheet.verify(tamper(built, change))
    row = _result(report, "sqrtvar")
    assert row.status == "error" and row.got == "#NUM!" and row.first_bad_cell == "'sqrtvar'!C7"


def test_a_circular_reference_is_an_error(built):
    def change(book):
        for c in "CDE":
            book["mean"][f"{c}7"] = f"=AVERAGE('x'!{c}$7:{c}$10)+'dx'!{c}7*0"

    row = _result(bnsheet.verify(tamper(built, change)), "mean")
    assert row.status == "error"


def test_an_input_changed_in_the_file_is_what_the_reference_uses(built):
    def change(book):
        book["x"]["D8"] = 123.25

    assert bnsheet.verify(tamper(built, change)).ok


def test_verify_never_writes_the_file(built):
    before = built.read_bytes()
    bnsheet.verify(built)
    assert built.read_bytes() == before


def _inputs(path):
    from bnsheet.reading.xlsx import XlsxFile

    with XlsxFile(path) as book:

        def block(name, rows):
            cells = book.cells(name)
            return np.array([[cells[(7 + i, 3 + j)].value for j in range(3)] for i in range(rows)])

        return block("x", 4), block("gamma", 1), block("beta", 1), block("dout", 4)
