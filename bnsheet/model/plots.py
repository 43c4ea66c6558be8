"""The plots sheet: per-feature histograms of x, xhat and out over shared bins, as many as N asks
for, and the column means and variances before and after normalisation — every number a formula,
so the charts move when a learner edits x, gamma or beta.

Each table of numbers is a block like a node's: one formula filled over it, a defined name
(``bn_plot_…``), and an expected value computed by :func:`expected` from the NumPy reference, so
verify checks the plots like every other sheet. The bins' labels ("[-1.23, -0.61)"), which the
charts show, are text made from the checked edges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..a1 import Area, col_letter, quote_sheet
from ..layout import BLOCK_LEFT, BLOCK_TOP, Layout, defined_name
from . import reference
from .graph import Graph

PLOTS_SHEET = "plots"
HEADER_ROW = 4  # feature labels
_FIRST_ROW = HEADER_ROW + 1


@dataclass(frozen=True)
class PlotBlock:
    """One table of the plots sheet: its name, its cells, its row label or heading, its formula.

    ``pattern`` leaves open ``{c}`` (column letters), ``{r}`` (row), and ``{e0}``/``{e1}``: the
    rows of this bin's lower and upper edge in the edges table.
    """

    name: str
    area: Area
    label: str
    pattern: str
    edge_offset: int = 0
    labels: tuple[float, ...] = ()  # numbers in the label column (bin numbers), one per row
    text: bool = False  # a table of text (the bins' labels): not a number verify can check

    def formula(self, row: int, col: int) -> str:
        edge = row + self.edge_offset
        return self.pattern.format(c=col_letter(col), r=row, e0=edge, e1=edge + 1)


@dataclass(frozen=True)
class PlotsLayout:
    """The tables of the plots sheet in order, and the rows the charts read."""

    blocks: tuple[PlotBlock, ...]

    def block(self, name: str) -> PlotBlock:
        return next(b for b in self.blocks if b.name == name)


def bins(graph: Graph, n: int) -> int:
    """How many bins a histogram of N values has: Sturges' rule, ⌈log₂ N⌉ + 1, and at least the
    template's ``min_bins``.

    >>> from .graph import load
    >>> [bins(load(), n) for n in (2, 4, 5, 64, 100, 512)]
    [3, 3, 4, 7, 8, 10]
    """
    return max(graph.plots.min_bins, math.ceil(math.log2(n)) + 1)


def names(graph: Graph) -> list[str]:
    """The names of the plot tables verify checks, without the ``bn_`` prefix, in sheet order."""
    stats = [f"plot_{stat}_{name}" for name in graph.plots.blocks for stat in ("mean", "var")]
    counts = [f"plot_counts_{name}" for name in graph.plots.blocks]
    return [*stats, "plot_lowest", "plot_highest", "plot_width", "plot_edges", *counts]


def layout(graph: Graph, sheet_layout: Layout) -> PlotsLayout:
    """Where each table of the plots sheet sits, and its formula."""
    count = bins(graph, sheet_layout.n)
    right = BLOCK_LEFT + sheet_layout.d - 1
    sources = {name: column_range(name, sheet_layout.n) for name in graph.plots.blocks}
    blocks: list[PlotBlock] = []
    row = _FIRST_ROW

    def add(
        name: str, label: str, pattern: str, rows: int = 1, edge_offset: int = 0, labels: tuple[float, ...] = (),
        text: bool = False,
    ) -> PlotBlock:  # fmt: skip
        nonlocal row
        area = Area(PLOTS_SHEET, row, BLOCK_LEFT, row + rows - 1, right)
        block = PlotBlock(name, area, label, pattern, edge_offset, labels, text)
        blocks.append(block)
        row += rows
        return block

    for name, column in sources.items():
        add(f"plot_mean_{name}", graph.word("mean_of", name=name), f"=AVERAGE({column})")
        add(f"plot_var_{name}", graph.word("var_of", name=name), f"=DEVSQ({column})/{defined_name('n')}")
    row += 1
    everything = ",".join(sources.values())
    lowest = add("plot_lowest", graph.word("lowest"), f"=MIN({everything})")
    highest = add("plot_highest", graph.word("highest"), f"=MAX({everything})")
    width = add("plot_width", graph.word("width"), f"=({{c}}${highest.area.top}-{{c}}${lowest.area.top})/{count}")
    row += 2  # a blank row and the heading
    edges = add(
        "plot_edges", graph.word("edges"), f"={{c}}${lowest.area.top}+$B{{r}}*{{c}}${width.area.top}",
        rows=count + 1, labels=tuple(float(k) for k in range(count + 1)),
    )  # fmt: skip
    numbers = tuple(float(k) for k in range(1, count + 1))
    row += 2
    # FIXED (not ROUND and &) gives two decimals as the reader's locale writes them in every
    # engine; Gnumeric turns a rounded number into text with all its long double digits
    add(
        "plot_bin_labels", graph.word("bin_labels"),
        f'="["&FIXED({{c}}{{e0}},2,TRUE)&", "&FIXED({{c}}{{e1}},2,TRUE)&IF($B{{r}}={count},"]",")")',
        rows=count, edge_offset=edges.area.top - row, labels=numbers, text=True,
    )  # fmt: skip
    for name, column in sources.items():
        row += 2
        # values below this bin's upper edge, minus those below its lower edge; the last bin has
        # no upper edge and the first no lower one, so the highest and lowest values always count
        add(
            f"plot_counts_{name}", graph.word("counts", name=name),
            f'=IF($B{{r}}={count},COUNT({column}),COUNTIF({column},"<"&{{c}}{{e1}}))'
            f'-IF($B{{r}}=1,0,COUNTIF({column},"<"&{{c}}{{e0}}))',
            rows=count, edge_offset=edges.area.top - row, labels=numbers,
        )  # fmt: skip
    return PlotsLayout(tuple(blocks))


def error_scales(graph: Graph) -> dict[str, str]:
    """The node whose rounding each column statistic shows: the mean of xhat is ~0, all rounding
    of xhat, so it is compared with xhat's tolerance (per column)."""
    return {f"plot_{stat}_{name}": name for name in graph.plots.blocks for stat in ("mean", "var")}


