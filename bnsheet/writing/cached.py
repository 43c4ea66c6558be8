"""The cached value of every formula cell, taken from the NumPy reference: what readers that do not
recalculate (pandas, previews, Excel's Protected View) show.

The reference computes each node with the same operations as its formula, so most cached values
are the engines' to the last bit and the rest lie within rounding of the node's scale
(tests/test_cached_values.py measures both against formualizer). A number the reference cannot
give as a finite double (inputs whose intermediates overflow, SPEC §17) is left without a cached
value rather than cached as something no application would show.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..layout import Layout
from ..model import checks, plots, reference
from ..model.graph import Graph
from ..model.inputs import Inputs
from ..values import Values


def reference_values(inputs: Inputs) -> dict[str, np.ndarray]:
    """Every input and node of the graph by the NumPy reference, at the workbook's own inputs."""
    params = inputs.params()
    with np.errstate(all="ignore"):  # inputs whose intermediates overflow build all the same (SPEC §17)
        return reference.nodes(
            **inputs.arrays(), eps=params["eps"], momentum=params["momentum"], unbiased=bool(params["unbiased"]),
            lr=params["lr"],
        )  # fmt: skip


def cached_values(
    graph: Graph, inputs: Inputs, layout: Layout, tables: Sequence[plots.PlotBlock], values: dict[str, np.ndarray]
) -> Values:
    """The cached values of every formula area (nodes, formula parameters, the plot and check
    ``tables``) by area; ``values`` is :func:`reference_values` of ``inputs``.

    >>> from bnsheet.model import inputs as inputs_module
    >>> from bnsheet.model.graph import load
    >>> graph, made = load(), inputs_module.make(n=4, d=3)
    >>> layout = Layout(4, 3)
    >>> tables = plots.layout(graph, layout).blocks
    >>> cached = cached_values(graph, made, layout, tables, reference_values(made))
    >>> cached[layout.param_area(graph.params, "n")][0, 0], cached[layout.area(graph.block("dx"))].shape
    (4.0, (4, 3))
    """
    with np.errstate(all="ignore"):
        expected = plots.expected(graph, values)
        if checks.applies(graph):
            expected |= checks.expected(values, inputs.eps)
    cached: Values = {layout.area(block): _cells(values[block.name]) for block in graph.nodes}
    known = {"n": float(inputs.n), "var_correction": inputs.n / (inputs.n - 1) if inputs.unbiased else 1.0}
    for param in graph.params:
        if param.formula and param.name in known:
            cached[layout.param_area(graph.params, param.name)] = _cells(np.array([[known[param.name]]]))
    for block in tables:
        if block.text:
            cached[block.area] = _bin_labels(block, expected["plot_edges"])
        else:
            cached[block.area] = _cells(expected[block.name])
    return cached


def _cells(numbers: np.ndarray) -> np.ndarray:
    """Numbers as cached values: Python floats, None where not finite."""
    cells = np.asarray(numbers, dtype=np.float64).astype(object)
    finite = np.isfinite(numbers)
    if not finite.all():
        cells[~finite] = None
    return cells


def _bin_labels(block: plots.PlotBlock, edges: np.ndarray) -> np.ndarray:
    """The bins' labels as the formula writes them, ``[-1.23, -0.61)``, the last bin closed."""
    bins = block.area.shape[0]
    labels = np.full(block.area.shape, None, dtype=object)
    for i, j in np.ndindex(labels.shape):
        low, high = float(edges[i, j]), float(edges[i + 1, j])
        if math.isfinite(low) and math.isfinite(high):
            labels[i, j] = f"[{fixed(low)}, {fixed(high)}{']' if i == bins - 1 else ')'}"
    return labels


def fixed(value: float) -> str:
    """``FIXED(value, 2, TRUE)`` as formualizer computes it: hundredths rounded half away from
    zero, no thousands separators, no sign on a value that rounds to zero.

    >>> [fixed(v) for v in (0.125, -0.125, -0.001, 2.5, -1234567.125, 1e20)]
    ['0.13', '-0.13', '0.00', '2.50', '-1234567.13', '100000000000000000000.00']
    """
    hundredths = int(math.floor(abs(value) * 100 + 0.5))
    sign = "-" if value < 0 and hundredths else ""
    return f"{sign}{hundredths // 100}.{hundredths % 100:02d}"
