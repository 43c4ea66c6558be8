"""The plots sheet: its tables of formulas (laid out by model.plots) and the column charts that
read them — a histogram per feature for the first features, the column means and variances
before and after normalisation — set two charts abreast beside the tables."""

from __future__ import annotations

from collections.abc import Callable

from ..a1 import Area, cell
from ..layout import BLOCK_LEFT, LABEL_COL, Layout
from ..model import checks, plots
from ..model.graph import Graph
from ..values import ErrorValue, Values
from . import ooxml
from .front import GRAPH_SHEET, TAB, link
from .widths import fitted, reach, text_width

_SERIES_COLOURS = ("BF9000", "5B9BD5", "ED7D31", "70AD47", "7030A0")
_BACK_LINK_COL = 1
_CHART_ROWS, _CHART_COLS = 16, 8  # one chart's size in cells (of the default width)
_CHARTS_ABREAST = 2


def formula_cell(text: str, cached: Values | None, area: Area, i: int, j: int) -> ooxml.Formula:
    """A formula cell and its cached value (block offset i, j of ``area``), if one was computed;
    the other sheets' formula cells are made here too."""
    if cached is None:
        return ooxml.Formula(text)
    value = cached[area][i, j]
    return ooxml.Formula(text, value, isinstance(value, ErrorValue))


def plots_sheet(graph: Graph, layout: Layout, table: plots.PlotsLayout, cached: Values | None) -> ooxml.Sheet:
    """Histograms and column statistics as formula tables, and column charts that read them."""
    rows, labels, spilling = _tables(graph, layout, table, cached, "plots", plots.HEADER_ROW, _style)
    features = [graph.word("feature", j=j + 1) for j in range(layout.d)]
    charts = _charts(graph, layout, table)
    # the bins' labels ("[-1.23, -0.61)") are the widest cells of the feature columns
    column = fitted([(name, "label") for name in features] + [("[-0.00, -0.00]", "default")], least=10.0)
    widths = {_BACK_LINK_COL: fitted([(graph.word("back"), "link")]), LABEL_COL: fitted(labels, least=12.0)}
    widths |= {BLOCK_LEFT + j: column for j in range(layout.d)}
    right = max(max(c.anchor[3] for c in charts) if charts else 0, BLOCK_LEFT + layout.d - 1)
    right = max(right, *(reach(LABEL_COL, text_width(text, style), widths) for text, style in spilling))
    bottom = max([max(rows), *(c.anchor[2] for c in charts)])
    return ooxml.Sheet(
        plots.PLOTS_SHEET, sorted(rows.items()), widths=widths, freeze=(plots.HEADER_ROW + 1, BLOCK_LEFT),
        links=[("A1", link(GRAPH_SHEET))], tab_color=TAB["forward"], charts=charts,
        print_area=f"$A$1:{cell(bottom, right, pin_row=True, pin_col=True)}",
        print_titles=("$A:$B", f"${plots.HEADER_ROW}:${plots.HEADER_ROW}"),
    )  # fmt: skip


def checks_sheet(graph: Graph, layout: Layout, table: plots.PlotsLayout, cached: Values | None) -> ooxml.Sheet:
    """The layer's identities and the finite-difference check as formula tables, each with its light."""
    rows, labels, spilling = _tables(graph, layout, table, cached, "checks", checks.HEADER_ROW, _check_style)
    features = [graph.word("feature", j=j + 1) for j in range(layout.d)]
    column = fitted([(name, "label") for name in features], least=12.0)
    widths = {_BACK_LINK_COL: fitted([(graph.word("back"), "link")]), LABEL_COL: fitted(labels, least=12.0)}
    widths |= {BLOCK_LEFT + j: column for j in range(layout.d)}
    right = max(BLOCK_LEFT + layout.d - 1, *(reach(LABEL_COL, text_width(t, style), widths) for t, style in spilling))
    return ooxml.Sheet(
        checks.CHECKS_SHEET, sorted(rows.items()), widths=widths, freeze=(checks.HEADER_ROW + 1, BLOCK_LEFT),
        links=[("A1", link(GRAPH_SHEET))], tab_color=TAB["backward"],
        print_area=f"$A$1:{cell(max(rows), right, pin_row=True, pin_col=True)}",
        print_titles=("$A:$B", f"${checks.HEADER_ROW}:${checks.HEADER_ROW}"),
    )  # fmt: skip


