"""Other engines' opinions of a graded file (``grade --engine all``): each installed engine
recalculates the file as it is, at its own inputs, and each exercise block is judged from its
numbers; where the engines' verdicts differ, the learner's screen depends on the application.

The grade itself is the default engine's, with its hidden trials and its rounds of substitution;
the opinions are the verdicts at the file's own inputs only, without trials and without wrong
blocks replaced upstream (what a learner sees in that application), every engine's the same way,
the default engine's too, so that they compare like with like. A correct node on which an engine
disagrees becomes ``app-dependent``; any other keeps its status. Each node records every engine's
opinion (``NodeGrade.engines``).

LibreOffice recalculates all files in one run (its start-up, most of its cost on a small
workbook, paid once); the other engines one file at a time.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from .. import engines
from ..a1 import Area
from ..engines import libreoffice
from ..engines.substitute import substitute
from ..errors import BnsheetError
from ..model.graph import Graph
from ..reading.blocks import locate, read_inputs, stored_inputs
from ..reading.xlsx import XlsxFile
from ..values import Values
from ..writing import exercise as exercise_module
from .judge import Judge
from .portability import APP_DEPENDENT

# Engines whose values for COLUMN(C7) of one cell are a circular reference: they get the folded copy.
_FOLDED_FOR = ("formualizer", "formulas")
Opinions = dict[str, str]  # engine: status of one node


def others(primary: str) -> list[str]:
    """The installed engines besides ``primary``, in the order of engines.NAMES."""
    return [name for name in engines.installed() if name != primary]


def areas_of(path: Path, graph: Graph) -> tuple[dict[str, Area], list[str]]:
    """The inputs', parameters' and exercise nodes' areas of a (vetted) file, and the exercise nodes."""
    with XlsxFile(path) as book:
        located = {name: area for name, area in locate(book, graph).items() if area is not None}
        chosen = exercise_module.recorded(book.names) or tuple(b.name for b in graph.nodes)
    names = [b.name for b in graph.nodes if b.name in chosen and b.name in located]
    wanted = {b.name for b in graph.inputs} | {p.name for p in graph.params} | set(names)
    return {name: area for name, area in located.items() if name in wanted}, names


def statuses(path: Path, values: Values, engine: str, graph: Graph) -> dict[str, str]:
    """Each exercise node's verdict from ``values``, one recalculation of ``path`` as it is by
    ``engine``: at the file's own inputs, no trials, nothing replaced; a block that reads itself
    through other sheets is ``error`` whatever the engine shows, as in grade."""
    areas, names = areas_of(path, graph)
    with XlsxFile(path) as book:
        judge = Judge(book, graph, areas, engine)
        judge.expect(read_inputs(path, graph, areas, stored_inputs(book, graph, areas), values))
        ancestors = judge.ancestors(names)
        found = {}
        for name in names:
            verdict = judge(name, [values[areas[name]]])
            circular = name in ancestors[name] and verdict.status not in ("error", "empty")
            found[name] = "error" if circular else verdict.status
    return found


def reads(path: Path, graph: Graph) -> dict[str, list[str]]:
    """The exercise blocks each exercise block reads, directly or through others, by the graph
    and the learner's own references (a compact dx reads dgamma)."""
    areas, names = areas_of(path, graph)
    with XlsxFile(path) as book:
        ancestors = Judge(book, graph, areas).ancestors(names)
    return {name: [other for other in names if other in ancestors[name] and other != name] for name in names}


def one_file(path: Path, names: Sequence[str], graph: Graph) -> dict[str, dict[str, str]]:
    """The verdicts of the engines ``names`` on one vetted .xlsx file, by engine (LibreOffice is
    asked for a class's files at once: :func:`many_files`); an engine that cannot compute the file
    gives every node ``error``."""
    areas, nodes = areas_of(path, graph)
    found: dict[str, dict[str, str]] = {}
    with tempfile.TemporaryDirectory(prefix="bnsheet-opinions-") as folder:
        folded: Path | None = None
        for name in names:
            target = path
            if name in _FOLDED_FOR:
                folded = folded or _folded(path, graph, areas, nodes, Path(folder))
                target = folded
            try:
                values = engines.recalculate(name, target, list(areas.values()))
            except BnsheetError:
                found[name] = dict.fromkeys(nodes, "error")
                continue
            found[name] = statuses(path, values, name, graph)
    return found


def many_files(paths: Sequence[Path], graph: Graph) -> list[dict[str, str] | None]:
    """LibreOffice's verdicts on vetted files, all recalculated in one run (None for a file it
    could not save; if the run fails, each file is tried on its own)."""
    placed = [areas_of(path, graph) for path in paths]
    try:
        runs: Sequence[Values | None] = libreoffice.recalculate_files(paths, [list(a.values()) for a, _ in placed])
    except BnsheetError:
        runs = [_alone(path, list(a.values())) for path, (a, _) in zip(paths, placed, strict=True)]
    return [
        None if values is None else statuses(path, values, libreoffice.NAME, graph)
        for path, values in zip(paths, runs, strict=True)
    ]


def _alone(path: Path, areas: list[Area]) -> Values | None:
    try:
        return engines.recalculate(libreoffice.NAME, path, areas)
    except BnsheetError:
        return None


def _folded(path: Path, graph: Graph, areas: Mapping[str, Area], nodes: list[str], folder: Path) -> Path:
    """The file with COLUMN(C7)-style positions folded into numbers, where its blocks have any."""
    with XlsxFile(path) as book:
        sheets = Judge(book, graph, dict(areas)).positions(nodes)
        return substitute(book, folder / "folded.xlsx", {}, sheets) if sheets else path


def disagree(opinions: Mapping[str, str]) -> bool:
    return len(set(opinions.values())) > 1


def weigh(status: str, opinions: Mapping[str, str], upstream: Sequence[str] = ()) -> tuple[str, str]:
    """A node's status and a note, given every engine's opinion: a correct node on which the
    engines disagree is app-dependent, unless a block it reads (``upstream``, those on which the
    engines disagree too) explains it; any other status stays, with the note.

    >>> weigh("correct", {"formualizer": "correct", "libreoffice": "wrong"})
    ('app-dependent', "engines disagree at the file's own inputs: formualizer correct, libreoffice wrong")
    >>> weigh("correct", {"formualizer": "correct", "libreoffice": "wrong"}, ["dgamma"])[0]
    'correct'
    >>> weigh("correct", {"formualizer": "correct", "gnumeric": "correct"})
    ('correct', '')
    """
    if not disagree(opinions):
        return status, ""
    said = ", ".join(f"{name} {verdict}" for name, verdict in opinions.items())
    note = f"engines disagree at the file's own inputs: {said}"
    if upstream:
        return status, f"{note} (as they do on {', '.join(upstream)}, which it reads)"
    return (APP_DEPENDENT if status == "correct" else status), note
