"""Lays out the sheets of a graph — the graph front sheet (front.py), the parameters, one sheet per
input and node, the plots and the checks (plotsheet.py) — and writes the .xlsx atomically, with a defined name for
every block (SPEC §4), each block's numbers in its kind's number format.

Every formula cell carries a cached value, so readers that do not recalculate (pandas, previews)
show the numbers; applications still recalculate on open. The values are the NumPy reference's
(cached.py), at every size. An exercise workbook's blocks are empty: the nodes downstream of them
cache what an engine computes from the empty blocks (``recalculate``, handed in by the caller, who
owns the engines: this side imports none), so no cached value gives an answer away.
Every word on a sheet comes from the template, in the graph's language.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..a1 import Area, cell, col_letter
from ..layout import BLOCK_LEFT, BLOCK_TOP, HEADER_ROW, LABEL_COL, PARAMS_SHEET, Layout, defined_name
from ..model import checks, plots
from ..model.graph import Block, Graph
from ..model.inputs import Inputs
from ..values import Values
from . import exercise as exercise_module
from . import ooxml, size
from .cached import cached_values, reference_values
from .compile import cell_pattern, param_formula
from .files import check_target, replacing
from .front import GRAPH_SHEET, TAB, graph_sheet, link
from .plotsheet import checks_sheet, formula_cell, plots_sheet
from .widths import DEFAULT_WIDTH, fitted, reach, text_width

Row = tuple[int, list[tuple[int, ooxml.Value, str]]]
Link = tuple[str, str]

_BACK_LINK_COL = 1  # column A: the link back to the graph sheet
_BLOCK_WIDTH = 13.0  # a block's columns, wide enough for the numbers in their formats
_SMALL = 0.01  # a block whose numbers mostly lie below this would show two digits or fewer in 0.0000
# Recalculates a draft package (the .xlsx bytes) and returns the values of the given areas.
Recalculate = Callable[[bytes, list[Area]], Values]


def write(
    path: Path,
    graph: Graph,
    inputs: Inputs,
    *,
    progress: bool = False,
    exercise: tuple[str, ...] = (),
    force: bool = False,
    cached: bool = True,
    recalculate: Recalculate | None = None,
    recorded: Mapping[str, str] | None = None,
    hints: str = exercise_module.DEFAULT_HINTS,
) -> Path:
    """Write the workbook to ``path`` atomically (a temporary file in the same folder, renamed).

    An interrupted write leaves whatever was at ``path`` before untouched; a file at ``path`` that
    bnsheet did not write is replaced only with ``force``. The ``exercise`` nodes' blocks are left
    empty, with the task written above them. With ``cached`` every formula cell carries a cached
    value: the reference's, or in an exercise workbook what ``recalculate`` computes from the draft
    with its empty blocks (without ``recalculate``, an exercise workbook caches none).
    ``recorded`` adds defined names (name: formula), such as a roster's student and seed, or
    the exercise's points. ``hints`` (exercise.HINT_CHOICES) says what an exercise's sheet gives
    besides its task.
    """
    path = Path(path)
    layout = Layout(inputs.n, inputs.d)
    size.check(graph, layout)
    check_target(path, force=force)
    book = _Book(graph, inputs, layout, exercise, recorded or {}, hints)
    values: Values | None = None
    total = sum(layout.rows(b) * layout.d for b in graph.blocks)
    typeface = ooxml.JAPANESE if graph.lang == "ja" else ooxml.LATIN
    with tqdm(total=total, unit="cell", disable=not progress, desc="build", leave=False) as bar:
        if cached and not exercise:
            values = cached_values(graph, inputs, layout, (*book.plots.blocks, *book.checks.blocks), book.reference)
        elif cached and recalculate is not None:
            bar.set_description("build: cached values")
            draft = io.BytesIO()
            ooxml.write(draft, book.sheets(None), book.names(), graph.title, compress=False)
            values = recalculate(draft.getvalue(), book.formula_areas())
            bar.set_description("build")
        with replacing(path) as temporary, temporary.open("wb") as stream:
            ooxml.write(stream, book.sheets(values, bar), book.names(), graph.title, typeface=typeface)
        return path


class _Book:
    """The sheets of one workbook; built twice, without and then with the cached values."""

    def __init__(
        self, graph: Graph, inputs: Inputs, layout: Layout, exercise: tuple[str, ...], recorded: Mapping[str, str],
        hints: str,
    ) -> None:  # fmt: skip
        self.graph, self.inputs, self.layout, self.exercise = graph, inputs, layout, exercise
        self.recorded, self.hints = recorded, hints
        self.plots = plots.layout(graph, layout)
        self.checks = checks.layout(graph, layout)
        self.reference = reference_values(inputs)
        self.typical = _typical(self.reference)

    def names(self) -> dict[str, str]:
        graph, layout = self.graph, self.layout
        names = {defined_name(b.name): layout.area(b).absolute() for b in graph.blocks}
        names |= {defined_name(p.name): layout.param_area(graph.params, p.name).absolute() for p in graph.params}
        names |= {defined_name(b.name): b.area.absolute() for b in self.plots.blocks if not b.text}
        names |= {defined_name(b.name): b.area.absolute() for b in self.checks.blocks}
        if self.exercise:
            names[exercise_module.NAME] = exercise_module.stored(self.exercise)
            names[exercise_module.HINTS] = exercise_module.stored_hints(self.hints)
            names[exercise_module.LANGUAGE] = f'"{graph.lang}"'
        return names | dict(self.recorded)

    def formula_areas(self) -> list[Area]:
        """Every area of formula cells: the nodes, the parameters that are formulas, the plot and check tables."""
        areas = [self.layout.area(b) for b in self.graph.nodes if b.name not in self.exercise]
        areas += [self.layout.param_area(self.graph.params, p.name) for p in self.graph.params if p.formula]
        return areas + [b.area for b in (*self.plots.blocks, *self.checks.blocks)]

    def sheets(self, cached: Values | None, bar: tqdm | None = None) -> list[ooxml.Sheet]:
        graph, layout = self.graph, self.layout
        sheets = [graph_sheet(graph, self.exercise), _params_sheet(graph, self.inputs, layout, cached)]
        sheets += [
            _block_sheet(graph, block, self.inputs, layout, cached, bar, block.name in self.exercise,
                         number_style(graph, block, self.typical.get(block.name, 1.0)),
                         exercise_module.upstream_exercises(block, graph, self.exercise), self.hints)
            for block in graph.blocks
        ]  # fmt: skip
        sheets.append(plots_sheet(graph, layout, self.plots, cached))
        return sheets + ([checks_sheet(graph, layout, self.checks, cached)] if self.checks.blocks else [])


def number_style(graph: Graph, block: Block, typical: float) -> str:
    """The style of a block's cells: its kind's colour, with the number format the template gives
    its kind; a node that is all rounding (error_scale) takes the ``rounding`` format, and a block
    whose numbers are mostly small (the ``typical`` magnitude, as built, below _SMALL: the
    gradients of a real network) the ``small`` one, so that it shows more than a digit or two.

    >>> from bnsheet.model.graph import load
    >>> graph = load()
    >>> [number_style(graph, graph.block(name), big) for name, big in (("dx", 2.0), ("dx", 0.003), ("dx_diff", 1e-16))]
    ['backward|0.0000', 'backward|0.000E+00', 'backward|0.00E+00']
    """
    kind = graph.kind(block)
    if block.error_scale:
        kind = "rounding"
    elif 0.0 < typical < _SMALL and "small" in graph.formats:
        kind = "small"
    return ooxml.styled(graph.kind(block), graph.formats.get(kind))


def _typical(values: dict[str, np.ndarray]) -> dict[str, float]:
    """Each input's and node's typical magnitude at the inputs the workbook is built with (the
    reference's ``values``): the median of its numbers that are not 0 (a ReLU's gradient is
    mostly 0), 0 when all are."""
    with np.errstate(all="ignore"):
        magnitudes = {name: np.abs(value[value != 0]) for name, value in values.items()}
        return {name: float(np.median(m)) if m.size else 0.0 for name, m in magnitudes.items()}


def _shape(block: Block, layout: Layout) -> str:
    return f"{'1' if block.is_row else 'N'}×D = {layout.rows(block)}×{layout.d}"


def _notes(
    graph: Graph, block: Block, layout: Layout, exercise: bool, upstream: Sequence[str] = (),
    hints: str = exercise_module.DEFAULT_HINTS,
) -> tuple[list[Row], list[Link]]:  # fmt: skip
    """The rows above a block, and their links: what it computes, its math (with the local
    derivative rule of a backward step), the NumPy line, the block's first formula, and links to
    the sheets it reads (or, for an input, that read it); for an exercise, the task instead (with
    the ``hints`` chosen). A sheet that reads an exercise (``upstream``) has a title formula that
    asks for the exercise first while it is not filled in. Every sheet's notes are written here,
    and only here."""
    back = (cell(1, _BACK_LINK_COL), link(GRAPH_SHEET))
    shape = _shape(block, layout)
    params = {p.name for p in graph.params}
    if exercise:  # the task names the sheets to read, and takes the rows the links would
        task = exercise_module.task(block, graph, layout.area(block), shape, hints)
        rows: list[Row] = [(1, [(_BACK_LINK_COL, graph.word("back"), "link"), (LABEL_COL, task[0], "title")])]
        rows += [(i, [(LABEL_COL, line, "note")]) for i, line in enumerate(task[1:], start=2)]
        return rows, [back]
    lines: list[tuple[ooxml.Value, str]]
    if block.is_input:
        lines = [
            (graph.word("input_title", name=block.name, shape=shape, text=block.text), "title"),
            (graph.word("input_note"), "note"),
        ]
        related_word = "read_by"
        related = [n.name for n in graph.nodes if block.name in n.reads]
    else:
        title: ooxml.Value = graph.word("node_title", step=block.step, name=block.name, shape=shape, text=block.text)
        if upstream:  # the numbers below come from a learner's empty blocks until filled: say so, live
            cells = sum(layout.rows(graph.block(name)) * layout.d for name in upstream)
            formula = exercise_module.downstream_title(str(title), graph, upstream, cells)
            names = graph.word("list_separator").join(upstream)
            title = ooxml.Formula(formula, f"{title}  ({graph.word('exercise_downstream', names=names)})")
        math = f"{block.math}      {graph.word('rule')}:  {block.rule}" if block.rule else block.math
        lines = [(title, "title"), (math, "note"), (f"{graph.word('numpy')}:  {block.numpy}", "note"),
                 (_excel_line(graph, block, layout), "note")]  # fmt: skip
        related_word = "reads"
        related = list(dict.fromkeys(PARAMS_SHEET if name in params else name for name in block.reads))
    rows = [(1, [(_BACK_LINK_COL, graph.word("back"), "link"), (LABEL_COL, lines[0][0], "title")])]
    rows += [(i, [(LABEL_COL, text, style)]) for i, (text, style) in enumerate(lines[1:], start=2)]
    links_row = HEADER_ROW - 1
    related_cells: list[tuple[int, ooxml.Value, str]] = [(LABEL_COL, graph.word(related_word), "label")]
    related_cells += [(BLOCK_LEFT + k, name, "link") for k, name in enumerate(related)]
    rows.append((links_row, related_cells))
    links = [back] + [(cell(links_row, BLOCK_LEFT + k), link(name)) for k, name in enumerate(related)]
    return rows, links


def _excel_line(graph: Graph, block: Block, layout: Layout) -> str:
    """The block's first formula as text, and where it is filled: what a print shows of the cells."""
    area = layout.area(block)
    first, last = area.address(0, 0), area.address(area.shape[0] - 1, area.shape[1] - 1)
    formula = cell_pattern(block, graph, layout).format(c=col_letter(area.left), r=area.top)
    where = graph.word("excel_filled" if first != last else "excel_one", first=first, last=last)
    return f"{graph.word('excel')}:  {formula}      ({where})"


