"""The checks sheet: the layer's identities as live formulas with lights, and a finite-difference
check of dx computed in cells, recalculated by real engines and checked by verify like every node."""

from __future__ import annotations

import numpy as np
import openpyxl
import pytest

import bnsheet
from bnsheet import engines
from bnsheet.a1 import parse_area
from bnsheet.reading.xlsx import XlsxFile
from conftest import tamper


def recalculated(path, *names):
    """The named tables (``bn_<name>``) as a recalculating engine computes them."""
    with XlsxFile(path) as book:
        areas = [parse_area(book.names[f"bn_{name}"]) for name in names]
    values = engines.recalculate("formualizer", path, areas)
    return [values[area] for area in areas]


LIGHTS = ["check_sum_dx_holds", "check_dx_xhat_holds", "check_dbeta_holds", "check_compact_holds", "check_fd_holds"]


@pytest.mark.parametrize(
    "given",
    [dict(), dict(n=2, d=1), dict(n=64, d=8, seed=5, unbiased=True), dict(n=7, d=3, seed=2, eps=0.1)],
    ids=["default", "2x1", "64x8-unbiased", "7x3-eps-0.1"],
)
def test_every_light_is_on_in_a_correct_workbook(tmp_path, given):
    path = bnsheet.build(tmp_path / "w.xlsx", **given)
    for light in recalculated(path, *LIGHTS):
        assert light.tolist() == np.ones(light.shape).tolist()
    report = bnsheet.verify(path, trials=5, seed=3)  # the lights hold at fresh inputs too
    assert report.ok, report.to_text()
    assert {r.node for r in report.results} >= set(LIGHTS)


def test_the_lights_show_a_tick_or_a_cross(tmp_path):
    path = bnsheet.build(tmp_path / "w.xlsx")
    sheet = openpyxl.load_workbook(path)["checks"]
    with XlsxFile(path) as book:
        area = parse_area(book.names["bn_check_sum_dx_holds"])
    shown = sheet.cell(area.top, area.left).number_format
    assert "✓" in shown.split(";")[0] and "✗" in shown.split(";")[2]


@pytest.mark.parametrize(
    "wrong, lights_off",
    [
        # dx without the path through the mean: Σ dx is no longer 0, and the slope disagrees
        ("='dx1'!{c}{r}", {"check_sum_dx_holds", "check_compact_holds", "check_fd_holds"}),
        # a factor 2 on every entry: Σ dx is still 0, but nothing else holds
        ("=2*('dx1'!{c}{r}+'dx2'!{c}$7)", {"check_dx_xhat_holds", "check_compact_holds", "check_fd_holds"}),
    ],
)
def test_a_wrong_dx_turns_its_lights_off_and_verify_names_dx_first(built, wrong, lights_off):
    def change(book):
        for r in range(7, 11):
            for c in "CDE":
                book["dx"][f"{c}{r}"] = wrong.format(c=c, r=r)

    path = tamper(built, change)
    lights = dict(zip(LIGHTS, recalculated(path, *LIGHTS), strict=True))
    off = {name for name, value in lights.items() if (np.asarray(value, dtype=float) == 0).any()}
    assert off == lights_off
    report = bnsheet.verify(path, trials=0)
    failing = {r.node for r in report.results if r.status != "ok"}
    assert "dx" in failing and lights_off <= failing
    assert report.causes[0].startswith("dx fails"), report.causes


def test_the_finite_difference_is_the_slope_of_the_loss_computed_here(tmp_path):
    # The loss L(x) = Σ dout · out, with out = gamma · (x − mean) / sqrt(var + eps) + beta written
    # here from the definition, at x[0, 0] ± h: its central difference must be what the sheet
    # shows, and both must be dx[0, 0] from the reference to the difference's own error.
    x = np.array([[1.0, -2.0], [0.5, 3.0], [4.0, 1.0], [-1.5, 0.25], [2.0, 2.0]])
    gamma, beta, dout = np.array([[1.5, -0.5]]), np.array([[0.25, 2.0]]), np.linspace(-1, 1, 10).reshape(5, 2)
    eps = 1e-3
    path = bnsheet.build(tmp_path / "w.xlsx", x=x, gamma=gamma, beta=beta, dout=dout, eps=eps)

    def loss(values):
        mean = values.mean(axis=0)
        out = gamma * (values - mean) / np.sqrt(((values - mean) ** 2).mean(axis=0) + eps) + beta
        return float((dout * out).sum())

    h = 1e-4 * np.sqrt(x[:, 0].var() + eps)
    plus, minus = x.copy(), x.copy()
    plus[0, 0] += h
    minus[0, 0] -= h
    by_hand = (loss(plus) - loss(minus)) / (2 * h)
    slope, step, dx = recalculated(path, "check_fd_slope", "check_fd_step", "dx")
    assert step[0, 0] == pytest.approx(h, rel=1e-12)
    assert slope[0, 0] == pytest.approx(by_hand, rel=1e-6)
    assert slope[0, 0] == pytest.approx(dx[0, 0], rel=1e-5)


def test_a_light_typed_as_1_is_a_constant(built):
    def change(book):
        for c in "CDE":
            book["checks"][f"{c}6"] = "=1"

    report = bnsheet.verify(tamper(built, change), trials=0)
    row = report.table.set_index("node").loc["check_sum_dx_holds"]
    assert row.status == "constant", report.to_text()


def test_the_graph_sheet_links_to_the_checks(built):
    sheet = openpyxl.load_workbook(built)["graph"]
    targets = [cell.hyperlink.location for row in sheet.iter_rows() for cell in row if cell.hyperlink]
    assert any(target and target.startswith("'checks'!") for target in targets)