def _tables(
    graph: Graph, layout: Layout, table: plots.PlotsLayout, cached: Values | None, words: str, header: int,
    style_of: Callable[[Graph, plots.PlotBlock], str],
) -> tuple[dict[int, list[tuple[int, ooxml.Value, str]]], list[tuple[str, str]], list[tuple[str, str]]]:  # fmt: skip
    """The rows of a sheet of formula tables (the plots, the checks): title, intro, the features'
    header, each table with its label (or a heading above it, with numbers in the label column);
    and the labels and the texts that run on to the right, for the widths."""
    rows: dict[int, list[tuple[int, ooxml.Value, str]]] = {}
    title, intro = graph.word(f"{words}_title"), graph.word(f"{words}_intro")
    rows[1] = [(_BACK_LINK_COL, graph.word("back"), "link"), (LABEL_COL, title, "title")]
    rows[2] = [(LABEL_COL, intro, "note")]
    rows[header] = [(BLOCK_LEFT + j, graph.word("feature", j=j + 1), "label") for j in range(layout.d)]
    labels: list[tuple[str, str]] = []
    spilling = [(title, "title"), (intro, "note")]
    for block in table.blocks:
        area = block.area
        if block.labels:
            rows[area.top - 1] = [(LABEL_COL, block.label, "heading")]
            spilling.append((block.label, "heading"))
        else:
            labels.append((block.label, "label"))
        style = style_of(graph, block)
        for i in range(area.shape[0]):
            r = area.top + i
            label: ooxml.Value = block.labels[i] if block.labels else block.label
            cells: list[tuple[int, ooxml.Value, str]] = [(LABEL_COL, label, "label")]
            for j in range(area.shape[1]):
                c = area.left + j
                cells.append((c, formula_cell(block.formula(r, c), cached, area, i, j), style))
            rows[r] = cells
    return rows, labels, spilling


def _check_style(graph: Graph, block: plots.PlotBlock) -> str:
    """Lights as ✓ or ✗; the residuals, which are rounding, in scientific notation; the rest as
    the backward nodes."""
    if block.name.endswith("_holds"):
        return ooxml.styled("backward", graph.formats.get("light"))
    kind = "rounding" if block.name in checks.RESIDUALS else "backward"
    return ooxml.styled("backward", graph.formats.get(kind))


def _style(graph: Graph, block: plots.PlotBlock) -> str:
    """Counts as whole numbers, the bins' labels as text set right like numbers, every other table
    as the forward nodes."""
    if block.text:
        return "forward_right"
    kind = "count" if block.name.startswith("plot_counts_") else "forward"
    return ooxml.styled("forward", graph.formats.get(kind))


def count_unit(n: int) -> int:
    """The step between ticks of a count axis: a whole 1, 2 or 5 times a power of ten, about a
    tenth of N, so a bar's height reads off in whole values.

    >>> [count_unit(n) for n in (2, 4, 10, 11, 64, 100, 512)]
    [1, 1, 1, 2, 10, 10, 100]
    """
    unit = 1
    while True:
        for step in (unit, 2 * unit, 5 * unit):
            if n <= 10 * step:
                return step
        unit *= 10


def _charts(graph: Graph, layout: Layout, table: plots.PlotsLayout) -> list[ooxml.Chart]:
    """The column means and variances, then a histogram for each of the first features, two
    abreast to the right of the tables."""
    left = BLOCK_LEFT + layout.d + 1
    colours = dict(zip(graph.plots.blocks, _SERIES_COLOURS, strict=False))
    bin_labels = table.block("plot_bin_labels").area

    def column(area: Area, j: int) -> str:
        return Area(area.sheet, area.top, area.left + j, area.bottom, area.left + j).absolute()

    def anchor(k: int) -> tuple[int, int, int, int]:
        top = plots.HEADER_ROW + 1 + (k // _CHARTS_ABREAST) * _CHART_ROWS
        first = left + (k % _CHARTS_ABREAST) * (_CHART_COLS + 1)
        return top, first, top + _CHART_ROWS - 1, first + _CHART_COLS

    features = Area(plots.PLOTS_SHEET, plots.HEADER_ROW, BLOCK_LEFT, plots.HEADER_ROW, BLOCK_LEFT + layout.d - 1)
    charts: list[ooxml.Chart] = []
    for stat, word in (("mean", "means_chart"), ("var", "vars_chart")):
        series = tuple(
            (name, table.block(f"plot_{stat}_{name}").area.absolute(), colours[name]) for name in graph.plots.blocks
        )
        charts.append(ooxml.Chart(graph.word(word), features.absolute(), series, anchor(len(charts))))
    unit = count_unit(layout.n)
    for j in range(min(layout.d, graph.plots.charted_features)):
        series = tuple(
            (name, column(table.block(f"plot_counts_{name}").area, j), colours[name]) for name in graph.plots.blocks
        )
        charts.append(
            ooxml.Chart(graph.word("histogram", j=j + 1), column(bin_labels, j), series, anchor(len(charts)),
                        value_format="0", major_unit=unit)
        )  # fmt: skip
    return charts