def _params_sheet(graph: Graph, inputs: Inputs, layout: Layout, cached: Values | None) -> ooxml.Sheet:
    values = inputs.params()

    def rows() -> Iterator[Row]:
        yield 1, [(_BACK_LINK_COL, graph.word("back"), "link"), (LABEL_COL, graph.word("params"), "title")]
        yield 2, [(LABEL_COL, graph.word("params_note"), "note")]
        for param in graph.params:
            area = layout.param_area(graph.params, param.name)
            value: ooxml.Value = values.get(param.name, param.value)
            if param.formula:
                value = formula_cell(param_formula(param.formula), cached, area, 0, 0)
            style = ooxml.styled("forward" if param.formula else "param", graph.formats.get("param"))
            yield area.top, [(LABEL_COL, param.name, "label"), (BLOCK_LEFT, value, style),
                             (BLOCK_LEFT + 1, param.text, "note")]  # fmt: skip

    widths = {
        _BACK_LINK_COL: fitted([(graph.word("back"), "link")]),
        LABEL_COL: fitted([(p.name, "label") for p in graph.params]),
        BLOCK_LEFT: 14.0,
        BLOCK_LEFT + 1: fitted([(p.text, "note") for p in graph.params]),
    }
    bottom = layout.param_area(graph.params, graph.params[-1].name).top if graph.params else 2
    right = max(BLOCK_LEFT + 1, *(reach(LABEL_COL, text_width(graph.word(key), style), widths)
                                  for key, style in (("params", "title"), ("params_note", "note"))))  # fmt: skip
    return ooxml.Sheet(
        PARAMS_SHEET, rows(), widths=widths, links=[("A1", link(GRAPH_SHEET))], tab_color=TAB["param"],
        print_area=f"$A$1:{cell(bottom, right, pin_row=True, pin_col=True)}", one_page=True,
    )  # fmt: skip


