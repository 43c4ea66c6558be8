"""Faults of the formula engines that bnsheet works around; each test shows the fault itself, so
we notice when an engine release fixes it (the test then fails and the workaround can go)."""

from __future__ import annotations

import contextlib
import io

import numpy as np

import bnsheet

SMALL = np.array([[1.2345678901234567e-07, 2.0], [3.3e-9, 4.0], [5.0e-7, 6.0]])


def test_formulas_rounds_loaded_numbers_to_15_decimal_places(tmp_path):
    import formulas

    path = bnsheet.build(tmp_path / "w.xlsx", x=SMALL)
    with contextlib.redirect_stderr(io.StringIO()):
        solution = formulas.ExcelModel().loads(str(path)).finish().calculate()
    loaded = next(v for k, v in solution.items() if k.upper() == "'[W.XLSX]X'!C7").value[0, 0]
    assert loaded == round(SMALL[0, 0], 15) == 1.23456789e-07 != SMALL[0, 0]


def test_verify_with_formulas_keeps_every_digit_of_small_inputs(tmp_path):
    path = bnsheet.build(tmp_path / "w.xlsx", x=SMALL * 1e-2, dout=SMALL * 1e-3, eps=1e-12)
    report = bnsheet.verify(path, engine="formulas")
    assert report.ok, report.to_text()
