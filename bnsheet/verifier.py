"""Verify: recalculate a workbook with an engine, compare every node with the NumPy reference,
check that each block is one formula filled over it, and return a Report.

The file is only read. Inputs and parameters come from the workbook itself; cached values are
never trusted.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import agreement, engines, plots, reference, safety
from .errors import WorkbookError
from .graph import Block, Graph, load
from .inputs import Inputs
from .layout import PARAMS_SHEET, defined_name
from .refs import Area, filled, from_r1c1, parse_area, to_r1c1
from .report import NodeResult, Report
from .xlsx import CellValue, ErrorValue, Grid, XlsxFile

RTOL = 1e-12  # of the node's largest magnitude: summation order and 15-digit storage stay far below
NOISE_FACTOR = 100.0  # times the rounding noise estimated for each cell (see _noise)


def verify(
    path: str | Path, engine: str | None = None, graph: Graph | None = None, *, progress: bool = False
) -> Report:
    """Recalculate ``path`` with ``engine`` (default: the fastest installed) and check every node.

    The sheets are read while the engine recalculates; ``progress`` draws a bar on stderr.

    ``engine="all"`` runs every installed engine: the report then has a status per engine and
    names any node where the engines disagree with each other.

    >>> from bnsheet import build
    >>> report = verify(build("output/doctest-verify.xlsx"))
    >>> report.ok, list(report.table.columns)[:3]
    (True, ['node', 'sheet', 'shape'])
    """
    graph = graph or load()
    names = engines.chosen(engine)
    safety.vet(path)
    with XlsxFile(path) as book, tqdm(disable=not progress, unit="sheet", leave=False) as bar:
        located = locate(book, graph)
        areas = {name: area for name, area in located.items() if area is not None}
        sheets = list(dict.fromkeys(area.sheet for area in areas.values()))
        checked = [*graph.nodes, *map(param_block, plots.names(graph))]
        bar.reset(total=len(sheets) + len(names) + len(checked))
        runs, grids, faults = _recalculate_while_reading(book, names, Path(path), list(areas.values()), sheets, bar)
        values = runs[names[0]]
        inputs = read_inputs(book, graph, areas, values)
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
                    _check_block(block, area, runs[name][area], expected[block.name], allowed, faults[area])
                )
            stale.check(grids[area], values[area], tolerance[block.name])
        for name in names:
            results[name].extend(_check_params(graph, located, book, runs[name], inputs))
    notes = stale.notes()
    if len(names) == 1:
        return Report(path=Path(path), engine=names[0], results=results[names[0]], notes=notes)
    node_areas = {block.name: areas[block.name] for block in graph.nodes if block.name in areas}
    # a node that is all rounding (dx_diff) is measured against the node whose rounding it shows
    scales = {block.name: expected[block.error_scale or block.name] for block in graph.nodes}
    return Report.combine(
        Path(path), results, agreement.disagreements(runs, node_areas, tolerance),
        agreement.pairwise(runs, node_areas, scales), notes,
    )  # fmt: skip


def _recalculate_while_reading(
    book: XlsxFile, names: list[str], path: Path, areas: list[Area], sheets: list[str], bar: tqdm
) -> tuple[dict[str, engines.Values], dict[Area, Grid], dict[Area, Fault | None]]:
    """Each engine's values, and the stored cells of each area with what is wrong with its
    formulas, read meanwhile in another thread. Reading starts when the first engine computes
    outside Python (engines.recalculate), so that the two do not take turns at Python. The engines
    run in this thread, so that Ctrl-C reaches them and they stop their applications."""

    def read() -> tuple[dict[Area, Grid], dict[Area, Fault | None]]:
        grids: dict[Area, Grid] = {}
        for sheet in sheets:
            grids |= {area: book.grid(area) for area in areas if area.sheet == sheet}
            bar.update()
        return grids, {area: formula_fault(grid) for area, grid in grids.items()}

    with ThreadPoolExecutor(max_workers=1) as pool:
        reading: list[Future[tuple[dict[Area, Grid], dict[Area, Fault | None]]]] = []

        def computing() -> None:
            if not reading:
                reading.append(pool.submit(read))

        bar.set_description(f"read, recalculate ({', '.join(names)})")
        runs = {name: engines.recalculate(name, path, areas, computing) for name in names}
        bar.update(len(names))
        computing()
        return runs, *reading[0].result()


class StaleCaches:
    """Cached values in the file that differ from what the engine recalculated.

    Verify never uses them, but a file whose caches are stale shows wrong numbers in readers that
    do not recalculate (pandas, previews), so the report says so.
    """

    DIGITS = 15  # applications store caches with as few as 15 significant digits

    def __init__(self) -> None:
        self.cells = 0
        self.first: tuple[str, CellValue, object] | None = None

    def check(self, grid: Grid, recalculated: np.ndarray, tolerance: np.ndarray) -> None:
        area = grid.area
        if not grid.cached:
            return
        cached = np.full(area.shape, np.nan)
        got = np.full(area.shape, np.nan)
        stale = np.zeros(area.shape, dtype=bool)
        formulas = [(i, j) for i, row in enumerate(grid.formulas) for j, text in enumerate(row) if text is not None]
        kept = [(i, j, value) for i, j in formulas if (value := grid.value(i, j)) is not None]
        for i, j, a in kept:
            b = recalculated[i, j]
            if isinstance(a, float) and isinstance(b, float):
                cached[i, j], got[i, j] = a, b
            elif not (isinstance(a, ErrorValue) and isinstance(b, ErrorValue)):
                stale[i, j] = a != b
        stale |= np.abs(cached - got) > tolerance + engines.half_unit(np.nan_to_num(got), self.DIGITS)
        if stale.any():
            self.cells += int(stale.sum())
            if self.first is None:
                i, j = np.argwhere(stale)[0]
                self.first = (f"'{area.sheet}'!{area.address(i, j)}", grid.value(i, j), recalculated[i, j])

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


def read_inputs(book: XlsxFile, graph: Graph, areas: dict[str, Area], values: engines.Values) -> Inputs:
    """The template's inputs and set parameters as the workbook holds them (stored numbers, bit for bit)."""
    arrays: dict[str, np.ndarray] = {}
    for block in graph.inputs:
        area = areas.get(block.name)
        if area is None:
            raise WorkbookError(
                f"{book.path}: input {block.name} is missing (sheet '{block.name}' or name "
                f"{defined_name(block.name)}); verify needs it"
            )
        arrays[block.name] = _numbers(book, book.grid(area), values.get(area))
    scalars: dict[str, float] = {}
    for param in graph.params:
        if param.formula is not None:
            continue
        area = areas.get(param.name)
        if area is None:
            raise WorkbookError(f"{book.path}: parameter {param.name} is missing (name {defined_name(param.name)})")
        scalars[param.name] = float(_numbers(book, book.grid(area), values.get(area))[0, 0])
    x = arrays["x"]
    for block in graph.inputs:
        array = arrays[block.name]
        want = (1 if block.is_row else x.shape[0], x.shape[1])
        if array.shape != want:
            raise WorkbookError(
                f"{book.path}: input {block.name} is {array.shape[0]}x{array.shape[1]}, x needs it {want[0]}x{want[1]}"
            )
    return Inputs(**arrays, **scalars)  # type: ignore[arg-type]


