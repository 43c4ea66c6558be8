"""Lays out the sheets of a graph — the graph front sheet, the parameters, one sheet per input and
node, the plots — and writes the .xlsx atomically, with a defined name for every block (SPEC §4).

Every formula cell carries a cached value that formualizer computed from the formulas, so readers
that do not recalculate (pandas, previews) show the numbers: the workbook is written once in
memory, recalculated, and written again with the values. Applications still recalculate on open.
Above CACHED_VALUES_UP_TO formula cells (beyond 128×64) workbooks are written once, without
cached values, so that a build stays faster than a bare openpyxl dump of the same formulas.
Every word on a sheet comes from the template, in the graph's language.
"""

from __future__ import annotations

import glob
import io
import os
import secrets
import zipfile
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

from . import exercise as exercise_module
from . import ooxml, plots
from .compile import cell_pattern, param_formula
from .engines import Values
from .engines import formualizer as formualizer_engine
from .errors import WorkbookError
from .graph import Block, Graph
from .inputs import Inputs
from .layout import BLOCK_LEFT, BLOCK_TOP, HEADER_ROW, LABEL_COL, PARAMS_SHEET, Layout, defined_name
from .refs import Area, cell, col_letter, quote_sheet
from .xlsx import ErrorValue

Row = tuple[int, list[tuple[int, ooxml.Value, str]]]
Link = tuple[str, str]

GRAPH_SHEET = "graph"
_TAB = {"input": "FFD966", "forward": "5B9BD5", "backward": "ED7D31", "param": "70AD47", "graph": "404040"}
_SERIES_COLOURS = ("BF9000", "5B9BD5", "ED7D31", "70AD47", "7030A0")
_BACK_LINK_COL = 1  # column A: the link back to the graph sheet
_NOTES_RIGHT = 10  # column J: notes above a block are shown up to here
# formula cells: 64×64 has ~70 k, 128×64 ~135 k, 512×128 ~1.1 M. Recalculating for the cached
# values makes a build about four times slower; beyond 128×64 that is slower than a bare openpyxl
# dump of the same formulas (benchmarks/scale.py), so larger workbooks go without.
CACHED_VALUES_UP_TO = 200_000


def write(
    path: Path,
    graph: Graph,
    inputs: Inputs,
    *,
    progress: bool = False,
    exercise: tuple[str, ...] = (),
    force: bool = False,
) -> Path:
    """Write the workbook to ``path`` atomically (a temporary file in the same folder, renamed).

    An interrupted write leaves whatever was at ``path`` before untouched; a file at ``path`` that
    bnsheet did not write is replaced only with ``force``. The ``exercise`` nodes' blocks are left
    empty, with the task written above them.
    """
    path = Path(path)
    check_target(path, force=force)
    layout = Layout(inputs.n, inputs.d)
    book = _Book(graph, inputs, layout, exercise)
    cached = None
    areas = book.formula_areas()
    total = sum(layout.rows(b) * layout.d for b in graph.blocks)
    with tqdm(total=total, unit="cell", disable=not progress, desc="build", leave=False) as bar:
        if sum(a.shape[0] * a.shape[1] for a in areas) <= CACHED_VALUES_UP_TO:
            bar.set_description("build: cached values (formualizer)")
            draft = io.BytesIO()
            ooxml.write(draft, book.sheets(None), book.names(), graph.title, compress=False)
            cached = formualizer_engine.recalculate_bytes(draft.getvalue(), areas)
            bar.set_description("build")
        return _save_atomically(path, book.sheets(cached, bar), book.names(), graph.title)


class _Book:
    """The sheets of one workbook; built twice, without and then with the cached values."""

    def __init__(self, graph: Graph, inputs: Inputs, layout: Layout, exercise: tuple[str, ...]) -> None:
        self.graph, self.inputs, self.layout, self.exercise = graph, inputs, layout, exercise
        self.plots = plots.layout(graph, layout)

    def names(self) -> dict[str, str]:
        graph, layout = self.graph, self.layout
        names = {defined_name(b.name): layout.area(b).absolute() for b in graph.blocks}
        names |= {defined_name(p.name): layout.param_area(graph, p.name).absolute() for p in graph.params}
        names |= {defined_name(b.name): b.area.absolute() for b in self.plots.blocks}
        if self.exercise:
            names[exercise_module.NAME] = exercise_module.stored(self.exercise)
        return names

    def formula_areas(self) -> list[Area]:
        """Every area of formula cells: the nodes, the parameters that are formulas, the plot tables."""
        areas = [self.layout.area(b) for b in self.graph.nodes if b.name not in self.exercise]
        areas += [self.layout.param_area(self.graph, p.name) for p in self.graph.params if p.formula]
        return areas + [b.area for b in self.plots.blocks]

    def sheets(self, cached: Values | None, bar: tqdm | None = None) -> list[ooxml.Sheet]:
        graph, layout = self.graph, self.layout
        sheets = [_graph_sheet(graph), _params_sheet(graph, self.inputs, layout, cached)]
        sheets += [
            _block_sheet(graph, block, self.inputs, layout, cached, bar, block.name in self.exercise)
            for block in graph.blocks
        ]
        return [*sheets, _plots_sheet(graph, layout, self.plots, cached)]


