"""How large a workbook will be, worked out from its layout before anything is written, so that
build refuses what verify would refuse (bnsheet/limits.py): its unpacked bytes, the cells of its
largest sheet and of all sheets.

The bytes are an upper bound: every cell is counted with the longest address, formula and value
its block can hold. tests/test_limits.py holds it above what the writer writes, and within a
fifth of it.
"""

from __future__ import annotations

from ..a1 import col_letter
from ..errors import InputError
from ..layout import BLOCK_LEFT, BLOCK_TOP, Layout
from ..limits import problem
from ..model import checks, plots
from ..model.graph import Graph
from .compile import cell_pattern

VALUE = len("-1.2345678901234567e-100")  # the longest repr of a finite double
_FORMULA_CELL = len('<c r="" s="000"><f></f><v></v></c>')
_NUMBER_CELL = len('<c r="" s="000"><v></v></c>')
_LABEL_CELL = len('<c r="" s="000" t="s"><v>0000000</v></c>')
_ROW = len('<row r=""></row>')
_STRING = len("<si><t></t></si>") + 3 * 16  # a label such as "sample 12345", in UTF-8 (Japanese: 3 bytes a character)
_NOTES = 24  # cells above a block: links, titles, notes, feature labels (the feature labels are counted apart)
_FIXED = 1 << 20  # graph and params sheets, styles, theme, charts and drawings: far below this
_FRONT_CELLS = 1000  # the graph sheet's cells, whatever the size: about 160


def estimate(graph: Graph, layout: Layout) -> tuple[int, int, int]:
    """(unpacked bytes, cells of the largest sheet, cells of all sheets) of the workbook bnsheet
    writes for ``graph`` at ``layout``; the bytes never less than the writer's."""
    last_row = BLOCK_TOP + layout.n - 1
    last_col = col_letter(BLOCK_LEFT + layout.d - 1)
    address = len(last_col) + len(str(last_row))
    row_bytes = _ROW + len(str(last_row)) + _LABEL_CELL + 1 + len(str(last_row))
    unpacked = _FIXED + (layout.n + layout.d) * _STRING
    largest = total = 0
    for block in graph.blocks:
        rows = layout.rows(block)
        if block.is_input:
            cell = _NUMBER_CELL + address + VALUE
        else:
            formula = cell_pattern(block, graph, layout).format(c=last_col, r=last_row)
            cell = _FORMULA_CELL + address + len(formula) + VALUE
        unpacked += rows * (row_bytes + layout.d * cell) + layout.d * (_LABEL_CELL + address)
        cells = rows * (layout.d + 1) + layout.d + _NOTES
        largest, total = max(largest, cells), total + cells
    for table in (plots.layout(graph, layout), checks.layout(graph, layout)):  # a sheet each
        table_cells = _NOTES + layout.d
        for plot in table.blocks:
            rows, cols = plot.area.shape
            formula = plot.formula(plot.area.bottom, plot.area.right).replace("&", "&amp;").replace("<", "&lt;")
            unpacked += rows * (row_bytes + cols * (_FORMULA_CELL + address + len(formula) + VALUE))
            table_cells += rows * (cols + 1) + 1
        largest, total = max(largest, table_cells), total + table_cells
    return unpacked, max(largest, _FRONT_CELLS), total + _FRONT_CELLS


def check(graph: Graph, layout: Layout) -> None:
    """Refuse, with the one-line reason, a workbook verify would not read."""
    reason = problem(*estimate(graph, layout))
    if reason is not None:
        raise InputError(
            f"{layout.n}x{layout.d}: {reason}, so it could not be verified; build a smaller one "
            "(up to about 9 million formula cells: 2048x256 builds and verifies)"
        )
