"""Engines compared with each other: where two engines that recalculated the same workbook
give different values for a node, beyond what the verifier's tolerance allows.

The reference tells whether each engine is right; this tells whether the engines agree, which
is what "the file computes the same in Excel, LibreOffice and Gnumeric" rests on.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from typing import TYPE_CHECKING

import numpy as np

from .. import engines
from ..a1 import Area
from ..values import ErrorValue, Values

if TYPE_CHECKING:
    import pandas as pd

PAIR_COLUMNS = ["engine_a", "engine_b", "cells", "max_abs_diff", "max_rel_diff"]


@dataclass
class Difference:
    """The first cell of a node where two engines differ, and how many cells do."""

    node: str
    address: str
    engine_a: str
    engine_b: str
    got_a: object
    got_b: object
    cells: int

    def detail(self) -> str:
        return (
            f"engines disagree in {self.cells} cell(s): {self.engine_a} gives {self.got_a!r}, "
            f"{self.engine_b} gives {self.got_b!r}"
        )


def disagreements(
    runs: dict[str, Values], areas: dict[str, Area], tolerance: dict[str, np.ndarray]
) -> dict[str, Difference]:
    """Per node, the first pair of engines that disagree beyond ``tolerance`` (plus what each
    engine's stored digits allow). Two error values agree whatever their codes (#NUM! in one
    application is #VALUE! in another); an error and a number do not."""
    found: dict[str, Difference] = {}
    for node, area in areas.items():
        if node not in tolerance:
            continue
        for a, b in combinations(runs, 2):
            got_a, got_b = runs[a][area], runs[b][area]
            allowed = tolerance[node] + engines.rounding(a, numbers(got_a)) + engines.rounding(b, numbers(got_b))
            differs = [(i, j) for i, j in np.ndindex(area.shape) if _differ(got_a[i, j], got_b[i, j], allowed[i, j])]
            if differs:
                i, j = differs[0]
                found[node] = Difference(node, area.address(i, j), a, b, got_a[i, j], got_b[i, j], len(differs))
                break
    return found


def pairwise(runs: dict[str, Values], areas: dict[str, Area], expected: dict[str, np.ndarray]) -> pd.DataFrame:
    """Per pair of engines, the largest difference over every numeric cell of every node,
    absolute and relative to the node's largest magnitude (as max_rel_err is)."""
    import pandas as pd

    rows = []
    for a, b in combinations(runs, 2):
        cells, max_abs, max_rel = 0, 0.0, 0.0
        for node, area in areas.items():
            if node not in expected:
                continue
            got_a, got_b = numbers(runs[a][area]), numbers(runs[b][area])
            both = np.isfinite(got_a) & np.isfinite(got_b)
            if not both.any():
                continue
            diff = float(np.max(np.abs(got_a - got_b)[both]))
            scale = float(np.max(np.abs(expected[node])))
            cells += int(both.sum())
            max_abs = max(max_abs, diff)
            max_rel = max(max_rel, diff / scale if scale > 0 else diff)
        rows.append({"engine_a": a, "engine_b": b, "cells": cells, "max_abs_diff": max_abs, "max_rel_diff": max_rel})
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


def numbers(block: np.ndarray) -> np.ndarray:
    """An engine's block as floats, NaN where a cell holds no number."""
    out = np.full(block.shape, np.nan)
    for index, value in np.ndenumerate(block):
        if isinstance(value, float):
            out[index] = value
    return out


def _differ(a: object, b: object, allowed: float) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return bool(abs(a - b) > allowed)
    if isinstance(a, ErrorValue) and isinstance(b, ErrorValue):
        return False
    return a != b