def _formula(text: str, cached: Values | None, area: Area, i: int, j: int) -> ooxml.Formula:
    """A formula cell and its cached value (block offset i, j of ``area``), if one was computed."""
    if cached is None:
        return ooxml.Formula(text)
    value = cached[area][i, j]
    return ooxml.Formula(text, value, isinstance(value, ErrorValue))


def _shape_name(block: Block) -> str:
    return block.shape.replace("x", "×")


def _link(name: str) -> str:
    return f"{quote_sheet(name)}!A1"


def _shape(block: Block, layout: Layout) -> str:
    return f"{'1' if block.is_row else 'N'}×D = {layout.rows(block)}×{layout.d}"


def _notes(graph: Graph, block: Block, layout: Layout, exercise: bool) -> tuple[list[Row], list[Link]]:
    """The rows above a block, and their links: what it computes, its math, the NumPy line,
    the local derivative rule (backward steps) and links to the sheets it reads (or, for an
    input, that read it); for an exercise, the task instead. Every sheet's notes are written
    here, and only here."""
    back = (cell(1, _BACK_LINK_COL), _link(GRAPH_SHEET))
    shape = _shape(block, layout)
    params = {p.name for p in graph.params}
    if exercise:  # the task names the sheets to read, and takes the rows the links would
        task = exercise_module.task(block, graph, layout.area(block), shape)
        rows: list[Row] = [(1, [(_BACK_LINK_COL, graph.word("back"), "link"), (LABEL_COL, task[0], "title")])]
        rows += [(i, [(LABEL_COL, line, "note")]) for i, line in enumerate(task[1:], start=2) if line]
        return rows, [back]
    if block.is_input:
        lines = [
            (graph.word("input_title", name=block.name, shape=shape, text=block.text), "title"),
            (graph.word("input_note"), "note"),
        ]
        related_word = "read_by"
        related = [n.name for n in graph.nodes if block.name in n.reads]
    else:
        title = graph.word("node_title", step=block.step, name=block.name, shape=shape, text=block.text)
        lines = [(title, "title"), (block.math, "note"), (f"{graph.word('numpy')}:  {block.numpy}", "note")]
        if block.rule:
            lines.append((f"{graph.word('rule')}:  {block.rule}", "note"))
        related_word = "reads"
        related = list(dict.fromkeys(PARAMS_SHEET if name in params else name for name in block.reads))
    rows = [(1, [(_BACK_LINK_COL, graph.word("back"), "link"), (LABEL_COL, lines[0][0], "title")])]
    rows += [(i, [(LABEL_COL, text, style)]) for i, (text, style) in enumerate(lines[1:], start=2)]
    links_row = HEADER_ROW - 1
    related_cells: list[tuple[int, ooxml.Value, str]] = [(LABEL_COL, graph.word(related_word), "label")]
    related_cells += [(BLOCK_LEFT + k, name, "link") for k, name in enumerate(related)]
    rows.append((links_row, related_cells))
    links = [back] + [(cell(links_row, BLOCK_LEFT + k), _link(name)) for k, name in enumerate(related)]
    return rows, links


def _params_sheet(graph: Graph, inputs: Inputs, layout: Layout, cached: Values | None) -> ooxml.Sheet:
    values = inputs.params()

    def rows() -> Iterator[Row]:
        yield 1, [(_BACK_LINK_COL, graph.word("back"), "link"), (LABEL_COL, graph.word("params"), "title")]
        yield 2, [(LABEL_COL, graph.word("params_note"), "note")]
        for param in graph.params:
            area = layout.param_area(graph, param.name)
            value: ooxml.Value = values.get(param.name, param.value)
            if param.formula:
                value = _formula(param_formula(param.formula), cached, area, 0, 0)
            style = "forward" if param.formula else "param"
            yield area.top, [(LABEL_COL, param.name, "label"), (BLOCK_LEFT, value, style),
                             (BLOCK_LEFT + 1, param.text, "note")]  # fmt: skip

    widths = {_BACK_LINK_COL: 10.0, LABEL_COL: 16.0, BLOCK_LEFT: 14.0, BLOCK_LEFT + 1: 60.0}
    return ooxml.Sheet(PARAMS_SHEET, rows(), widths=widths, links=[("A1", _link(GRAPH_SHEET))], tab_color=_TAB["param"])


