"""Verify: recalculate a workbook with an engine, compare every node with the NumPy reference,
check that each block is one formula filled over it, and return a Report.

The file is only read. Inputs and parameters come from the workbook itself; cached values are
never trusted.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import agreement, engines, plots, reference, safety
from .errors import WorkbookError
from .graph import Block, Graph, load
from .inputs import Inputs, param_problem
from .layout import PARAMS_SHEET, defined_name
from .refs import Area, parse_area, quote_sheet
from .report import NodeResult, Report
from .stored import Fault, Reading, Stored
from .xlsx import CellValue, ErrorValue, XlsxFile

RTOL = 1e-12  # of the node's largest magnitude: summation order and 15-digit storage stay far below
NOISE_FACTOR = 100.0  # times the rounding noise estimated for each cell (see _noise)


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
            runs: dict[str, engines.Values] = {}
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
        safety.vet(path)
        raise


class StaleCaches:
    """Cached values in the file that differ from what the engine recalculated.

    Verify never uses them, but a file whose caches are stale shows wrong numbers in readers that
    do not recalculate (pandas, previews), so the report says so.
    """

    DIGITS = 15  # applications store caches with as few as 15 significant digits

    def __init__(self) -> None:
        self.cells = 0
        self.first: tuple[str, CellValue, object] | None = None

    def check(self, stored: Stored, recalculated: np.ndarray, tolerance: np.ndarray) -> None:
        if not stored.cached:
            return
        area = stored.area
        numeric = stored.formulas & ~np.isnan(stored.numbers)
        cached = np.where(numeric, stored.numbers, np.nan)
        got = np.full(area.shape, np.nan)
        stale = np.zeros(area.shape, dtype=bool)
        for i, j in zip(*np.nonzero(numeric), strict=True):
            value = recalculated[i, j]
            if type(value) is float:
                got[i, j] = value
            else:
                stale[i, j] = True  # a number was cached where the engine finds none
        for (i, j), kept in stored.others.items():
            value = recalculated[i, j]
            if stored.formulas[i, j] and not (isinstance(kept, ErrorValue) and isinstance(value, ErrorValue)):
                stale[i, j] = kept != value
        stale |= np.abs(cached - got) > tolerance + engines.half_unit(np.nan_to_num(got), self.DIGITS)
        if stale.any():
            self.cells += int(stale.sum())
            if self.first is None:
                i, j = np.argwhere(stale)[0]
                self.first = (f"{quote_sheet(area.sheet)}!{area.address(i, j)}", stored.value(i, j), recalculated[i, j])

    def notes(self) -> list[str]:
        if self.first is None:
            return []
        where, cached, got = self.first
        return [
            f"stale cached values: {self.cells} formula cell(s) stored a value that differs from the "
            f"recalculated one (first {where}: cached {cached!r}, recalculated {got!r}); verify used "
            "the recalculated values"
        ]


def locate(book: XlsxFile, graph: Graph) -> dict[str, Area | None]:
    """Each block's and parameter's area by its defined name; None where name or sheet is missing."""
    located: dict[str, Area | None] = {}
    for name in [b.name for b in graph.blocks] + [p.name for p in graph.params] + plots.names(graph):
        target = book.names.get(defined_name(name))
        area = parse_area(target) if target else None
        located[name] = area if area is not None and area.sheet in book.sheet_names else None
    return located


def read_inputs(
    path: Path, graph: Graph, areas: dict[str, Area], stored: Mapping[Area, Stored], values: engines.Values
) -> Inputs:
    """The template's inputs and set parameters as the workbook holds them (stored numbers, bit
    for bit); ``stored`` holds at least their areas (see :func:`stored_inputs`)."""
    arrays: dict[str, np.ndarray] = {}
    for block in graph.inputs:
        area = areas.get(block.name)
        if area is None:
            raise WorkbookError(
                f"{path}: input {block.name} is missing (sheet '{block.name}' or name "
                f"{defined_name(block.name)}); verify needs it"
            )
        arrays[block.name] = _numbers(path, stored[area], values.get(area))
    scalars: dict[str, float] = {}
    for param in graph.params:
        if param.formula is not None:
            continue
        area = areas.get(param.name)
        if area is None:
            raise WorkbookError(f"{path}: parameter {param.name} is missing (name {defined_name(param.name)})")
        scalars[param.name] = float(_numbers(path, stored[area], values.get(area))[0, 0])
        problem = param_problem(param.name, scalars[param.name])
        if problem:
            raise WorkbookError(f"{path}: {quote_sheet(area.sheet)}!{area.address(0, 0)}: {problem}")
    x = arrays["x"]
    for block in graph.inputs:
        array = arrays[block.name]
        want = (1 if block.is_row else x.shape[0], x.shape[1])
        if array.shape != want:
            raise WorkbookError(
                f"{path}: input {block.name} is {array.shape[0]}x{array.shape[1]}, x needs it {want[0]}x{want[1]}"
            )
    return Inputs(**arrays, **scalars)  # type: ignore[arg-type]


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


def expected_nodes(inputs: Inputs, graph: Graph | None = None) -> dict[str, np.ndarray]:
    """Every node's value by the NumPy reference, and with ``graph`` every plot table's too."""
    params = inputs.params()
    values = reference.nodes(
        **inputs.arrays(), eps=params["eps"], momentum=params["momentum"], unbiased=bool(params["unbiased"]),
        lr=params["lr"],
    )  # fmt: skip
    return values if graph is None else values | plots.expected(graph, values)


def tolerances(inputs: Inputs, expected: dict[str, np.ndarray], graph: Graph | None = None) -> dict[str, np.ndarray]:
    """Per cell of ``expected`` (``expected_nodes(inputs, graph)``): RTOL of the node's largest
    magnitude plus NOISE_FACTOR times its rounding noise.

    A node that is all rounding (dx_diff, staged minus compact dx) names in the template the node
    whose rounding it shows (``error_scale``), and takes that node's tolerance. A histogram count
    may be off by the values that lie within rounding of its bin's edges (``plots.count_slack``).
    """
    noise = _noise(inputs, expected, graph)
    tolerance = {}
    for name, value in expected.items():
        scale = float(np.max(np.abs(value))) if value.size else 0.0
        tolerance[name] = RTOL * scale + NOISE_FACTOR * noise[name] + 1e-300
    if graph is None:
        return tolerance
    for block in graph.nodes:
        if block.error_scale and block.name in tolerance:
            tolerance[block.name] = np.maximum(tolerance[block.name], tolerance[block.error_scale])
    for name, measured in plots.error_scales(graph).items():
        if name in tolerance:
            tolerance[name] = np.maximum(tolerance[name], tolerance[measured].max(axis=0, keepdims=True))
    if "plot_edges" in tolerance:
        for name, slack in plots.count_slack(graph, expected, tolerance).items():
            tolerance[name] = np.maximum(tolerance[name], slack)
    return tolerance


def _noise(inputs: Inputs, base: dict[str, np.ndarray], graph: Graph | None, trials: int = 4) -> dict[str, np.ndarray]:
    """How far each cell moves when every input is nudged by a few units in the last place.

    Engines round in a different order than NumPy (sums, powers); where a node cancels (x minus
    its mean in a constant column), those last bits are all there is. Nudging the inputs shows,
    cell by cell, how much such rounding can move the result. ``base`` is the reference at the
    inputs themselves, ``expected_nodes(inputs, graph)``.
    """
    rng = np.random.default_rng(12345)
    noise = {name: np.zeros_like(value) for name, value in base.items()}

    def nudge(value: np.ndarray) -> np.ndarray:
        return value * (1 + rng.choice([-1.0, 1.0], size=value.shape) * 2.0**-50)

    for _ in range(trials):
        arrays = {name: nudge(value) for name, value in inputs.arrays().items()}
        nudged = replace(inputs, **arrays, eps=inputs.eps * (1 + 2.0**-50))  # type: ignore[arg-type]
        for name, value in expected_nodes(nudged, graph).items():
            noise[name] = np.maximum(noise[name], np.abs(value - base[name]))
    return noise


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
    graph: Graph, located: dict[str, Area | None], stored: Mapping[Area, Stored], values: engines.Values,
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
