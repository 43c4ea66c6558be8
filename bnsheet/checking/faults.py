"""Known faults of the engines, told apart from faults of the workbook: a note for the report when
an engine's error values come from the engine itself (tests/test_engine_faults.py keeps each one
visible)."""

from __future__ import annotations

import numpy as np

from ..a1 import Area, quote_sheet
from ..values import ErrorValue, Values

SMALLEST_NORMAL = 2.2250738585072014e-308


def notes(runs: dict[str, Values], areas: dict[str, Area], expected: dict[str, np.ndarray]) -> list[str]:
    """One note per engine fault met: LibreOffice gives #NUM! for a power (``xmu^2``) whose result
    is subnormal, where every other engine gives the number (multiplication is fine there)."""
    run = runs.get("libreoffice")
    if run is None:
        return []
    for node, area in areas.items():
        if node not in expected or area not in run or area.shape != expected[node].shape:
            continue
        value = expected[node]
        subnormal = (value != 0) & (np.abs(value) < SMALLEST_NORMAL)
        for i, j in np.argwhere(subnormal):
            if isinstance(run[area][i, j], ErrorValue):
                return [
                    f"libreoffice gives {run[area][i, j]} at {quote_sheet(area.sheet)}!{area.address(i, j)}, where the "
                    f"value is {value[i, j]:.3g}, below 2.2e-308 (subnormal): LibreOffice's power refuses such "
                    "results, a fault of LibreOffice, not of the workbook; nodes computed from it show the error too"
                ]
    return []