def _block_sheet(
    graph: Graph, block: Block, inputs: Inputs, layout: Layout, cached: Values | None, bar: tqdm | None,
    exercise: bool,
) -> ooxml.Sheet:  # fmt: skip
    kind = graph.kind(block)
    widths = {_BACK_LINK_COL: 10.0, LABEL_COL: 11.0} | {BLOCK_LEFT + j: 13.0 for j in range(layout.d)}
    notes, links = _notes(graph, block, layout, exercise)
    # wide enough for the notes, which run on to the right of the block's first columns
    right = max(BLOCK_LEFT + layout.d - 1, _NOTES_RIGHT)
    last = cell(BLOCK_TOP + layout.rows(block) - 1, right, pin_row=True, pin_col=True)
    return ooxml.Sheet(
        block.name,
        _block_rows(graph, block, inputs, layout, kind, notes, cached, bar, exercise),
        widths=widths,
        freeze=(BLOCK_TOP, BLOCK_LEFT),
        links=links,
        tab_color=_TAB[kind],
        print_area=f"$A$1:{last}",
    )


def _block_rows(
    graph: Graph, block: Block, inputs: Inputs, layout: Layout, kind: str, notes: list[Row],
    cached: Values | None, bar: tqdm | None, exercise: bool,
) -> Iterator[Row]:  # fmt: skip
    """The rows of one block sheet: notes above, feature labels, then the block itself."""
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
                                  *[(c, float(values[i, j]), kind) for j, (c, _) in enumerate(columns)]]  # fmt: skip
            if bar is not None:
                bar.update(layout.d)
        return
    if exercise:
        for i in range(rows):
            yield BLOCK_TOP + i, [(LABEL_COL, labels[i], "label"), *[(c, None, kind) for c, _ in columns]]
        return
    pattern = cell_pattern(block, graph, layout)
    area = layout.area(block)
    block_values = None if cached is None else cached[area]
    for i in range(rows):
        r = BLOCK_TOP + i
        if block_values is None:
            cells = [(c, ooxml.Formula(pattern.format(c=letters, r=r)), kind) for c, letters in columns]
        else:
            row_values = block_values[i]
            cells = [
                (c, ooxml.Formula(pattern.format(c=letters, r=r), v, isinstance(v, ErrorValue)), kind)
                for (c, letters), v in zip(columns, row_values, strict=True)
            ]
        yield r, [(LABEL_COL, labels[i], "label"), *cells]
        if bar is not None:
            bar.update(layout.d)


