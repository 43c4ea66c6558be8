"""What every cell should hold — the exact value of its formula at the workbook's own inputs — and
how far from it an engine may honestly land (the allowance per cell)."""

from __future__ import annotations

import numpy as np

from ..model import checks, exact, overflow, plots, reference
from ..model.graph import Graph
from ..model.inputs import Inputs
from . import bounds

# The bound carries operand errors exactly, but the magnitudes it scales them by are float64 values
# near the exact ones, and a library's power or square root may be a little worse than the model:
# twice the bound leaves room for all of that, and a formula off by 1e-9 still fails at 512 rows.
MARGIN = 2.0


def expected_nodes(inputs: Inputs, graph: Graph | None = None) -> dict[str, np.ndarray]:
    """Every node's exact value (double-double, exact.py) rounded to float64; with ``graph`` every
    plot table's and check table's too, computed in float64 from those values. Values that overflow are ±inf or NaN
    (overflows() names those nodes)."""
    with np.errstate(all="ignore"):
        values = {name: value.hi for name, value in exact.nodes(**inputs.arguments()).items()}
        if graph is None:
            return values
        values |= plots.expected(graph, values)
        return values | (checks.expected(values, inputs.eps) if checks.applies(graph) else {})


def tolerances(inputs: Inputs, expected: dict[str, np.ndarray], graph: Graph | None = None) -> dict[str, np.ndarray]:
    """Per cell of ``expected`` (``expected_nodes(inputs, graph)``): how far an honest float64
    evaluation of the cell's formula may be from the exact value.

    That is MARGIN times the forward error bound of the template's formula (bounds.py), plus how
    far the float64 reference itself is from the exact value; LibreOffice's 15 digits come on top
    in verify (engines.rounding). A plot table is computed in float64 from the exact node values,
    so its expected value carries one bound of its own. A node that is all rounding (dx_diff) may
    name in the template the node whose rounding it shows (``error_scale``) and never gets less
    than that node's allowance; a histogram count may be off by the values that lie within their
    allowance of its bin's edges (``plots.count_slack``). Nodes that overflow get 0 here: verify
    does not compare them (overflows()), nor those whose bound is not finite.
    """
    with np.errstate(all="ignore"):
        float64 = reference.nodes(**inputs.arguments())
        bound = bounds.nodes(inputs, expected)
        tolerance = {name: MARGIN * bound[name] + np.abs(float64[name] - expected[name]) for name in bound}
        if graph is not None:
            for block in graph.nodes:
                if block.error_scale and block.name in tolerance:
                    tolerance[block.name] = np.maximum(tolerance[block.name], tolerance[block.error_scale])
            tolerance |= {name: (MARGIN + 1) * b for name, b in bounds.plot_tables(graph, expected, bound).items()}
            tolerance |= plots.count_slack(graph, expected, tolerance)
            if checks.applies(graph):
                tolerance |= {
                    name: (MARGIN + 1) * b for name, b in bounds.check_tables(inputs, expected, bound).items()
                }
    return {name: np.where(np.isfinite(t), t, 0.0) for name, t in tolerance.items()}


def expected_params(inputs: Inputs) -> dict[str, tuple[float, float]]:
    """The formula parameters' exact values rounded to float64, each with its allowance:
    ``n`` = ROWS(bn_x) is exact; ``var_correction`` is N/(N−1) when unbiased, rounded once."""
    correction = inputs.n / (inputs.n - 1) if inputs.unbiased else 1.0
    slack = bounds.params(inputs)
    return {"n": (float(inputs.n), slack["n"]), "var_correction": (correction, MARGIN * slack["var_correction"])}


def overflows(inputs: Inputs, expected: dict[str, np.ndarray], graph: Graph) -> dict[str, overflow.Overflow]:
    """The nodes and plot tables verify cannot judge at ``inputs``: their exact values
    (``expected_nodes(inputs, graph)``) leave float64's range, or float64's error in them has no
    bound (a division by what rounding may make 0), or they read such a node."""
    with np.errstate(all="ignore"):
        return overflow.find(expected, graph, bounds.nodes(inputs, expected))