def _block_sheet(
    graph: Graph, block: Block, inputs: Inputs, layout: Layout, cached: Values | None, bar: tqdm | None,
    exercise: bool, style: str, upstream: Sequence[str] = (), hints: str = exercise_module.DEFAULT_HINTS,
) -> ooxml.Sheet:  # fmt: skip
    notes, links = _notes(graph, block, layout, exercise, upstream, hints)
    rows = layout.rows(block)
    labels = [(block.name, "label"), (graph.word("sample", i=rows), "label")]
    in_b = [(_shown(value), look) for _, cells in notes for col, value, look in cells if col == LABEL_COL]
    labels += [(text, look) for text, look in in_b if look == "label"]
    widths = {_BACK_LINK_COL: fitted([(graph.word("back"), "link")]), LABEL_COL: fitted(labels, least=10.0)}
    widths |= {BLOCK_LEFT + j: _BLOCK_WIDTH for j in range(layout.d)}
    for _, cells in notes:  # the links to the sheets read, one a column from C, shown whole
        for col, value, look in cells:
            if col != LABEL_COL and isinstance(value, str):
                widths[col] = fitted([(value, look)], least=widths.get(col, DEFAULT_WIDTH))
    # the print area reaches as far as the notes, which run on to the right from column B
    spilling = [(text, look) for text, look in in_b if look != "label"]
    right = max(
        BLOCK_LEFT + layout.d - 1,
        max((col for _, cells in notes for col, _, _ in cells), default=BLOCK_LEFT),
        *(reach(LABEL_COL, text_width(text, look), widths) for text, look in spilling),
    )
    last = cell(BLOCK_TOP + rows - 1, right, pin_row=True, pin_col=True)
    return ooxml.Sheet(
        block.name,
        _block_rows(graph, block, inputs, layout, style, notes, cached, bar, exercise),
        widths=widths,
        freeze=(BLOCK_TOP, BLOCK_LEFT),
        links=links,
        tab_color=TAB[graph.kind(block)],
        print_area=f"$A$1:{last}",
        print_titles=(f"${col_letter(LABEL_COL)}:${col_letter(LABEL_COL)}", f"${HEADER_ROW}:${HEADER_ROW}"),
    )