def _graph_sheet(graph: Graph) -> ooxml.Sheet:
    """The front sheet: the forward pass down the left, the backward pass up the right beside
    the forward step it undoes, then the inputs, the extras and the plots — every name a link."""
    rows: dict[int, list[tuple[int, ooxml.Value, str]]] = {}
    links: list[Link] = []

    def put(row: int, col: int, value: ooxml.Value, style: str, target: str | None = None) -> None:
        rows.setdefault(row, []).append((col, value, style))
        if target is not None:
            links.append((cell(row, col), _link(target)))

    def node(row: int, col: int, block: Block) -> None:
        put(row, col, block.name, f"{graph.kind(block)}_link", block.name)

    put(1, 2, graph.word("graph_title"), "title")
    put(2, 2, graph.word("graph_intro"), "note")
    forward = [n for n in graph.nodes if n.step.startswith("f")]
    backward = [n for n in graph.nodes if n.step.startswith("b")]
    sections = {s.prefix: s for s in graph.sections}
    put(4, 2, sections["f"].title if "f" in sections else "", "heading")
    put(4, 7, sections["b"].title if "b" in sections else "", "heading")
    for col, key in ((2, "step"), (3, "node"), (4, "shape"), (5, "what"), (7, "step"), (8, "node"), (10, "what")):
        put(5, col, graph.word(key), "label")
    top = 6  # the row of the first input; step k of both passes sits at top + 2k
    first_input = graph.inputs[0]
    node(top, 3, first_input)
    put(top, 4, _shape_name(first_input), "note")
    put(top, 5, first_input.text, "note")
    for k in range(1, len(forward) + 1):
        put(top + 2 * k - 1, 3, "↓", "arrow")
    for block in forward:
        row = top + 2 * int(block.step[1:])
        put(row, 2, block.step, "label")
        node(row, 3, block)
        put(row, 4, _shape_name(block), "note")
        put(row, 5, block.math, "note")
    steps: dict[int, list[Block]] = {}
    for block in backward:
        steps.setdefault(int(block.step[1:]), []).append(block)
    for k, blocks in steps.items():
        row = top + 2 * k
        put(row, 7, blocks[0].step, "label")
        for col, block in enumerate(blocks[:2], start=8):
            node(row, col, block)
        put(row, 10, ";  ".join(b.math for b in blocks), "note")
        if k < max(steps):
            put(row + 1, 8, "↑", "arrow")
    row = top + 2 * (max(steps, default=len(forward)) + 1)
    put(row - 1, 8, "↑", "arrow")
    gradient_in = next((b for b in graph.inputs if b.name == "dout"), None)
    if gradient_in is not None:
        node(row, 8, gradient_in)
        put(row, 10, gradient_in.text, "note")
    row += 2
    put(row, 2, graph.word("graph_inputs"), "heading")
    for block in graph.inputs:
        row += 1
        node(row, 3, block)
        put(row, 4, _shape_name(block), "note")
        put(row, 5, block.text, "note")
    for section in graph.sections:
        extras = [n for n in graph.nodes if n.step.startswith(section.prefix)]
        if section.prefix in ("f", "b") or not extras:
            continue
        row += 2
        put(row, 2, section.title, "heading")
        for block in extras:
            row += 1
            put(row, 2, block.step, "label")
            node(row, 3, block)
            put(row, 4, _shape_name(block), "note")
            put(row, 5, block.math, "note")
    row += 2
    put(row, 2, graph.word("graph_more"), "heading")
    put(row + 1, 3, PARAMS_SHEET, "link", PARAMS_SHEET)
    put(row + 1, 5, graph.word("params_note"), "note")
    put(row + 2, 3, plots.PLOTS_SHEET, "link", plots.PLOTS_SHEET)
    put(row + 2, 5, graph.word("plots_title"), "note")
    widths = {1: 2.0, 2: 6.0, 3: 17.0, 4: 6.0, 5: 44.0, 6: 3.0, 7: 6.0, 8: 11.0, 9: 11.0, 10: 44.0}
    ordered = [(r, sorted(cells)) for r, cells in sorted(rows.items())]
    print_area = f"$A$1:$M${max(rows)}"  # the notes of the last column run on to the right
    return ooxml.Sheet(GRAPH_SHEET, ordered, widths=widths, links=links, tab_color=_TAB["graph"], print_area=print_area)


def _plots_sheet(graph: Graph, layout: Layout, table: plots.PlotsLayout, cached: Values | None) -> ooxml.Sheet:
    """Histograms and column statistics as formula tables, and column charts that read them."""
    rows: dict[int, list[tuple[int, ooxml.Value, str]]] = {}
    rows[1] = [(_BACK_LINK_COL, graph.word("back"), "link"), (LABEL_COL, graph.word("plots_title"), "title")]
    rows[2] = [(LABEL_COL, graph.word("plots_intro"), "note")]
    rows[plots.HEADER_ROW] = [(BLOCK_LEFT + j, graph.word("feature", j=j + 1), "label") for j in range(layout.d)]
    for block in table.blocks:
        area = block.area
        if block.labels:
            rows[area.top - 1] = [(LABEL_COL, block.label, "heading")]
        for i in range(area.shape[0]):
            r = area.top + i
            label: ooxml.Value = block.labels[i] if block.labels else block.label
            cells: list[tuple[int, ooxml.Value, str]] = [(LABEL_COL, label, "label")]
            for j in range(area.shape[1]):
                c = area.left + j
                cells.append((c, _formula(block.formula(r, c), cached, area, i, j), "forward"))
            rows[r] = cells
    charts = _charts(graph, layout, table)
    widths = {_BACK_LINK_COL: 10.0, LABEL_COL: 30.0} | {BLOCK_LEFT + j: 12.0 for j in range(layout.d)}
    return ooxml.Sheet(
        plots.PLOTS_SHEET, sorted(rows.items()), widths=widths, freeze=(plots.HEADER_ROW + 1, BLOCK_LEFT),
        links=[("A1", _link(GRAPH_SHEET))], tab_color=_TAB["forward"], charts=charts,
    )  # fmt: skip


