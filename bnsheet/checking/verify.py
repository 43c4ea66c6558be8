"""Verify: recalculate a workbook with an engine, compare every node with the NumPy reference,
check that each block is one formula filled over it, and return a Report.

The file is only read. Inputs and parameters come from the workbook itself; cached values are
never trusted.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from tqdm import tqdm

from .. import engines
from ..a1 import Area, parse_area
from ..errors import WorkbookError
from ..layout import PARAMS_SHEET, defined_name
from ..model import plots
from ..model.graph import Block, Graph, load
from ..model.inputs import Inputs
from ..reading import vetting
from ..reading.blocks import locate, read_inputs
from ..reading.stored import Fault, Stored
from ..reading.xlsx import XlsxFile
from ..values import ErrorValue, Values
from . import agreement
from .expected import expected_nodes, tolerances
from .report import NodeResult, Report
from .second_process import Reading
from .stale import StaleCaches


def verify(
    path: str | Path, engine: str | None = None, graph: Graph | None = None, *, progress: bool = False
) -> Report:
    """Recalculate ``path`` with ``engine`` (default: the fastest installed) and check every node.

    The file is vetted and its sheets are read in a second process while the engine recalculates
    (stored.py); ``progress`` draws a bar on stderr.

    ``engine="all"`` runs every installed engine: the report then has a status per engine and
    names any node where the engines disagree with each other.

    >>> from bnsheet import build
    >>> report = verify(build("output/doctest-verify.xlsx"))
    >>> report.ok, list(report.table.columns)[:3]
    (True, ['node', 'sheet', 'shape'])
    """
    graph = graph or load()
    names = engines.chosen(engine)
    path = Path(path)
    with _open(path) as book, tqdm(disable=not progress, unit="step", leave=False) as bar:
        located = locate(book, graph)
        areas = {name: area for name, area in located.items() if area is not None}
        wanted = list(areas.values())
        checked = [*graph.nodes, *map(param_block, plots.names(graph))]
        bar.reset(total=len(names) + 1 + len(checked))
        with Reading(path, wanted) as stored_side:
            runs: dict[str, Values] = {}
            for name in names:
                bar.set_description(f"recalculate ({name}), read")
                runs[name] = engines.recalculate(name, path, wanted, stored_side.vetted)
                bar.update()
            stored = stored_side.result()
            bar.update()
        values = runs[names[0]]
        inputs = read_inputs(path, graph, areas, stored, values)
        expected = expected_nodes(inputs, graph)
        tolerance = tolerances(inputs, expected, graph)
        results: dict[str, list[NodeResult]] = {name: [] for name in names}
        stale = StaleCaches()
        bar.set_description("check")
        for block in checked:
            bar.update()
            area = located[block.name]
            if area is None:
                for name in names:
                    results[name].append(_missing(block, book, graph))
                continue
            for name in names:
                allowed = tolerance[block.name] + engines.rounding(name, expected[block.name])
                results[name].append(
                    _check_block(block, area, runs[name][area], expected[block.name], allowed, stored[area].fault)
                )
            stale.check(stored[area], values[area], tolerance[block.name])
        for name in names:
            results[name].extend(_check_params(graph, located, stored, runs[name], inputs))
    notes = stale.notes()
    if len(names) == 1:
        return Report(path=path, engine=names[0], results=results[names[0]], notes=notes)
    node_areas = {block.name: areas[block.name] for block in graph.nodes if block.name in areas}
    # a node that is all rounding (dx_diff) is measured against the node whose rounding it shows
    scales = {block.name: expected[block.error_scale or block.name] for block in graph.nodes}
    return Report.combine(
        path, results, agreement.disagreements(runs, node_areas, tolerance),
        agreement.pairwise(runs, node_areas, scales), notes,
    )  # fmt: skip


def _open(path: Path) -> XlsxFile:
    """The workbook opened for its names; a file that cannot be opened gets vet's word on why."""
    try:
        return XlsxFile(path)
    except WorkbookError:
        vetting.vet(path)
        raise


def _check_block(
    block: Block, area: Area, got: np.ndarray, expected: np.ndarray, tolerance: np.ndarray, fault: Fault | None
) -> NodeResult:
    """The block's values against the reference, and ``fault``, what is wrong with its formulas."""
    result = NodeResult.start(block.name, area, expected)
    if area.shape != expected.shape:
        return result.fail(
            "missing", area.address(0, 0), f"{expected.shape[0]}x{expected.shape[1]} block",
            f"{area.shape[0]}x{area.shape[1]} block", "the block has the wrong shape",
        )  # fmt: skip
    all_numbers = all(type(value) is float for value in got.flat)  # the common case: no look at each cell
    numbers = got.astype(np.float64) if all_numbers else np.zeros(expected.shape)
    for i, j in np.ndindex((0, 0) if all_numbers else expected.shape):
        value = got[i, j]
        if isinstance(value, ErrorValue) or not isinstance(value, float):
            what = "an error value" if isinstance(value, ErrorValue) else "not a number"
            if value is None:
                what = "empty"
            result.fail("error", area.address(i, j), float(expected[i, j]), value, f"the cell is {what}")
            break
        numbers[i, j] = value
    if result.status == "ok":
        err = np.abs(numbers - expected)
        result.measure(err, expected)
        bad = np.argwhere(err > tolerance)
        if bad.size:
            i, j = bad[0]
            result.fail(
                "mismatch", area.address(i, j), float(expected[i, j]), float(numbers[i, j]),
                f"{len(bad)} of {expected.size} cells differ from the reference",
            )  # fmt: skip
    if fault is not None:
        result.fail(*fault)
    return result


def _missing(block: Block, book: XlsxFile, graph: Graph) -> NodeResult:
    name = defined_name(block.name)
    target = book.names.get(name)
    if target is None:
        detail = f"the defined name {name} is missing"
    elif parse_area(target) is None:
        detail = f"the defined name {name} points to {target}, not a block"
    else:
        detail = f"the sheet '{block.name}' is missing"
    result = NodeResult(node=block.name, sheet=block.name, shape=block.shape, cells=0)
    return result.fail("missing", None, "a sheet with its block", None, detail)


def _check_params(
    graph: Graph, located: dict[str, Area | None], stored: Mapping[Area, Stored], values: Values,
    inputs: Inputs,
) -> list[NodeResult]:  # fmt: skip
    """Parameters that are formulas (bn_n = ROWS(bn_x)) must compute what the inputs say."""
    known = {"n": float(inputs.n), "var_correction": inputs.n / (inputs.n - 1) if inputs.unbiased else 1.0}
    results = []
    for param in graph.params:
        if param.formula is None or param.name not in known:
            continue
        area = located[param.name]
        if area is None:
            result = NodeResult(node=param.name, sheet=PARAMS_SHEET, shape="1x1", cells=0)
            results.append(
                result.fail(
                    "missing",
                    None,
                    "a parameter cell",
                    None,
                    f"the defined name {defined_name(param.name)} is missing",
                )
            )
            continue
        expected = np.array([[known[param.name]]])
        results.append(_check_block(param_block(param.name), area, values[area], expected,
                                    np.zeros((1, 1)) + 1e-300, stored[area].fault))  # fmt: skip
    return results


def param_block(name: str) -> Block:
    """A parameter cell or a plot table seen as a block, so it is checked like a node."""
    return Block(name=name, shape="1x1", text="", formula="param")
