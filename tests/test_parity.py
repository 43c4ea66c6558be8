"""Excel parity: the five engines agree on every formula shape bnsheet writes, on random inputs,
and on the corner cases of SPEC §3 — each expected value worked out by hand."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import openpyxl
import pytest

import bnsheet
from bnsheet import engines
from bnsheet.a1 import Area
from bnsheet.model.graph import load
from bnsheet.reading.xlsx import XlsxFile
from bnsheet.values import ErrorValue

ENGINES = ["formualizer", "gnumeric", "libreoffice", "ironcalc", "formulas"]

pytestmark = pytest.mark.apps("soffice", "ssconvert")


def _random_inputs(seed: int, n: int, d: int) -> dict[str, object]:
    """Full-precision inputs whose columns span twelve orders of magnitude."""
    rng = np.random.default_rng(seed)
    scale = 10.0 ** np.linspace(-6, 6, d)
    return {
        "x": rng.normal(0, 1, (n, d)) * scale + rng.normal(0, 1, d) * scale,
        "gamma": rng.normal(0, 2, (1, d)),
        "beta": rng.normal(0, 1, (1, d)) * scale,
        "dout": rng.normal(0, 1, (n, d)) / scale,
    }


def _cancelling_inputs(n: int, d: int) -> dict[str, object]:
    """A large offset with small spread (x − mean cancels most digits), a constant column, tiny eps."""
    rng = np.random.default_rng(11)
    x = 1e4 + rng.normal(0, 1e-3, (n, d))
    x[:, 0] = 0.1
    return {"x": x, "gamma": np.ones((1, d)), "beta": np.zeros((1, d)), "dout": rng.normal(0, 1, (n, d)), "eps": 1e-12}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("parity")
    return {
        "random": bnsheet.build(folder / "random.xlsx", **_random_inputs(1, 5, 6)),  # type: ignore[arg-type]
        "cancelling": bnsheet.build(folder / "cancelling.xlsx", **_cancelling_inputs(6, 3)),  # type: ignore[arg-type]
    }


def _text_compared(form: str) -> list[str]:
    """The engines whose text results are compared with formualizer's for a formula shape:
    ironcalc writes a label's "-0.00" with FIXED (tests/test_engine_faults.py)."""
    return [name for name in ENGINES[1:] if not (name == "ironcalc" and "FIXED(" in form)]


def test_every_formula_shape_of_every_sheet_computes_the_same_in_all_engines(corpus):
    # A shape is a formula in relative (R1C1) form: a block filled with one formula is one shape.
    # Every formula cell of the workbook is compared, whatever sheet it is on.
    path = corpus["random"]
    shapes: dict[tuple[str, str], list[tuple[int, int]]] = {}
    with XlsxFile(path) as book:
        for sheet in book.sheet_names:
            for (row, col), c in book.cells(sheet).items():
                if c.r1c1:
                    shapes.setdefault((sheet, c.r1c1), []).append((row, col))
    areas = {}
    for sheet in {sheet for sheet, _ in shapes}:  # one area per sheet, over all its shapes
        cells = [cell for (on, _), listed in shapes.items() if on == sheet for cell in listed]
        rows, cols = [r for r, _ in cells], [c for _, c in cells]
        areas[sheet] = Area(sheet, min(rows), min(cols), max(rows), max(cols))
    values = {name: engines.recalculate(name, path, list(areas.values())) for name in ENGINES}
    # the root of rounding's squares: √ turns 1e-22 apart into 1e-11 apart, so no scale of its
    # inputs bounds it; verify holds each engine to its own bound there (test_checks, test_tolerance)
    shapes = {key: cells for key, cells in shapes.items() if "SQRT(SUMSQ('dx_diff'" not in key[1]}
    graph = load()
    assert len(shapes) >= len(graph.nodes) + sum(p.formula is not None for p in graph.params)
    for (sheet, form), cells in shapes.items():
        area = areas[sheet]
        got = {name: [values[name][area][r - area.top, c - area.left] for r, c in cells] for name in ENGINES}
        # a shape is compared at the scale of what it computes and of the sheets it reads: a result
        # that is all rounding (dx − dx_compact, the mean of xhat) has its inputs' scale
        if all(isinstance(a, str) for a in got["formualizer"]):  # text, such as the bins' labels
            for name in _text_compared(form):
                assert got[name] == got["formualizer"], (sheet, form, name)
            continue
        read = [name for name in re.findall(r"'([^']+)'!", form) if name in areas]
        scale_values = [*got["formualizer"], *(v for name in read for v in values["formualizer"][areas[name]].ravel())]
        scale = max(abs(v) for v in scale_values if isinstance(v, float))
        for name in ENGINES[1:]:
            for a, b in zip(got["formualizer"], got[name], strict=True):
                assert isinstance(a, float) and isinstance(b, float), (sheet, form, name, a, b)
                allowed = 1e-12 * scale + engines.rounding(name, np.array([a]))[0]
                assert abs(a - b) <= allowed, (sheet, form, name, a, b)