def _charts(graph: Graph, layout: Layout, table: plots.PlotsLayout) -> list[ooxml.Chart]:
    """A histogram chart for each of the first features, then the column means and variances."""
    left = BLOCK_LEFT + layout.d + 1
    height, width = 16, 8
    colours = dict(zip(graph.plots.blocks, _SERIES_COLOURS, strict=False))
    edges = table.block("plot_edges").area
    charts = []

    def column(area: Area, j: int, rows: int | None = None) -> str:
        bottom = area.top + (rows if rows is not None else area.shape[0]) - 1
        return Area(area.sheet, area.top, area.left + j, bottom, area.left + j).absolute()

    def row(area: Area) -> str:
        return area.absolute()

    for j in range(min(layout.d, graph.plots.charted_features)):
        series = tuple(
            (name, column(table.block(f"plot_counts_{name}").area, j), colours[name]) for name in graph.plots.blocks
        )
        top = plots.HEADER_ROW + 1 + j * height
        charts.append(
            ooxml.Chart(graph.word("histogram", j=j + 1), column(edges, j, graph.plots.bins), series,
                        (top, left, top + height - 1, left + width), number_format="0.00")
        )  # fmt: skip
    features = Area(plots.PLOTS_SHEET, plots.HEADER_ROW, BLOCK_LEFT, plots.HEADER_ROW, BLOCK_LEFT + layout.d - 1)
    for k, (stat, word) in enumerate((("mean", "means_chart"), ("var", "vars_chart"))):
        series = tuple(
            (name, row(table.block(f"plot_{stat}_{name}").area), colours[name]) for name in graph.plots.blocks
        )
        top = plots.HEADER_ROW + 1 + k * height
        anchor = (top, left + width + 1, top + height - 1, left + 2 * width + 1)
        charts.append(ooxml.Chart(graph.word(word), row(features), series, anchor, categories_are_text=True))
    return charts


def check_target(path: Path, *, force: bool = False) -> None:
    """Refuse, before any work, to write where the workbook could not go or would replace a
    file bnsheet did not make (unless ``force``)."""
    folder = path.parent
    if path.suffix.lower() != ".xlsx":
        raise WorkbookError(f"{path}: the workbook's name must end in .xlsx")
    if not folder.is_dir():
        state = "is not a folder" if folder.exists() else "does not exist"
        raise WorkbookError(f"{path}: the folder {folder} {state}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise WorkbookError(f"{path}: cannot write in {folder} (permission denied)")
    if path.is_dir():
        raise WorkbookError(f"{path}: is a folder")
    if path.exists() and not force and not made_by_bnsheet(path):
        raise WorkbookError(f"{path}: exists and was not written by bnsheet; use --force to replace it")


def made_by_bnsheet(path: Path) -> bool:
    """Whether ``path`` is a workbook bnsheet wrote (its docProps/app.xml names bnsheet)."""
    try:
        with zipfile.ZipFile(path) as package, package.open("docProps/app.xml") as part:
            app = part.read(1 << 16)
    except (OSError, KeyError, zipfile.BadZipFile, ValueError, EOFError):
        return False
    return f"<Application>{ooxml.APPLICATION}</Application>".encode() in app


def _save_atomically(path: Path, sheets: list[ooxml.Sheet], names: dict[str, str], title: str) -> Path:
    """Write to a hidden temporary file beside ``path``, flush it to disk, then rename it over
    ``path``: a reader sees the old file or the new one, never half of one."""
    folder = path.parent
    _remove_stale_temps(path)
    temp = folder / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        # os.open with 0o666 gives the file the mode the user's umask asks for, as open() would.
        handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise WorkbookError(f"{path}: cannot write in {folder} ({exc.strerror})") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            ooxml.write(stream, sheets, names, title)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
        _sync_folder(folder)
    except OSError as exc:
        raise WorkbookError(f"{path}: cannot write ({exc.strerror or exc})") from None
    finally:  # also on Ctrl-C: no partial file is left behind
        temp.unlink(missing_ok=True)
    return path


def _remove_stale_temps(path: Path) -> None:
    """Temporary files of earlier builds of ``path`` whose process died (killed, power lost)."""
    for temp in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = temp.name[len(path.name) + 2 :].split(".")[0]
        if pid.isdigit() and not _alive(int(pid)):
            temp.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists but belongs to someone else
    return True


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (where the system lets a folder be opened)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)
