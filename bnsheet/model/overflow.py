"""Which nodes' values leave float64's range at given inputs, and which nodes read them: build
refuses such inputs, verify reports those nodes as ``overflow`` instead of comparing them.

Finite inputs can still overflow on the way (x = 1e200 squares to 1e400; dout = 1e308 sums past
1.8e308). A spreadsheet then shows #NUM! in that node and in everything computed from it, even
where float64 arithmetic happens to come back to a finite number (1/∞ = 0), so a node that reads
an overflowing one overflows too. Verify treats alike a node whose float64 value has no bound: one
that divides by a number rounding may have made 0 (a column that is all rounding, eps of 1e-30),
where an engine may land anywhere up to ±∞.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..a1 import quote_sheet
from ..errors import InputError
from ..layout import Layout
from . import checks, exact, plots
from .graph import Graph
from .inputs import Inputs
from .reference import Array


@dataclass(frozen=True)
class Overflow:
    """A node that overflows: itself (``source`` is the node) or through a node it reads."""

    node: str
    source: str  # the first node upstream (or this one) whose own values are not finite
    cell: str  # that node's first such cell, 'sq'!C7
    at: tuple[int, int]  # the same cell's place in its block, 0-based
    unbounded: bool = False  # the value is in range, but float64 may make it anything (a division by ~0)

    def line(self) -> str:
        """One line for a user: where float64 runs out, and what to do."""
        if self.unbounded:
            return (
                f"float64 cannot bound {self.source} at {self.cell}: it divides by a number rounding may make 0 "
                "(the column is all rounding); raise eps or spread the column"
            )
        return f"the inputs overflow float64: {self.source} goes beyond ±1.8e308 at {self.cell}; scale x or dout down"


def find(values: dict[str, Array], graph: Graph, allowances: dict[str, Array] | None = None) -> dict[str, Overflow]:
    """Every node, plot and check table of ``graph`` that overflows at ``values`` (the exact or reference
    values of every input, node and plot table), in the graph's order; with ``allowances`` (how far
    float64 may err, per cell) also those where that is not finite."""
    allowances = allowances or {}
    layout = Layout(*values["x"].shape)
    tables = {b.name: b.area for b in (*plots.layout(graph, layout).blocks, *checks.layout(graph, layout).blocks)}
    found: dict[str, Overflow] = {}
    reads = {block.name: block.reads for block in graph.nodes}
    for name in plots.names(graph):
        stat = next((b for b in graph.plots.blocks if name in (f"plot_mean_{b}", f"plot_var_{b}")), None)
        reads[name] = (stat,) if stat else tuple(graph.plots.blocks)
    reads |= {name: checks.NODES_READ for name in checks.names(graph)}
    for name, upstream in reads.items():
        if name not in values:
            continue
        source = next((found[r] for r in upstream if r in found), None)
        bad = np.argwhere(~np.isfinite(values[name]))
        unbounded = np.argwhere(~np.isfinite(np.broadcast_to(allowances.get(name, 0.0), values[name].shape)))
        if source is not None:  # named after where it starts, whatever float64 makes of it here
            found[name] = Overflow(name, source.source, source.cell, source.at, source.unbounded)
        elif bad.size or unbounded.size:
            i, j = bad[0] if bad.size else unbounded[0]
            area = tables[name] if name in tables else layout.area(graph.block(name))
            cell = f"{quote_sheet(area.sheet)}!{area.address(i, j)}"
            found[name] = Overflow(name, name, cell, (int(i), int(j)), unbounded=not bad.size)
    return found


def refuse(inputs: Inputs, graph: Graph) -> None:
    """Raise an InputError naming the first node that overflows at ``inputs`` (build calls this)."""
    with np.errstate(all="ignore"):
        values = {name: value.hi for name, value in exact.nodes(**inputs.arguments()).items()}
        values |= plots.expected(graph, values)
        found = find(values | (checks.expected(values, inputs.eps) if checks.applies(graph) else {}), graph)
    if found:
        raise InputError(next(iter(found.values())).line())