@pytest.mark.parametrize("kind", ["random", "cancelling"])
def test_all_five_engines_agree_on_every_shape(corpus, kind):
    report = bnsheet.verify(corpus[kind], engine="all", trials=1)  # the shapes, not the trials, are the point
    assert report.by_engine.keys() == set(ENGINES)
    failing = {(engine, report.results[i].node) for engine, statuses in report.by_engine.items()
               for i, status in enumerate(statuses) if status != "ok"}  # fmt: skip
    # ironcalc's one-pass DEVSQ is given the two-pass form in its copy (tests/test_engine_faults.py)
    assert failing == set(), report.to_text()
    pairs = report.agreement
    assert len(pairs) == 10 and (pairs.cells > 0).all()
    if kind == "random":  # well conditioned: the engines differ in the last bits only
        assert (pairs.max_rel_diff < 1e-12).all(), pairs.to_string()
    # Where x − mean cancels, last-bit differences grow (LibreOffice snaps tiny differences to 0),
    # but every cell stays within its rounding-noise tolerance: no "disagree" (the statuses above).


# (formula, value by hand, {engine: its own documented value where it differs})
CORNER_CASES = [
    ("=-A1^2", 9.0, {}),  # unary minus binds tighter than ^: (-3)^2 (SPEC §3.2)
    ("=-(A1^2)", -9.0, {}),
    ("=0-A1^2", -9.0, {}),
    ("=2^-1", 0.5, {}),
    ("='dx1'!C7*2", 5.0, {}),  # a sheet named like a cell address, quoted (SPEC §3.1)
    ("=SUM('dx1'!C7:C8)", 4.0, {}),
    ("=-A1^2+'dx1'!C8", 10.5, {}),
    ("=AVERAGE(A10:A14)", 4.0, {}),  # blanks are skipped: (1 + 3 + 8) / 3
    ("=COUNT(A10:A14)", 3.0, {}),
    ("=SUMPRODUCT(A10:A14,A10:A14)", 74.0, {}),  # blanks count as 0 in a product
    ("=AVERAGE(A11,A13)", "#DIV/0!", {}),  # nothing to average
    ("=SQRT(-1)", "#NUM!", {"libreoffice": "#VALUE!"}),  # SPEC §3.6: error codes differ
    ("=1/0", "#DIV/0!", {}),
    ("=B13+1", "#DIV/0!", {}),  # an error propagates
    # Doubles: 1 - 0.9 - 0.1 is -2**-55 (~ -2.8e-17). LibreOffice snaps the near-zero difference
    # to 0; Gnumeric computes in long double and leaves ~2e-20 (SPEC §3.6).
    ("=1-0.9-0.1", 1 - 0.9 - 0.1, {"libreoffice": 0.0, "gnumeric": "about 2e-20"}),
]


@pytest.fixture(scope="module")
def corner_values(tmp_path_factory: pytest.TempPathFactory) -> dict[str, np.ndarray]:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "cases"
    other = book.create_sheet("dx1")
    other["C7"], other["C8"] = 2.5, 1.5
    sheet["A1"] = 3
    for row, value in ((10, 1), (12, 3), (14, 8)):  # A11 and A13 stay blank
        sheet[f"A{row}"] = value
    for row, (formula, _, _) in enumerate(CORNER_CASES, start=1):
        sheet[f"B{row}"] = formula
    path = tmp_path_factory.mktemp("corners") / "corners.xlsx"
    book.save(path)
    area = Area("cases", 1, 2, len(CORNER_CASES), 2)
    return {name: engines.recalculate(name, path, [area])[area][:, 0] for name in ENGINES}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("row", range(len(CORNER_CASES)), ids=[c[0] for c in CORNER_CASES])
def test_corner_cases(corner_values, engine, row):
    formula, by_hand, own = CORNER_CASES[row]
    got = corner_values[engine][row]
    want = own.get(engine, by_hand)
    if want == "about 2e-20":
        assert isinstance(got, float) and 0 < got < 1e-19
    elif isinstance(want, str):
        assert isinstance(got, ErrorValue) and got == want, formula
    else:
        assert isinstance(got, float) and got == want, formula
