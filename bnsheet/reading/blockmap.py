"""Where each block sits in a workbook, as verify is told it: by bnsheet's defined names (SPEC §4),
or by a map the user writes for a workbook laid out by hand (SPEC §18).

A map names, for any subset of the graph's inputs, parameters, nodes and plot tables, the range
that holds it (``x = "Sheet1!B3:D6"``); a value parameter may be a number instead (``eps = 1e-5``).
Both sources give a :class:`Placement`, which is all verify knows of where things are.

>>> from bnsheet.model.graph import load
>>> entries = parse_map('x = "Sheet1!B3:D6"\\neps = 1e-5\\nmean = "Sheet1!F3:H3"', "MAP.toml")
>>> sorted(entries), entries["eps"]
(['eps', 'mean', 'x'], 1e-05)
>>> sorted(needs(load(), ["xmu", "ivar"]))
['eps', 'x']
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..a1 import Area, parse_area, quote_sheet
from ..errors import InputError
from ..layout import NAME_PREFIX, Layout
from ..model import checks, plots
from ..model.graph import Graph
from ..model.inputs import DEFAULT_EPS, DEFAULT_LR, DEFAULT_MOMENTUM
from .blocks import locate
from .xlsx import XlsxFile

# What a map holds: a range as text, or a number for a value parameter.
Entry = str | float

# Stand-ins for inputs and parameters no mapped node reads (so none of them changes a checked
# number): the reference needs every input to run at all.
_STAND_IN_PARAMS = {"eps": DEFAULT_EPS, "momentum": DEFAULT_MOMENTUM, "unbiased": 0.0, "lr": DEFAULT_LR}
_PARAM_NAME = re.compile(re.escape(NAME_PREFIX) + r"([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class Placement:
    """Where verify finds each block and parameter of one workbook.

    ``areas``: every name verify checks, with its area (None where a defined name or its sheet is
    missing: a ``missing`` row). ``fixed``: inputs and value parameters that have no cells —
    numbers a map gives, and stand-ins for what no mapped node reads; the trials keep them as they
    are. ``unmapped``: names a map leaves out, skipped (``not mapped`` rows). ``mapped``: the
    places come from a map, so nothing is assumed of bnsheet's own layout (§11).
    """

    areas: dict[str, Area | None]
    fixed: dict[str, np.ndarray | float] = field(default_factory=dict)
    unmapped: frozenset[str] = frozenset()
    mapped: bool = False


def by_names(book: XlsxFile, graph: Graph) -> Placement:
    """The places bnsheet's defined names give (``bn_x`` → ``'x'!$C$7:$E$10``, …)."""
    return Placement(locate(book, graph))


def load_map(path: str | Path) -> dict[str, Entry]:
    """The entries of a TOML map file; an InputError of one line for a file that is no map."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such map file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a map file") from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a map: the file is not UTF-8 text") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the map ({exc.strerror})") from None
    return parse_map(text, str(path))


def parse_map(text: str, source: str) -> dict[str, Entry]:
    """The entries of map text; ``source`` names it in messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{source}: not valid TOML: {exc}") from None
    return entries_of(data, source)


def entries_of(data: Mapping[str, object], source: str) -> dict[str, Entry]:
    """Check that every value is a range (text) or a number."""
    entries: dict[str, Entry] = {}
    for name, value in data.items():
        if isinstance(value, str):
            entries[name] = value
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            entries[name] = float(value)
        else:
            raise InputError(
                f'{source}: {name} must be a range such as "Sheet1!B3:D6" (or a number, for a parameter), got {value!r}'
            )
    return entries


def needs(graph: Graph, names: Iterable[str]) -> set[str]:
    """The inputs and value parameters the blocks ``names`` are computed from, x always among them."""
    upstream = graph.upstream()
    param_reads = {p.name: set(_PARAM_NAME.findall(p.formula)) for p in graph.params if p.formula}
    plot_reads = set(graph.plots.blocks).union(*(upstream.get(b, set()) for b in graph.plots.blocks))
    found: set[str] = {"x"}
    todo = list(names)
    while todo:
        name = todo.pop()
        reads = upstream.get(name) or param_reads.get(name) or (plot_reads if name.startswith("plot_") else set())
        for read in reads - found:
            found.add(read)
            todo.append(read)
    inputs = {b.name for b in graph.inputs}
    values = {p.name for p in graph.params if p.formula is None}
    return found & (inputs | values)