def count_slack(
    graph: Graph, expected: dict[str, np.ndarray], tolerance: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """How far each bin count may honestly be off: by the number of values within rounding of the
    bin's edges, since an engine that rounds an edge or a value differently (Gnumeric computes in
    long double) may put such a value on the other side. Inputs on a grid of two decimals meet
    edges like lowest + k·width to the last bit often enough at a few hundred samples. The lowest
    edge is every column's MIN, which no value falls below in any engine, so it never counts.
    """
    edges = expected["plot_edges"]
    edge_tolerance = np.broadcast_to(tolerance["plot_edges"], edges.shape)
    slack = {}
    for name in graph.plots.blocks:
        values = expected[name]
        value_tolerance = np.broadcast_to(tolerance[name], values.shape)
        near = np.abs(values[None, :, :] - edges[:, None, :]) <= edge_tolerance[:, None, :] + value_tolerance[None]
        ambiguous = near.sum(axis=1).astype(np.float64)  # per edge and column
        ambiguous[0] = 0.0
        bins = ambiguous[:-1] + ambiguous[1:]
        bins[-1] = ambiguous[-2]  # the last bin has no upper edge
        slack[f"plot_counts_{name}"] = bins
    return slack


def expected(graph: Graph, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What each plot table must hold, from the reference's node values."""
    n = next(iter(values[name] for name in graph.plots.blocks)).shape[0]
    out: dict[str, np.ndarray] = {}
    for name in graph.plots.blocks:
        column_mean = values[name].sum(axis=0, keepdims=True) / n
        out[f"plot_mean_{name}"] = column_mean
        out[f"plot_var_{name}"] = ((values[name] - column_mean) ** 2).sum(axis=0, keepdims=True) / n
    stacked = np.vstack([values[name] for name in graph.plots.blocks])
    lowest, highest = stacked.min(axis=0, keepdims=True), stacked.max(axis=0, keepdims=True)
    count = bins(graph, n)
    edges = reference.bin_edges(lowest, highest, count)
    out |= {"plot_lowest": lowest, "plot_highest": highest, "plot_width": (highest - lowest) / count}
    out["plot_edges"] = edges
    for name in graph.plots.blocks:
        out[f"plot_counts_{name}"] = reference.histogram(values[name], edges)
    return out


def column_range(name: str, n: int) -> str:
    """The column of node ``name`` in this cell's column, rows pinned: ``'x'!C$7:C$10``."""
    return f"{quote_sheet(name)}!{{c}}${BLOCK_TOP}:{{c}}${BLOCK_TOP + n - 1}"
