"""Finding the blocks of a workbook by their defined names (SPEC §4) and reading its inputs and
parameters back, bit for bit, as the reference needs them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..a1 import Area, parse_area, quote_sheet
from ..errors import WorkbookError
from ..layout import defined_name
from ..model import checks, plots
from ..model.graph import Graph
from ..model.inputs import Inputs, param_problem
from ..values import Values
from .stored import Stored
from .xlsx import XlsxFile


def locate(book: XlsxFile, graph: Graph) -> dict[str, Area | None]:
    """Each block's and parameter's area by its defined name; None where name or sheet is missing."""
    located: dict[str, Area | None] = {}
    for name in (
        [b.name for b in graph.blocks] + [p.name for p in graph.params] + plots.names(graph) + checks.names(graph)
    ):
        target = book.names.get(defined_name(name))
        area = parse_area(target) if target else None
        located[name] = area if area is not None and area.sheet in book.sheet_names else None
    return located


def read_inputs(
    path: Path, graph: Graph, areas: dict[str, Area], stored: Mapping[Area, Stored], values: Values,
    fixed: Mapping[str, np.ndarray | float] | None = None,
) -> Inputs:  # fmt: skip
    """The template's inputs and set parameters as the workbook holds them (stored numbers, bit
    for bit); ``stored`` holds at least their areas (see :func:`stored_inputs`). Those in ``fixed``
    (a map's numbers, blockmap.Placement) have no cells and are taken as given."""
    fixed = fixed or {}
    check_input_shapes(path, graph, areas, fixed)
    arrays = {
        block.name: np.asarray(fixed[block.name]) if block.name in fixed
        else _numbers(path, stored[areas[block.name]], values.get(areas[block.name]))
        for block in graph.inputs
    }  # fmt: skip
    scalars: dict[str, float] = {}
    for param in graph.params:
        if param.formula is not None:
            continue
        if param.name in fixed:
            scalars[param.name] = float(fixed[param.name])
            problem = param_problem(param.name, scalars[param.name])
            if problem:
                raise WorkbookError(f"{path}: the map's {param.name}: {problem}")
            continue
        area = areas.get(param.name)
        if area is None:
            raise WorkbookError(f"{path}: parameter {param.name} is missing (name {defined_name(param.name)})")
        scalars[param.name] = float(_numbers(path, stored[area], values.get(area))[0, 0])
        problem = param_problem(param.name, scalars[param.name])
        if problem:
            raise WorkbookError(f"{path}: {quote_sheet(area.sheet)}!{area.address(0, 0)}: {problem}")
    return Inputs(**arrays, **scalars)  # type: ignore[arg-type]


def check_input_shapes(
    path: Path, graph: Graph, areas: Mapping[str, Area], fixed: Mapping[str, object] | None = None
) -> None:
    """Every input must be there (or ``fixed``), N×D like x or 1×D (a row), and every set parameter one cell."""
    fixed = fixed or {}
    for block in graph.inputs:
        if block.name not in areas and block.name not in fixed:
            raise WorkbookError(
                f"{path}: input {block.name} is missing (sheet '{block.name}' or name "
                f"{defined_name(block.name)}); verify needs it"
            )
    n, d = areas["x"].shape
    for block in graph.inputs:
        if block.name in fixed:
            continue
        rows, cols = areas[block.name].shape
        want = (1 if block.is_row else n, d)
        if (rows, cols) != want:
            raise WorkbookError(f"{path}: input {block.name} is {rows}x{cols}, x needs it {want[0]}x{want[1]}")
    for param in graph.params:
        area = areas.get(param.name)
        if param.formula is None and area is not None and area.shape != (1, 1):
            raise WorkbookError(f"{path}: parameter {param.name} is {area.text}, not one cell")


def stored_inputs(book: XlsxFile, graph: Graph, areas: dict[str, Area]) -> dict[Area, Stored]:
    """The inputs' and parameters' areas as ``book`` stores them, for :func:`read_inputs`."""
    names = [block.name for block in graph.inputs] + [param.name for param in graph.params]
    return {areas[name]: Stored.of(book.grid(areas[name])) for name in names if name in areas}


def _numbers(path: Path, stored: Stored, recalculated: np.ndarray | None) -> np.ndarray:
    """Numbers of an input block: the stored number, or the engine's value where a formula stands."""
    out = np.where(stored.formulas, np.nan, stored.numbers)
    held: dict[tuple[int, int], object] = {}  # what a formula cell holds, where not a number
    for i, j in zip(*np.nonzero(stored.formulas), strict=True):
        value = recalculated[i, j] if recalculated is not None else None
        if type(value) is float:
            out[i, j] = value
        else:
            held[(i, j)] = value
    bad = np.argwhere(~np.isfinite(out))
    if bad.size:
        i, j = (int(k) for k in bad[0])
        value = held[(i, j)] if stored.formulas[i, j] else stored.value(i, j)
        where = f"{quote_sheet(stored.area.sheet)}!{stored.area.address(i, j)}"
        raise WorkbookError(
            f"{path}: input cell {where} " + ("is empty" if value is None else f"holds {value!r}, not a number")
        )
    return out