def by_map(book: XlsxFile, graph: Graph, entries: Mapping[str, Entry], source: str) -> Placement:
    """The places a map gives, checked: every name known, every range on a sheet the workbook has
    and of the shape its block needs (as x's), and every input and parameter the mapped blocks
    need mapped. Each problem is an InputError of one line naming ``source`` and the entry."""
    _check_names(graph, entries, source)
    areas: dict[str, Area] = {}
    fixed: dict[str, np.ndarray | float] = {}
    for name, entry in entries.items():
        if isinstance(entry, float):
            if name not in _STAND_IN_PARAMS:
                raise InputError(f"{source}: {name} = {entry!r}: only eps, momentum, unbiased and lr may be numbers")
            fixed[name] = entry
        else:
            areas[name] = _area(book, source, name, entry)
    rows = _check_shapes(graph, areas, entries, source)
    d = areas["x"].shape[1]
    tables = plots.names(graph) + checks.names(graph)
    checked = [b.name for b in graph.nodes] + tables + [p.name for p in graph.params if p.formula]
    mapped_nodes = [name for name in checked if name in areas]
    if not mapped_nodes:
        raise InputError(f'{source}: maps no node, so there is nothing to check; add a node, as out = "Sheet1!K3:M6"')
    for need in sorted(needs(graph, mapped_nodes) - set(entries)):
        readers = [name for name in mapped_nodes if need in needs(graph, [name])]
        example = '"Sheet1!B1" or a number' if need in _STAND_IN_PARAMS else '"Sheet1!B3:D3"'
        example = '"Sheet1!B3:D6"' if rows.get(need, 1) > 1 else example
        listed = ", ".join(readers[:4]) + (", …" if len(readers) > 4 else "")
        reads = "reads" if len(readers) == 1 else "read"
        raise InputError(f"{source}: {need} is not mapped, and {listed} {reads} it; add {need} = {example}")
    for block in graph.inputs:
        if block.name not in areas:
            fixed[block.name] = (np.ones if block.name == "running_var" else np.zeros)((rows[block.name], d))
    for name, value in _STAND_IN_PARAMS.items():
        if name not in areas:
            fixed.setdefault(name, value)
    unmapped = frozenset(name for name in checked if name not in areas)
    return Placement(dict(areas), fixed, unmapped, mapped=True)


def _check_names(graph: Graph, entries: Mapping[str, Entry], source: str) -> None:
    known = [b.name for b in graph.blocks] + [p.name for p in graph.params] + plots.names(graph) + checks.names(graph)
    for name in entries:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise InputError(f"{source}: {name!r} is none of the graph's inputs, parameters or nodes{hint}")
    if "x" not in entries:
        raise InputError(f'{source}: x is not mapped; every map needs x, the N×D batch (x = "Sheet1!B3:D6")')


def _check_shapes(graph: Graph, areas: Mapping[str, Area], entries: Mapping[str, Entry], source: str) -> dict[str, int]:
    """Every block (N or 1)×D as x's, every parameter one cell; the rows of each block by name."""
    n, d = areas["x"].shape
    if n < 2:
        raise InputError(f"{source}: x = {entries['x']!r} is one row; the batch needs N of at least 2 rows")
    rows = {b.name: 1 if b.is_row else n for b in graph.blocks}
    # the checks' tables have the shapes their layout gives at this N and D (some read feature 1 only)
    fixed = {b.name: b.area.shape for b in checks.layout(graph, Layout(n, d)).blocks}
    for name, area in areas.items():
        if name in fixed:
            want, what = fixed[name], f"{fixed[name][0]}x{fixed[name][1]} (at this x's N and D)"
        elif name in rows:
            want, what = (rows[name], d), f"{rows[name]}x{d} ({'1xD' if rows[name] == 1 else 'NxD'}, D from x)"
        elif name in (p.name for p in graph.params):
            want, what = (1, 1), "one cell"
        else:  # a plot table: as many rows as it has
            want, what = (area.shape[0], d), f"{d} columns wide (D from x)"
        if area.shape != want:
            shape = f"{area.shape[0]}x{area.shape[1]}"
            raise InputError(f"{source}: {name} = {entries[name]!r} is {shape}; {name} is {what}")
    return rows


def _area(book: XlsxFile, source: str, name: str, text: str) -> Area:
    area = parse_area(text)
    if area is None:
        raise InputError(
            f'{source}: {name} = {text!r} is not a range; write the sheet and the cells, as "Sheet1!B3:D6" '
            "(quote a sheet name with spaces: \"'My sheet'!B3:D6\")"
        )
    if area.sheet not in book.sheet_names:
        listed = ", ".join(quote_sheet(s) for s in book.sheet_names)
        missing = quote_sheet(area.sheet)
        raise InputError(f"{source}: {name} = {text!r}: the workbook has no sheet {missing} (its sheets: {listed})")
    return area