def _numbers(book: XlsxFile, grid: Grid, recalculated: np.ndarray | None) -> np.ndarray:
    """Numbers of an input block: the stored number, or the engine's value where a formula stands."""
    area = grid.area
    out = np.empty(area.shape, dtype=np.float64)
    for i, j in np.ndindex(area.shape):
        formula = grid.formulas[i][j] is not None
        value: object = grid.value(i, j) if not formula else None
        if formula and recalculated is not None:
            value = recalculated[i, j]
        if isinstance(value, bool) or not isinstance(value, float) or not np.isfinite(value):
            where = f"'{area.sheet}'!{area.address(i, j)}"
            raise WorkbookError(f"{book.path}: input cell {where} holds {value!r}, not a number")
        out[i, j] = value
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


# A problem with a block's formulas, as NodeResult.fail takes it: status, cell, expected, got, detail.
Fault = tuple[str, str, object, object, str]


def formula_fault(grid: Grid) -> Fault | None:
    """Every cell must hold a formula, and all must be the block's one formula, filled; None if so."""
    area, formulas = grid.area, grid.formulas
    if not all(text is not None for row in formulas for text in row):
        i, j = next((i, j) for i, row in enumerate(formulas) for j, text in enumerate(row) if text is None)
        return "constant", area.address(i, j), "a formula", grid.value(i, j), "a value stands where a formula belongs"
    if _one_formula_filled(area, formulas):  # type: ignore[arg-type]  # no None left
        return None
    forms = {(i, j): _form(text, area.top + i, area.left + j) for i, row in enumerate(formulas)
             for j, text in enumerate(row) if text is not None}  # fmt: skip
    block_form = Counter(forms.values()).most_common(1)[0][0]
    odd = [(i, j) for (i, j), form in forms.items() if form != block_form]
    i, j = odd[0]
    return (
        "not filled",
        area.address(i, j),
        _shown(from_r1c1(block_form, area.top + i, area.left + j)),
        _shown(formulas[i][j] or ""),
        f"{len(odd)} cell(s) differ from the block's formula; it is not one formula filled over the block",
    )


def _one_formula_filled(area: Area, formulas: list[list[str]]) -> bool:
    """True when every cell holds the first cell's formula filled to its place.

    The text is compared first, a row at a time (the R1C1 form of a million cells is slow to work
    out); only a cell whose text differs, e.g. written in lower case, has its R1C1 form compared.
    """
    form = _form(formulas[0][0], area.top, area.left)
    if form.startswith("{"):
        return all(text == form for row in formulas for text in row)
    rows, cols = range(area.top, area.bottom + 1), range(area.left, area.right + 1)
    for row, (r, expected) in zip(formulas, zip(rows, filled(form, rows, cols), strict=True), strict=True):
        if row != expected and any(
            text != want and _form(text, r, c) != form for c, text, want in zip(cols, row, expected, strict=True)
        ):
            return False
    return True


def _form(text: str, row: int, col: int) -> str:
    """The relative (R1C1) form of a cell's formula text; an array formula ({=…}) stands for its
    whole range as it is."""
    return text if text.startswith("{") else to_r1c1(text, row, col)


def _shown(text: str) -> str:
    """A formula as a spreadsheet shows it: ``=…``, or ``{=…}`` for an array formula."""
    return text if text.startswith("{") else "=" + text


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
    graph: Graph, located: dict[str, Area | None], book: XlsxFile, values: engines.Values,
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
                                    np.zeros((1, 1)) + 1e-300, formula_fault(book.grid(area))))  # fmt: skip
    return results


def param_block(name: str) -> Block:
    """A parameter cell or a plot table seen as a block, so it is checked like a node."""
    return Block(name=name, shape="1x1", text="", formula="param")
