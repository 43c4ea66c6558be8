"""What every cell should hold: the NumPy reference at the workbook's own inputs, and how far from
it an engine may honestly land (the tolerance per cell)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..model import plots, reference
from ..model.graph import Graph
from ..model.inputs import Inputs

RTOL = 1e-12  # of the node's largest magnitude: summation order and 15-digit storage stay far below
NOISE_FACTOR = 100.0  # times the rounding noise estimated for each cell (see _noise)


def expected_nodes(inputs: Inputs, graph: Graph | None = None) -> dict[str, np.ndarray]:
    """Every node's value by the NumPy reference, and with ``graph`` every plot table's too."""
    params = inputs.params()
    values = reference.nodes(
        **inputs.arrays(), eps=params["eps"], momentum=params["momentum"], unbiased=bool(params["unbiased"]),
        lr=params["lr"],
    )  # fmt: skip
    return values if graph is None else values | plots.expected(graph, values)


def tolerances(inputs: Inputs, expected: dict[str, np.ndarray], graph: Graph | None = None) -> dict[str, np.ndarray]:
    """Per cell of ``expected`` (``expected_nodes(inputs, graph)``): RTOL of the node's largest
    magnitude plus NOISE_FACTOR times its rounding noise.

    A node that is all rounding (dx_diff, staged minus compact dx) names in the template the node
    whose rounding it shows (``error_scale``), and takes that node's tolerance. A histogram count
    may be off by the values that lie within rounding of its bin's edges (``plots.count_slack``).
    """
    noise = _noise(inputs, expected, graph)
    tolerance = {}
    for name, value in expected.items():
        scale = float(np.max(np.abs(value))) if value.size else 0.0
        tolerance[name] = RTOL * scale + NOISE_FACTOR * noise[name] + 1e-300
    if graph is None:
        return tolerance
    for block in graph.nodes:
        if block.error_scale and block.name in tolerance:
            tolerance[block.name] = np.maximum(tolerance[block.name], tolerance[block.error_scale])
    for name, measured in plots.error_scales(graph).items():
        if name in tolerance:
            tolerance[name] = np.maximum(tolerance[name], tolerance[measured].max(axis=0, keepdims=True))
    if "plot_edges" in tolerance:
        for name, slack in plots.count_slack(graph, expected, tolerance).items():
            tolerance[name] = np.maximum(tolerance[name], slack)
    return tolerance


def _noise(inputs: Inputs, base: dict[str, np.ndarray], graph: Graph | None, trials: int = 4) -> dict[str, np.ndarray]:
    """How far each cell moves when every input is nudged by a few units in the last place.

    Engines round in a different order than NumPy (sums, powers); where a node cancels (x minus
    its mean in a constant column), those last bits are all there is. Nudging the inputs shows,
    cell by cell, how much such rounding can move the result. ``base`` is the reference at the
    inputs themselves, ``expected_nodes(inputs, graph)``.
    """
    rng = np.random.default_rng(12345)
    noise = {name: np.zeros_like(value) for name, value in base.items()}

    def nudge(value: np.ndarray) -> np.ndarray:
        return value * (1 + rng.choice([-1.0, 1.0], size=value.shape) * 2.0**-50)

    for _ in range(trials):
        arrays = {name: nudge(value) for name, value in inputs.arrays().items()}
        nudged = replace(inputs, **arrays, eps=inputs.eps * (1 + 2.0**-50))  # type: ignore[arg-type]
        for name, value in expected_nodes(nudged, graph).items():
            noise[name] = np.maximum(noise[name], np.abs(value - base[name]))
    return noise
