"""Lays out the sheets of a graph — one per input and node, and the parameters — and writes the
.xlsx atomically, with a defined name for every block (SPEC §4)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tqdm import tqdm

from . import exercise as exercise_module
from . import ooxml
from .compile import cell_pattern
from .errors import WorkbookError
from .graph import Block, Graph
from .inputs import Inputs
from .layout import BLOCK_LEFT, BLOCK_TOP, HEADER_ROW, LABEL_COL, PARAMS_SHEET, Layout, defined_name
from .refs import col_letter

Row = tuple[int, list[tuple[int, ooxml.Value, str]]]

_TAB = {"input": "FFD966", "forward": "5B9BD5", "backward": "ED7D31", "param": "70AD47"}


def write(path: Path, graph: Graph, inputs: Inputs, *, progress: bool = False, exercise: tuple[str, ...] = ()) -> Path:
    """Write the workbook to ``path`` atomically (a temporary file in the same folder, renamed).

    An interrupted write leaves whatever was at ``path`` before untouched. The ``exercise`` nodes'
    blocks are left empty, with the task written above them.
    """
    layout = Layout(inputs.n, inputs.d)
    total = sum(layout.rows(b) * layout.d for b in graph.blocks)
    with tqdm(total=total, unit="cell", disable=not progress, desc="build", leave=False) as bar:
        sheets = [_params_sheet(graph, inputs)]
        sheets += [_block_sheet(graph, block, inputs, layout, bar, block.name in exercise) for block in graph.blocks]
        names = {defined_name(b.name): layout.area(b).absolute() for b in graph.blocks}
        names |= {defined_name(p.name): layout.param_area(graph, p.name).absolute() for p in graph.params}
        if exercise:
            names[exercise_module.NAME] = exercise_module.stored(exercise)
        return _save_atomically(path, sheets, names, graph.title)


def _params_sheet(graph: Graph, inputs: Inputs) -> ooxml.Sheet:
    values = {"eps": inputs.eps}

    def rows() -> Iterator[Row]:
        yield 1, [(LABEL_COL, "parameters", "title")]
        yield 2, [(LABEL_COL, graph.title, "note")]
        for i, param in enumerate(graph.params):
            value = "=" + param.formula if param.formula else values.get(param.name, param.value)
            style = "forward" if param.formula else "param"
            yield BLOCK_TOP + i, [(LABEL_COL, param.name, "label"), (BLOCK_LEFT, value, style),
                                  (BLOCK_LEFT + 1, param.text, "note")]  # fmt: skip

    widths = {LABEL_COL: 12.0, BLOCK_LEFT: 14.0, BLOCK_LEFT + 1: 48.0}
    return ooxml.Sheet(PARAMS_SHEET, rows(), widths=widths, tab_color=_TAB["param"])


def _block_sheet(graph: Graph, block: Block, inputs: Inputs, layout: Layout, bar: tqdm, exercise: bool) -> ooxml.Sheet:
    kind = "input" if block.is_input else ("backward" if block.step.startswith("b") else "forward")
    widths = {LABEL_COL: 11.0} | {BLOCK_LEFT + j: 12.0 for j in range(layout.d)}
    return ooxml.Sheet(
        block.name,
        _block_rows(graph, block, inputs, layout, kind, bar, exercise),
        widths=widths,
        freeze=(BLOCK_TOP, BLOCK_LEFT),
        tab_color=_TAB[kind],
    )


def _block_rows(
    graph: Graph, block: Block, inputs: Inputs, layout: Layout, kind: str, bar: tqdm, exercise: bool
) -> Iterator[Row]:
    """The rows of one block sheet: notes above, feature labels, then the block itself."""
    shape = f"{'1' if block.is_row else 'N'}xD = {layout.rows(block)}x{layout.d}"
    if exercise:
        notes = exercise_module.task(block, graph, layout.area(block), shape)
    elif block.is_input:
        notes = [f"input {block.name}: {block.text}", f"shape {shape}; edit these numbers"]
    else:
        notes = [
            f"{block.step}  {block.name}: {block.text}",
            block.math,
            f"numpy: {block.numpy}",
            f"shape {shape}; reads {', '.join(block.reads)}",
            f"local rule: {block.rule}" if block.rule else "",
        ]
    for i, note in enumerate(notes):
        if note:
            yield 1 + i, [(LABEL_COL, note, "title" if i == 0 else "note")]
    yield HEADER_ROW, [(BLOCK_LEFT + j, f"feature {j + 1}", "label") for j in range(layout.d)]
    columns = [(BLOCK_LEFT + j, col_letter(BLOCK_LEFT + j)) for j in range(layout.d)]
    rows = layout.rows(block)
    labels = [block.name] if block.is_row else [f"sample {i + 1}" for i in range(rows)]
    values = inputs.arrays()[block.name] if block.is_input else None
    pattern = "" if block.is_input else cell_pattern(block, graph, layout)
    for i in range(rows):
        r = BLOCK_TOP + i
        label = (LABEL_COL, labels[i], "label")
        if values is not None:
            yield r, [label, *[(c, float(values[i, j]), kind) for j, (c, _) in enumerate(columns)]]
        elif exercise:
            yield r, [label, *[(c, None, kind) for c, _ in columns]]
        else:
            yield r, [label, *[(c, pattern.format(c=letters, r=r), kind) for c, letters in columns]]
        bar.update(layout.d)


def _save_atomically(path: Path, sheets: list[ooxml.Sheet], names: dict[str, str], title: str) -> Path:
    path = Path(path)
    folder = path.parent
    if not folder.is_dir():
        raise WorkbookError(f"{path}: the folder {folder} does not exist")
    try:
        handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise WorkbookError(f"{path}: cannot write in {folder} ({exc.strerror})") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            ooxml.write(stream, sheets, names, title)
        os.replace(temp, path)
    except OSError as exc:
        raise WorkbookError(f"{path}: cannot write ({exc.strerror})") from None
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return path
