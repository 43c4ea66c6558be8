"""Cached values (SPEC §15): every formula cell carries one, taken from the NumPy reference; it
must be what the formulas compute, and an exercise workbook's must give no answer away."""

from __future__ import annotations

import numpy as np
import pytest

import bnsheet
from bnsheet.layout import Layout
from bnsheet.model import checks, plots
from bnsheet.model.graph import load
from bnsheet.reading.blocks import locate
from bnsheet.reading.xlsx import XlsxFile
from bnsheet.values import ErrorValue


def _recalculated(path):
    """formualizer's value of every cell, recalculated from the formulas (the caches ignored)."""
    import formualizer

    engine = formualizer.load_workbook(str(path))
    engine.evaluate_all()
    return engine


def _blocks(path, graph):
    """Every formula block's area, by name: the nodes, the formula parameters, the plot tables."""
    with XlsxFile(path) as book:
        located = locate(book, graph)
    names = [b.name for b in graph.nodes] + [p.name for p in graph.params if p.formula] + plots.names(graph)
    names += checks.names(graph)
    layout = Layout(*located["x"].shape)
    labels = plots.layout(graph, layout).block("plot_bin_labels").area
    return {name: located[name] for name in names} | {"plot_bin_labels": labels}


# block -> the node whose magnitude its rounding is measured against: those that are all rounding
# (dx_diff of dx; the checks' residuals of the terms they add up)
_SCALE = {"dx_diff": "dx", "check_sum_dx": "dx", "check_dx_xhat": "dx", "check_dbeta": "dbeta", "check_compact": "dx"}


@pytest.mark.parametrize(
    ("n", "d", "options"),
    [(4, 3, {}), (7, 5, {"seed": 11}), (33, 9, {"seed": 2, "unbiased": True, "momentum": 0.7, "eps": 0.01}),
     (64, 16, {"seed": 5})],
)  # fmt: skip
def test_every_cached_value_is_what_formualizer_computes_from_the_formulas(tmp_path, n, d, options):
    graph = load()
    path = bnsheet.build(tmp_path / "w.xlsx", n=n, d=d, **options)
    engine = _recalculated(path)
    same = total = 0
    worst = {}
    with XlsxFile(path) as book:
        for name, area in _blocks(path, graph).items():
            cells = book.cells(area.sheet)
            cached = np.array(
                [[cells[(r, c)].value for c in range(area.left, area.right + 1)]
                 for r in range(area.top, area.bottom + 1)],
                dtype=object,
            )  # fmt: skip
            computed = np.array(
                [[engine.get_value(area.sheet, r, c) for c in range(area.left, area.right + 1)]
                 for r in range(area.top, area.bottom + 1)],
                dtype=object,
            )  # fmt: skip
            assert None not in cached.flat, f"{name}: a formula cell without a cached value"
            if name == "plot_bin_labels" or name.startswith("plot_counts_"):
                assert cached.tolist() == computed.tolist(), name  # text and whole counts: exactly
                continue
            cached, computed = cached.astype(float), computed.astype(float)
            same += int((cached == computed).sum())
            total += cached.size
            scale = np.max(np.abs(computed)) if name not in _SCALE else worst[_SCALE[name]][1]
            off = float(np.max(np.abs(cached - computed)))
            worst[name] = (off, scale)
            # within two units in the last place of the node's largest magnitude: its rounding (the
            # reference multiplies out_inference by gamma before dividing, the formula after)
            assert off <= 2 * np.spacing(scale), f"{name}: cached values off by {off:.3g} (scale {scale:.3g})"
    share = same / total
    print(f"{n}x{d}: {share:.1%} of {total} numeric cached values are formualizer's to the last bit")
    assert share > 0.9  # the reference uses the formulas' operations; only sums and DEVSQ round otherwise


def test_exercise_blocks_are_empty_and_downstream_caches_are_what_the_blanks_compute(tmp_path):
    graph = load()
    path = bnsheet.build(tmp_path / "ex.xlsx", n=6, d=3, seed=4, exercise="dxhat,var")
    answer = bnsheet.build(tmp_path / "full.xlsx", n=6, d=3, seed=4)
    engine = _recalculated(path)
    blocks = _blocks(path, graph)
    downstream = {"dxhat", "var"}
    for block in graph.nodes:  # the graph lists nodes in evaluation order
        if set(block.reads) & downstream:
            downstream.add(block.name)
    assert {"sqrtvar", "ivar", "xhat", "out", "dx", "dx_compact", "out_inference"} <= downstream
    with XlsxFile(path) as book, XlsxFile(answer) as full:
        for name, area in blocks.items():
            cells, right = book.cells(area.sheet), full.cells(area.sheet)
            for r, c in ((area.top + i, area.left + j) for i, j in np.ndindex(area.shape)):
                got = cells.get((r, c))
                if name in ("dxhat", "var"):
                    assert got is None or (got.formula is None and got.value is None), (name, r, c)
                    continue
                computed = engine.get_value(area.sheet, r, c)
                if isinstance(computed, dict):  # an error, such as #DIV/0! from the empty var
                    assert isinstance(got.value, ErrorValue), (name, r, c, got.value)
                else:
                    assert got.value == computed, (name, r, c, got.value, computed)
                if name in downstream and name != "n" and not isinstance(computed, dict) and right[(r, c)].value:
                    # the answer's numbers appear nowhere downstream of the empty blocks
                    assert got.value != right[(r, c)].value or got.value in (0.0, 1.0), (name, r, c)


def test_a_build_without_cached_values_has_none(tmp_path):
    path = bnsheet.build(tmp_path / "bare.xlsx", n=4, d=3, cached=False)
    with XlsxFile(path) as book:
        for sheet in ("xhat", "params", "plots"):
            formulas = [c for c in book.cells(sheet).values() if c.formula]
            assert formulas and all(c.value is None for c in formulas), sheet