def _shown(value: ooxml.Value) -> str:
    """What a note cell shows: its text, or a formula's cached text."""
    return str(value.cached) if isinstance(value, ooxml.Formula) else str(value)


def _block_rows(
    graph: Graph, block: Block, inputs: Inputs, layout: Layout, style: str, notes: list[Row],
    cached: Values | None, bar: tqdm | None, exercise: bool,
) -> Iterator[Row]:  # fmt: skip
    """The rows of one block sheet: notes above, feature labels, then the block itself, its cells
    in ``style``."""
    yield from notes
    header: list[tuple[int, ooxml.Value, str]] = [(LABEL_COL, block.name, "label")]
    header += [(BLOCK_LEFT + j, graph.word("feature", j=j + 1), "label") for j in range(layout.d)]
    yield HEADER_ROW, header
    columns = [(BLOCK_LEFT + j, col_letter(BLOCK_LEFT + j)) for j in range(layout.d)]
    rows = layout.rows(block)
    labels = [block.name] if block.is_row else [graph.word("sample", i=i + 1) for i in range(rows)]
    if block.is_input:
        values = inputs.arrays()[block.name]
        for i in range(rows):
            yield BLOCK_TOP + i, [(LABEL_COL, labels[i], "label"),
                                  *[(c, float(values[i, j]), style) for j, (c, _) in enumerate(columns)]]  # fmt: skip
            if bar is not None:
                bar.update(layout.d)
        return
    if exercise:
        for i in range(rows):
            yield BLOCK_TOP + i, [(LABEL_COL, labels[i], "label"), *[(c, None, style) for c, _ in columns]]
        return
    pattern = cell_pattern(block, graph, layout)
    area = layout.area(block)
    block_values = None if cached is None else cached[area]
    for i in range(rows):
        r = BLOCK_TOP + i
        cells = [
            (
                BLOCK_LEFT,
                ooxml.Filled(pattern, layout.d, None if block_values is None else block_values[i].tolist()),
                style,
            )
        ]
        yield r, [(LABEL_COL, labels[i], "label"), *cells]
        if bar is not None:
            bar.update(layout.d)
