"""Faults found in the engines, kept visible: each test asserts the engine's wrong behaviour, so it
fails (and tells us to drop our workaround) the day the engine is fixed."""

from __future__ import annotations

from pathlib import Path

import formualizer as fz
import numpy as np
from conftest import require_apps
from sheetxml import as_shared, blocks, set_formula

import bnsheet
from bnsheet import engines


def _shared_copy(tmp_path: Path) -> Path:
    source = bnsheet.build(tmp_path / "w.xlsx")
    values = engines.recalculate("formualizer", source, blocks(source))
    cached = {(a.sheet, a.top + i, a.left + j): v for a, block in values.items() for (i, j), v in np.ndenumerate(block)}
    return as_shared(source, tmp_path / "shared.xlsx", cached)


def test_formualizer_shifts_a_sheet_named_like_a_cell_when_it_fills_a_shared_formula(tmp_path):
    # dmu's block is the shared formula -SUM('dx1'!C$7:C$10) in C7, filled to D7:E7. By hand (and in
    # Excel, LibreOffice, Gnumeric, formulas) D7 is -SUM('dx1'!D$7:D$10). formualizer 0.13 shifts the
    # quoted sheet name dx1 as if it were a relative cell reference (dx1 -> DY1), finds no such sheet
    # and gives #REF!. bnsheet works around it in engines/formualizer.py (_shared_formulas_to_expand).
    # When this test fails, formualizer is fixed: remove the workaround and this test.
    book = fz.load_workbook(str(_shared_copy(tmp_path)))
    book.evaluate_all()
    formulas = book.sheet("dmu").get_formulas(fz.RangeAddress("dmu", 7, 3, 7, 5))[0]
    assert formulas[0] == "-SUM(dx1!C$7:C$10)"
    assert formulas[1] == "-SUM(DY1!D$7:D$10)"  # wrong: should read sheet dx1
    value = book.sheet("dmu").get_values(fz.RangeAddress("dmu", 7, 4, 7, 4))[0][0]
    assert isinstance(value, dict) and value.get("kind") == "Ref"


def test_with_the_workaround_formualizer_verifies_the_shared_copy(tmp_path):
    report = bnsheet.verify(_shared_copy(tmp_path), engine="formualizer")
    assert report.ok, report.to_text()


def test_formulas_rounds_the_numbers_it_loads_to_15_decimal_places(tmp_path):
    # x holds 2.463422947115834e-06; Excel, LibreOffice, Gnumeric and formualizer keep the double.
    # formulas 1.3 loads round(value, 15) = 2.463422947115e-06 (the last digits gone), so every
    # node computed from small inputs drifts by up to 1e-9 relative. bnsheet works around it in
    # engines/formulas.py (_exact_numbers). When this test fails, formulas is fixed: remove both.
    import contextlib
    import io

    import formulas

    x = np.full((2, 1), 2.463422947115834e-06)
    x[1, 0] = 1e-16
    path = bnsheet.build(tmp_path / "small.xlsx", x=x, gamma=[[1.0]], beta=[[0.0]], dout=[[1.0], [2.0]])
    with contextlib.redirect_stderr(io.StringIO()):
        solution = formulas.ExcelModel().loads(str(path)).finish().calculate()
    assert solution["'[small.xlsx]X'!C7"].value[0, 0] == round(2.463422947115834e-06, 15) != 2.463422947115834e-06
    assert solution["'[small.xlsx]X'!C8"].value[0, 0] == 0.0  # 1e-16 is gone
    assert bnsheet.verify(path, engine="formulas").ok  # with the workaround


def test_gnumeric_computes_through_a_circular_reference(built, tmp_path):
    # mean = AVERAGE(x) + dx*0 makes every node depend on itself through dx. Excel, LibreOffice,
    # formualizer and formulas report the cycle (an error value); Gnumeric's ssconvert --recalc
    # iterates and stores numbers, even with iteration off in the file. There is no cheap way
    # around it in bnsheet, so verify with gnumeric alone cannot see a circular reference:
    # README says so, and --engine all shows it (the other engines' errors, and "disagree").
    require_apps("ssconvert")
    path = built
    for column in "CDE":
        path = set_formula(path, tmp_path / f"circular-{column}.xlsx", "mean", f"{column}7",
                           f"AVERAGE('x'!{column}$7:{column}$10)+'dx'!{column}7*0")  # fmt: skip
    assert bnsheet.verify(path, engine="gnumeric").ok  # wrong: the cycle goes unnoticed
    assert not bnsheet.verify(path, engine="formualizer").ok
