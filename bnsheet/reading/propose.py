"""A first map for a workbook laid out by hand (``bnsheet map``, SPEC §18): where each block seems
to sit, from the workbook's defined names or its labels, written as TOML for the user to check.

A block is placed by a defined name (``bn_x`` or ``x``) or by a label: a text cell naming it
(``x``, ``out:``, any case) with a block of numbers or formulas right below it or right of it. A
label's block runs as far as its cells are filled, and is cut to the shape the block needs (N or
1 rows, D columns, as x's). What cannot be placed is listed in comments.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from ..a1 import Area, parse_area
from ..model import checks, plots
from ..model.graph import Graph
from .blockmap import needs
from .xlsx import Cells, XlsxFile

_VALUE_PARAMS = ("eps", "momentum", "unbiased", "lr")


@dataclass(frozen=True)
class _Found:
    area: Area
    how: str  # what placed it, for the comment beside it


def propose(book: XlsxFile, graph: Graph) -> str:
    """The proposed map of ``book`` as TOML text: one line per placed block with how it was found,
    then the graph's blocks it could not place as comments.

    >>> from bnsheet import build
    >>> from bnsheet.model.graph import load
    >>> with XlsxFile(build("output/doctest-propose.xlsx")) as book:
    ...     print(propose(book, load()).splitlines()[3])
    x = "'x'!C7:E10"  # defined name bn_x
    """
    names = [b.name for b in graph.inputs] + [p.name for p in graph.params] + [b.name for b in graph.nodes]
    names += plots.names(graph) + checks.names(graph)
    labels = dict(_labels(book, set(names)))
    found: dict[str, _Found] = {}
    x = _by_name(book, "x") or _by_label(book, labels.get("x"), None)
    if x is not None:
        found["x"] = x
    shape = x.area.shape if x is not None else None
    for name in names:
        if name == "x" or shape is None:
            continue
        want = _want(graph, name, shape)
        placed = _by_name(book, name) or _by_label(book, labels.get(name), want)
        if placed is not None and (want is None or placed.area.shape == want):
            found[name] = placed
    return _toml(book, graph, names, found, labels)


def _want(graph: Graph, name: str, shape: tuple[int, int]) -> tuple[int, int] | None:
    n, d = shape
    for block in graph.blocks:
        if block.name == name:
            return (1 if block.is_row else n, d)
    if name in (p.name for p in graph.params):
        return (1, 1)
    return None  # a plot table: as many rows as its labels give


def _by_name(book: XlsxFile, name: str) -> _Found | None:
    for defined in (f"bn_{name}", name):
        target = next((t for n, t in book.names.items() if n.lower() == defined.lower()), None)
        area = parse_area(target) if target else None
        if area is not None and area.sheet in book.sheet_names:
            return _Found(area, f"defined name {defined}")
    return None


def _labels(book: XlsxFile, names: set[str]) -> Iterator[tuple[str, tuple[str, int, int]]]:
    """(name, (sheet, row, col)) of each text cell that names a block: the first such cell of each."""
    seen: set[str] = set()
    for sheet in book.sheet_names:
        for (row, col), cell in sorted(book.cells(sheet).items()):
            if isinstance(cell.value, str) and not cell.has_formula:
                label = cell.value.strip().rstrip(":").strip().lower()
                if label in names and label not in seen:
                    seen.add(label)
                    yield label, (sheet, row, col)


def _by_label(book: XlsxFile, label: tuple[str, int, int] | None, want: tuple[int, int] | None) -> _Found | None:
    """The block below the label, or else right of it, cut to ``want`` (None: as far as it runs)."""
    if label is None:
        return None
    sheet, row, col = label
    cells = book.cells(sheet)
    for where, top, left in (("below", row + 1, col), ("right of", row, col + 1)):
        rows, cols = _extent(cells, top, left)
        if want is not None:
            if rows < want[0] or cols < want[1]:
                continue
            rows, cols = want
        if rows and cols:
            area = Area(sheet, top, left, top + rows - 1, left + cols - 1)
            corner = Area(sheet, row, col, row, col).text
            return _Found(area, f"{where} the label at {corner}")
    return None


def _filled(cells: Cells, row: int, col: int) -> bool:
    cell = cells.get((row, col))
    return cell is not None and (cell.has_formula or type(cell.value) is float)


def _extent(cells: Cells, top: int, left: int) -> tuple[int, int]:
    """How many rows and columns of filled cells (numbers or formulas) run from (top, left)."""
    cols = 0
    while _filled(cells, top, left + cols):
        cols += 1
    rows = 0
    while cols and all(_filled(cells, top + rows, left + j) for j in range(cols)):
        rows += 1
    return rows, cols


def _toml(
    book: XlsxFile, graph: Graph, names: list[str], found: dict[str, _Found], labels: dict[str, tuple[str, int, int]]
) -> str:
    lines = [
        f"# bnsheet map of {book.path.name}: where each block sits. Check every range, then run",
        f"#   bnsheet verify {book.path.name} --map THIS_FILE",
        "# A parameter may also be a number (eps = 1e-5). Blocks left out are not checked.",
    ]
    lines += [f'{name} = "{found[name].area.text}"  # {found[name].how}' for name in names if name in found]
    missing_inputs = sorted(needs(graph, [n for n in found if n not in _VALUE_PARAMS]) - set(found))
    for name in missing_inputs:
        example = "1e-05" if name in _VALUE_PARAMS else '"Sheet1!B3:D3"'
        lines.append(f"# {name} = {example}  # needed by the blocks above, not found: give its cells or its value")
    unplaced = [name for name in names if name not in found and name not in missing_inputs and name != "x"]
    if "x" not in found:
        lines.append('# x = "Sheet1!B3:D6"  # not found: every map needs x, the N×D batch')
    for name in unplaced:
        label = labels.get(name)
        if label is not None:
            at = Area(label[0], label[1], label[2], label[1], label[2]).text
            lines.append(f"# {name}: a label at {at}, but no block of the right shape below or right of it")
    nowhere = [name for name in unplaced if name not in labels]
    if nowhere:
        lines.append(f"# not placed (no defined name or label): {', '.join(nowhere)}")
    return "\n".join(lines) + "\n"
