"""The verify Report: one result per node, as a DataFrame, a text table or JSON."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..a1 import Area, quote_sheet
from ..model.graph import Graph
from ..tables import aligned
from ..version import __version__

if TYPE_CHECKING:
    import pandas as pd

    from .agreement import Difference

COLUMNS = [
    "node", "sheet", "shape", "cells", "max_abs_err", "max_rel_err",
    "status", "first_bad_cell", "expected", "got", "detail",
]  # fmt: skip

# The worst problem names the node's status: a missing block hides everything else.
# "disagree": each engine matches the reference, but two engines differ from each other.
# "stale": the values are right, but the file caches others that readers without recalculation show.
# "structure": the node's name points elsewhere, or its formula reads cells that are no input,
# parameter or node (SPEC §7).
# "overflow": the node's exact values (or those of a node it reads) leave float64's range, so its
# cells cannot be judged; only a missing block or error values where numbers belong say more.
# "not mapped": a block the map leaves out (SPEC §18): listed, not checked, not a failure.
NOT_MAPPED = "not mapped"
# The form of to_json (docs/verify-report.schema.json): keys may be added within a format; a key
# whose meaning or type changes raises it.
REPORT_FORMAT = 1
SEVERITY = [
    NOT_MAPPED,
    "ok",
    "disagree",
    "stale",
    "not filled",
    "constant",
    "structure",
    "mismatch",
    "overflow",
    "error",
    "missing",
]


@dataclass
class NodeResult:
    """What verify found for one node: errors against the reference and the first problem."""

    node: str
    sheet: str
    shape: str
    cells: int
    max_abs_err: float = math.nan
    max_rel_err: float = math.nan
    status: str = "ok"
    first_bad_cell: str | None = None
    expected: Any = None
    got: Any = None
    detail: str = ""

    @classmethod
    def start(cls, node: str, area: Area, expected: np.ndarray) -> NodeResult:
        rows, cols = expected.shape
        return cls(node=node, sheet=area.sheet, shape=f"{rows}x{cols}", cells=area.shape[0] * area.shape[1])

    def measure(self, err: np.ndarray, expected: np.ndarray) -> None:
        scale = float(np.max(np.abs(expected))) if expected.size else 0.0
        self.max_abs_err = float(np.max(err)) if err.size else 0.0
        self.max_rel_err = self.max_abs_err / scale if scale > 0 else self.max_abs_err

    def fail(self, status: str, address: str | None, expected: Any, got: Any, detail: str) -> NodeResult:
        """Record a problem; the most severe one seen names the status and the cell."""
        if SEVERITY.index(status) > SEVERITY.index(self.status):
            self.status = status
            self.first_bad_cell = f"{quote_sheet(self.sheet)}!{address}" if address else None
            self.expected, self.got = expected, got
            self.detail = detail
        else:
            self.detail = f"{self.detail}; {detail}" if self.detail else detail
        return self


@dataclass
class Report:
    """The outcome of verify: ``ok`` is True when every node matches and is properly filled."""

    path: Path
    engine: str
    results: list[NodeResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    # With several engines: each engine's status per result, and how far each pair of engines
    # is apart (agreement.pairwise).
    by_engine: dict[str, list[str]] = field(default_factory=dict)
    agreement: pd.DataFrame | None = None
    trials: int = 0  # hidden input sets checked besides the workbook's own (SPEC §7)
    seed: int | None = None  # they were drawn from
    causes: list[str] = field(default_factory=list)  # failing nodes furthest upstream (root_causes)
    mapped: bool = False  # a map said where the blocks sit (SPEC §18)

    @classmethod
    def combine(
        cls, path: Path, results: dict[str, list[NodeResult]], disagreements: dict[str, Difference],
        pairs: pd.DataFrame, notes: list[str],
    ) -> Report:  # fmt: skip
        """One report over several engines: per node the worst engine's result, with the largest
        errors of any engine, then ``disagree`` where engines differ from each other."""
        names = list(results)
        combined = []
        for rows in zip(*results.values(), strict=True):
            worst = max(rows, key=lambda r: SEVERITY.index(r.status))
            result = replace(worst)
            for column in ("max_abs_err", "max_rel_err"):
                errors = [getattr(r, column) for r in rows if not math.isnan(getattr(r, column))]
                setattr(result, column, max(errors, default=math.nan))
            difference = disagreements.get(result.node)
            if difference is not None:
                result.fail("disagree", difference.address, difference.got_a, difference.got_b, difference.detail())
            combined.append(result)
        by_engine = {name: [r.status for r in rows] for name, rows in results.items()}
        return cls(path, f"all: {', '.join(names)}", combined, notes, by_engine, pairs)

    @property
    def ok(self) -> bool:
        return all(r.status in ("ok", NOT_MAPPED) for r in self.results)

    @property
    def checked(self) -> list[NodeResult]:
        """The results of the blocks that were checked (all but those a map leaves out)."""
        return [r for r in self.results if r.status != NOT_MAPPED]

    @property
    def table(self) -> pd.DataFrame:
        import pandas as pd

        table = pd.DataFrame([asdict(r) for r in self.results], columns=COLUMNS)
        for name, statuses in self.by_engine.items():
            table[f"status_{name}"] = statuses
        return table

    def to_text(self) -> str:
        """A fixed-width table for a terminal, then one line per problem."""
        columns = ["node", "shape", "cells", "max_abs_err", "max_rel_err", "status"]
        columns += [f"status_{name}" for name in self.by_engine] + ["first_bad_cell"]
        rows = [
            [r.node, r.shape, str(r.cells), _number(r.max_abs_err), _number(r.max_rel_err), r.status]
            + [statuses[i] for statuses in self.by_engine.values()]
            + [r.first_bad_cell or ""]
            for i, r in enumerate(self.results)
            if r.status != NOT_MAPPED
        ]
        checked = f"; {self.trials} hidden trial(s), seed {self.seed}" if self.trials else "; no hidden trials"
        lines = [f"{self.path}  (engine: {self.engine}{checked})", aligned(columns, rows)]
        lines += [f"root cause: {cause}" for cause in self.causes]
        for r in self.checked:
            if r.status != "ok":
                where = f" at {r.first_bad_cell}" if r.first_bad_cell else ""
                lines.append(f"{r.node}: {r.status}{where}: expected {r.expected!r}, got {r.got!r} ({r.detail})")
        if self.agreement is not None:
            pairs = [
                [str(v) if column not in ("max_abs_diff", "max_rel_diff") else _number(v) for column, v in row.items()]
                for row in self.agreement.to_dict(orient="records")
            ]
            lines += ["engines against each other:", aligned(list(self.agreement.columns), pairs)]
        lines += [f"note: {note}" for note in self.notes]
        skipped = [r.node for r in self.results if r.status == NOT_MAPPED]
        if skipped:
            lines.append(f"not mapped, not checked ({len(skipped)}): {', '.join(skipped)}")
        looked_at = self.checked
        failed = sum(r.status != "ok" for r in looked_at)
        nodes = f"{len(looked_at)}{' mapped' if skipped else ''} nodes"
        lines.append(f"all {nodes} match" if failed == 0 else f"{failed} of {nodes} fail")
        return "\n".join(lines)

    def to_json(self) -> str:
        """The report as JSON, in the form docs/verify-report.schema.json fixes (report format 1)."""
        rows = [{k: _plain(v) for k, v in asdict(r).items()} for r in self.results]
        for i, row in enumerate(rows):
            row.update({f"status_{name}": statuses[i] for name, statuses in self.by_engine.items()})
        document: dict[str, Any] = {
            "report_format": REPORT_FORMAT, "bnsheet_version": __version__, "path": str(self.path),
            "engine": self.engine, "ok": self.ok, "trials": self.trials, "seed": self.seed,
            "mapped": self.mapped, "nodes": rows, "causes": self.causes,
        }  # fmt: skip
        if self.agreement is not None:
            records = self.agreement.to_dict(orient="records")
            document["agreement"] = [{k: _plain(v) for k, v in record.items()} for record in records]
        document["notes"] = self.notes
        return json.dumps(document, indent=2)

    def to_junit(self) -> str:
        """The report as JUnit XML, the form CI servers show: one testsuite for the workbook, one
        testcase per checked block (a ``failure`` with the problem line where it fails), and the
        blocks a map leaves out as ``skipped`` testcases (SPEC §18)."""
        from xml.etree import ElementTree as ET

        failed = [r for r in self.checked if r.status != "ok"]
        skipped = len(self.results) - len(self.checked)
        counts = {"tests": str(len(self.results)), "failures": str(len(failed)), "errors": "0", "skipped": str(skipped)}
        suites = ET.Element("testsuites", {"name": "bnsheet verify", **counts})
        suite = ET.SubElement(suites, "testsuite", {"name": f"bnsheet verify {self.path}", **counts})
        properties = ET.SubElement(suite, "properties")
        for name, value in (("path", self.path), ("engine", self.engine), ("trials", self.trials), ("seed", self.seed)):
            ET.SubElement(properties, "property", {"name": name, "value": str(value)})
        classname = f"bnsheet.{Path(self.path).stem}"
        for r in self.results:
            case = ET.SubElement(suite, "testcase", {"classname": classname, "name": r.node, "file": str(self.path)})
            if r.status == NOT_MAPPED:
                ET.SubElement(case, "skipped", {"message": "not mapped"})
            elif r.status != "ok":
                where = f" at {r.first_bad_cell}" if r.first_bad_cell else ""
                message = f"{r.node}: {r.status}{where}: expected {r.expected!r}, got {r.got!r} ({r.detail})"
                failure = ET.SubElement(case, "failure", {"type": r.status, "message": message})
                failure.text = message
        ET.SubElement(suite, "system-out").text = "\n".join(f"note: {note}" for note in self.notes + self.causes)
        ET.indent(suites)
        return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


def root_causes(results: list[NodeResult], graph: Graph) -> list[str]:
    """The failing nodes no other failing node lies upstream of, each with how many failing nodes
    lie downstream of it: where to look first when many fail. Empty when fewer than two fail.

    >>> from bnsheet.model.graph import load
    >>> failing = [NodeResult(name, name, "4x3", 12, status="mismatch") for name in ("xmu", "sq", "out")]
    >>> root_causes(failing, load())
    ['xmu fails; 2 node(s) downstream of it fail with it (sq, out)']
    """
    upstream = graph.upstream()
    failing = [r.node for r in results if r.status not in ("ok", NOT_MAPPED) and r.node in upstream]
    if len(failing) < 2:
        return []
    causes = []
    for root in failing:
        if upstream[root].isdisjoint(failing):
            downstream = [name for name in failing if root in upstream[name]]
            listed = f" ({', '.join(downstream[:5])}{', …' if len(downstream) > 5 else ''})" if downstream else ""
            causes.append(f"{root} fails; {len(downstream)} node(s) downstream of it fail with it{listed}")
    return causes


def _number(value: float) -> str:
    return "" if value is None or math.isnan(value) else f"{value:.1e}"


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
