"""Verify: recalculate a workbook with an engine, compare every node with the NumPy reference,
check that each block is one formula filled over it, and return a Report.

The file is only read. Inputs and parameters come from the workbook itself; cached values are
never trusted.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from .. import engines
from ..a1 import MAX_COLS, MAX_ROWS, Area, parse_area
from ..engines import libreoffice
from ..errors import WorkbookError
from ..layout import PARAMS_SHEET, Layout, defined_name
from ..model import checks, plots, trials
from ..model.graph import Block, Graph, load
from ..model.inputs import Inputs
from ..model.overflow import Overflow
from ..model.trials import variant
from ..reading import vetting
from ..reading.blockmap import Entry, Placement, by_map, by_names, load_map
from ..reading.blocks import check_input_shapes, read_inputs
from ..reading.stored import Fault, Stored
from ..reading.xlsx import XlsxFile
from ..values import ErrorValue, Values, all_floats
from ..writing import exercise
from ..writing.files import made_by_bnsheet
from . import agreement, faults, structure
from .expected import expected_nodes, expected_params, overflows, tolerances
from .report import NOT_MAPPED, NodeResult, Report, root_causes
from .second_process import Reading
from .stale import stale_fault


def verify(
    path: str | Path, engine: str | None = None, graph: Graph | None = None, *, progress: bool = False,
    trials: int | None = None, seed: int | None = None, blocks: Mapping[str, Entry] | str | Path | None = None,
) -> Report:  # fmt: skip
    """Recalculate ``path`` with ``engine`` (default: the fastest installed) and check every node,
    at the workbook's own inputs and at ``trials`` hidden input sets drawn from ``seed``.

    The file is vetted and its sheets are read in a second process while the engine recalculates
    (second_process.py); ``progress`` draws a bar on stderr. ``trials`` defaults to
    ``model.trials.default_count`` of the workbook's size, ``seed`` to a fresh random one (the
    report names it, so a failure can be repeated with it).

    ``engine="all"`` runs every installed engine: the report then has a status per engine and
    names any node where the engines disagree with each other.

    ``blocks`` says where the blocks sit in a workbook laid out by hand: a map (SPEC §18), as a
    dict (``{"x": "Sheet1!B3:D6", "out": "Sheet1!K3:M6", "eps": 1e-5}``) or the path of a TOML
    file; by default bnsheet's defined names say it. Nodes a map leaves out are ``not mapped``.

    >>> from bnsheet import build
    >>> report = verify(build("output/doctest-verify.xlsx"), seed=1)
    >>> report.ok, list(report.table.columns)[:3], report.trials, report.seed
    (True, ['node', 'sheet', 'shape'], 3, 1)
    """
    path = Path(path)
    if path.suffix.lower() == ".ods":
        return _verify_ods(path, engine, graph, progress=progress, trials=trials, seed=seed, blocks=blocks)
    graph = graph or load()
    names = engines.chosen(engine)
    seed = secrets.randbelow(1 << 31) if seed is None else seed
    with _open(path) as book, tqdm(disable=not progress, unit="step", leave=False) as bar:
        placement = _placement(book, graph, blocks)
        located = placement.areas
        areas = {name: area for name, area in located.items() if area is not None}
        check_input_shapes(path, graph, areas, placement.fixed)
        layout = Layout(*areas["x"].shape)
        wanted = list(areas.values())
        count = trials if trials is not None else trials_for(graph, layout)
        drawn = [replace(one, **placement.fixed) for one in _draw(layout, count, seed)]  # type: ignore[arg-type]
        variants = [variant(graph, areas, inputs) for inputs in drawn]
        checked = [*graph.nodes, *map(param_block, plots.names(graph) + checks.names(graph))]
        bar.reset(total=len(names) + 1 + len(checked))
        with Reading(path, wanted) as stored_side:
            runs: dict[str, list[Values]] = {}
            for name in names:
                bar.set_description(f"recalculate ({name}), read")
                runs[name] = engines.recalculate_each(name, path, wanted, variants, stored_side.vetted)
                bar.update()
            stored = stored_side.result()
            bar.update()
        inputs = read_inputs(path, graph, areas, stored, runs[names[0]][0], placement.fixed)
        sets = [_Set(graph, one) for one in (inputs, *drawn)]
        context = _Context(graph, layout, placement, stored, book, count, seed, path)
        results: dict[str, list[NodeResult]] = {name: [] for name in names}
        bar.set_description("check")
        for block in checked:
            bar.update()
            for name in names:
                results[name].append(context.check(block, runs[name], sets, engines_rounding=name))
        for name in names:
            results[name].extend(_check_params(graph, placement, stored, runs[name], sets, context, name))
        notes = context.notes(results[names[0]], sets[0])
        notes += faults.notes({name: run[0] for name, run in runs.items()}, areas, sets[0].expected)
    if len(names) == 1:
        causes = root_causes(results[names[0]], graph)
        return Report(
            path, names[0], results[names[0]], notes, trials=count, seed=seed, causes=causes, mapped=placement.mapped
        )
    node_areas = {
        block.name: areas[block.name]
        for block in graph.nodes
        if block.name in areas and block.name not in sets[0].overflowing
    }
    # a node that is all rounding (dx_diff) is measured against the node whose rounding it shows
    scales = {block.name: sets[0].expected[block.error_scale or block.name] for block in graph.nodes}
    first_runs = {name: run[0] for name, run in runs.items()}
    report = Report.combine(
        path, results, agreement.disagreements(first_runs, node_areas, sets[0].tolerance),
        agreement.pairwise(first_runs, node_areas, scales), notes,
    )  # fmt: skip
    report.trials, report.seed, report.causes = count, seed, root_causes(report.results, graph)
    report.mapped = placement.mapped
    return report


def _verify_ods(path: Path, engine: str | None, graph: Graph | None, **options: Any) -> Report:
    """Verify of an .ods workbook: of the .xlsx LibreOffice converts it to (SPEC §18), with the
    .ods named in the report and in messages instead of the converted copy."""
    with libreoffice.xlsx_of_ods(path) as converted:
        report = verify(converted, engine, graph, **options)
    report.path = path
    for result in report.results:
        result.detail = result.detail.replace(str(converted), str(path))
    report.notes = [note.replace(str(converted), str(path)) for note in report.notes]
    return report


def _placement(book: XlsxFile, graph: Graph, blocks: Mapping[str, Entry] | str | Path | None) -> Placement:
    """Where the blocks sit: by the defined names, or by the map ``blocks`` (a dict or a TOML file)."""
    if blocks is None:
        return by_names(book, graph)
    if isinstance(blocks, (str, Path)):
        return by_map(book, graph, load_map(blocks), str(blocks))
    return by_map(book, graph, blocks, "blocks")


def trials_for(graph: Graph, layout: Layout) -> int:
    """The default number of hidden trials for a workbook of this size (model.trials)."""
    cells = sum(layout.rows(block) * layout.d for block in graph.nodes)
    return trials.default_count(cells)


def _draw(layout: Layout, count: int, seed: int) -> list[Inputs]:
    if count < 0:
        raise WorkbookError(f"--trials must be 0 or more, got {count}")
    return trials.draw((layout.n, layout.d), count, seed)


@dataclass
class _Set:
    """One input set verify checks at (the workbook's own, or a trial): what each block should
    hold there and how far from it an engine may land."""

    inputs: Inputs
    expected: dict[str, np.ndarray]
    tolerance: dict[str, np.ndarray]
    overflowing: dict[str, Overflow]
    params: dict[str, tuple[float, float]]  # a formula parameter's value and allowance

    def __init__(self, graph: Graph, inputs: Inputs) -> None:
        self.inputs = inputs
        self.expected = expected_nodes(inputs, graph)
        self.tolerance = tolerances(inputs, self.expected, graph)
        self.overflowing = overflows(inputs, self.expected, graph)
        self.params = expected_params(inputs)


@dataclass
class _Context:
    """What checking a block needs beside its values: the workbook's structure and the trials."""

    graph: Graph
    layout: Layout
    placement: Placement
    stored: Mapping[Area, Stored]
    book: XlsxFile
    count: int
    seed: int
    path: Path

    def __post_init__(self) -> None:
        self.located = self.placement.areas
        self.known = [area for area in self.located.values() if area is not None]
        self.allowed_names = {defined_name(name).lower() for name in self.located}
        if self.placement.mapped:  # the workbook's own names, where they point at mapped blocks
            self.allowed_names |= {
                name.lower() for name, target in self.book.names.items()
                if (area := parse_area(target)) is not None and any(_inside(area, k) for k in self.known)
            }  # fmt: skip
        self.ours = made_by_bnsheet(self.path)
        self.unlike_template: list[str] = []

    def check(self, block: Block, runs: Sequence[Values], sets: Sequence[_Set], engines_rounding: str) -> NodeResult:
        """The block at the workbook's inputs, then at each trial, then its structure."""
        if block.name in self.placement.unmapped:
            return _not_mapped(block.name, block.shape)
        area = self.located[block.name]
        if area is None:
            return _missing(block, self.book)
        if block.name in sets[0].overflowing:
            return _overflow(block, area, runs[0][area], sets[0].overflowing[block.name])
        stored = self.stored[area]

        def at(k: int) -> NodeResult:
            expected = sets[k].expected[block.name]
            allowed = sets[k].tolerance[block.name] + engines.rounding(engines_rounding, expected)
            return _check_block(block, area, runs[k][area], expected, allowed)

        result = at(0)
        faults = self._faults(block, area, stored, runs[0][area], sets[0].tolerance[block.name])
        for k in range(1, len(sets)) if result.status == "ok" and not faults else ():
            if block.name in sets[k].overflowing:  # trials are drawn far inside float64's range
                continue
            trial = at(k)
            if trial.status != "ok":
                trial.detail = (
                    f"right at the workbook's own inputs, wrong at hidden trial {k} of {self.count}: "
                    f"{trial.detail} (seed {self.seed}: bnsheet verify {self.path} --seed {self.seed} repeats it)"
                )
                result = trial
                break
        for fault in faults:
            result.fail(*fault)
        return result

    def _faults(
        self, block: Block, area: Area, stored: Stored, values: np.ndarray, tolerance: np.ndarray
    ) -> list[Fault]:
        faults = [stored.fault, stale_fault(stored, values, tolerance)]
        mapped = self.placement.mapped  # a map's workbook follows no layout of bnsheet's (§18)
        # a plot or check table may read its own sheet's labels besides the blocks (bin numbers)
        table = block.formula == "param"
        readable = [*self.known, Area(area.sheet, 1, 1, MAX_ROWS, MAX_COLS)] if table else self.known
        if stored.fault is None:  # one formula filled: its first cell says what the block reads
            computed = self._computed if mapped and not table else None
            faults.append(structure.reads_fault(stored, readable, self.book.names, self.allowed_names, computed))
        if not table:
            if not mapped:
                faults.append(structure.placement_fault(block, area, self.layout, self.book.hidden))
            if self.ours and not mapped and area == self.layout.area(block):
                template = structure.template_formula(block, self.graph, self.layout)
                if structure.differs_from_template(stored, template):
                    self.unlike_template.append(f"{block.name} (template: {template})")
        return [fault for fault in faults if fault is not None]

    def _computed(self, sheet: str, extent: Area) -> bool:
        """Whether every number stored in ``extent`` outside the mapped blocks is a formula's: in
        a mapped workbook, a block the map leaves out (an intermediate), which the trials move
        with the inputs. Text (a label in a column read whole) is no number in disguise."""
        if sheet not in self.book.sheet_names:
            return False
        mapped = [k for k in self.known if k.sheet == sheet]
        return not any(
            type(cell.value) is float and not cell.has_formula
            for (row, col), cell in self.book.cells(sheet).items()
            if extent.top <= row <= extent.bottom and extent.left <= col <= extent.right
            and not any(k.top <= row <= k.bottom and k.left <= col <= k.right for k in mapped)
        )  # fmt: skip

    def notes(self, results: list[NodeResult], own: _Set) -> list[str]:
        notes = []
        recorded = exercise.recorded(self.book.names)
        if recorded:
            notes.append(
                f"this is an exercise workbook (the learner fills {', '.join(recorded)}): "
                f"grade it with bnsheet grade {self.path}"
            )
        passing = {r.node for r in results if r.status == "ok"}
        differing = [text for text in self.unlike_template if text.split(" ", 1)[0] in passing]
        if differing:
            notes.append(
                "formulas unlike the template's that compute the same at every input set: " + "; ".join(differing)
            )
        return notes + structure.hidden_sheets(self.book.hidden)


def _open(path: Path) -> XlsxFile:
    """The workbook opened for its names; a file that cannot be opened gets vet's word on why."""
    try:
        return XlsxFile(path)
    except WorkbookError:
        vetting.vet(path)
        raise


def _check_block(block: Block, area: Area, got: np.ndarray, expected: np.ndarray, tolerance: np.ndarray) -> NodeResult:
    """The block's values against the reference."""
    result = NodeResult.start(block.name, area, expected)
    if area.shape != expected.shape:
        return result.fail(
            "missing", area.address(0, 0), f"{expected.shape[0]}x{expected.shape[1]} block",
            f"{area.shape[0]}x{area.shape[1]} block", "the block has the wrong shape",
        )  # fmt: skip
    all_numbers = all_floats(got)  # the common case: no look at each cell
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
    return result


def _inside(area: Area, known: Area) -> bool:
    return (
        area.sheet == known.sheet
        and known.top <= area.top
        and area.bottom <= known.bottom
        and (known.left <= area.left and area.right <= known.right)
    )


def _not_mapped(name: str, shape: str) -> NodeResult:
    """A block the map leaves out: listed, not checked, not a failure."""
    return NodeResult(name, "", shape, 0, status=NOT_MAPPED, detail="not in the map; not checked")


def _overflow(block: Block, area: Area, got: np.ndarray, where: Overflow) -> NodeResult:
    """A node verify cannot judge: its values, or those of a node it reads, leave float64's range."""
    result = NodeResult(node=block.name, sheet=area.sheet, shape=f"{area.shape[0]}x{area.shape[1]}", cells=got.size)
    if where.source != block.name:
        what = "float64 cannot bound" if where.unbounded else "overflows float64"
        detail = f"reads {where.source}, which {what} at {where.cell}"
        return result.fail("overflow", area.address(0, 0), f"computed from {where.source}", got[0, 0], detail)
    i, j = where.at
    wanted = "a number float64 cannot bound" if where.unbounded else "beyond ±1.8e308"
    return result.fail("overflow", area.address(i, j), wanted, got[i, j], where.line())


def _missing(block: Block, book: XlsxFile) -> NodeResult:
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
    graph: Graph, placement: Placement, stored: Mapping[Area, Stored], runs: Sequence[Values],
    sets: Sequence[_Set], context: _Context, engine: str,
) -> list[NodeResult]:  # fmt: skip
    """Parameters that are formulas (bn_n = ROWS(bn_x)) must compute what the inputs say, at every
    input set, within the rounding of one operation and what the engine stores."""
    results = []
    for param in graph.params:
        if param.formula is None or param.name not in sets[0].params:
            continue
        if param.name in placement.unmapped:
            results.append(_not_mapped(param.name, "1x1"))
            continue
        area = placement.areas[param.name]
        if area is None:
            result = NodeResult(node=param.name, sheet=PARAMS_SHEET, shape="1x1", cells=0)
            detail = f"the defined name {defined_name(param.name)} is missing"
            results.append(result.fail("missing", None, "a parameter cell", None, detail))
            continue
        block = param_block(param.name)
        for k, one in enumerate(sets):
            value, allowance = one.params[param.name]
            expected = np.array([[value]])
            allowed = allowance + engines.rounding(engine, expected)
            result = _check_block(block, area, runs[k][area], expected, allowed)
            if result.status != "ok":
                if k:
                    result.detail += f" at hidden trial {k} of {context.count} (seed {context.seed})"
                break
        own = np.array([sets[0].params[param.name][1]])
        for fault in (stored[area].fault, stale_fault(stored[area], runs[0][area], own)):
            if fault is not None:
                result.fail(*fault)
        results.append(result)
    return results


def param_block(name: str) -> Block:
    """A parameter cell or a plot table seen as a block, so it is checked like a node."""
    return Block(name=name, shape="1x1", text="", formula="param")
