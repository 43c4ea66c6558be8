"""Stale cached values: numbers a file stores for its formula cells that are not what they compute.

Verify never uses them, but every reader that does not recalculate (pandas, file previews, Excel's
Protected View, LibreOffice by default) shows them, so a block whose caches are stale fails.
"""

from __future__ import annotations

import numpy as np

from .. import engines
from ..reading.stored import Fault, Stored
from ..values import ErrorValue, all_floats

DIGITS = 15  # applications store caches with as few as 15 significant digits


def stale_fault(stored: Stored, recalculated: np.ndarray, tolerance: np.ndarray) -> Fault | None:
    """The first formula cell whose cached value differs from the recalculated one by more than
    ``tolerance`` and 15-digit storage, with how many do; None when every cache is right."""
    if not stored.cached:
        return None
    area = stored.area
    numeric = stored.formulas & ~np.isnan(stored.numbers)
    cached = np.where(numeric, stored.numbers, np.nan)
    stale = np.zeros(area.shape, dtype=bool)
    if all_floats(recalculated):  # the common case: no look at each cell
        got = np.where(numeric, recalculated.astype(np.float64), np.nan)
    else:
        got = np.full(area.shape, np.nan)
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
    with np.errstate(invalid="ignore"):
        stale |= np.abs(cached - got) > tolerance + engines.half_unit(np.nan_to_num(got), DIGITS)
    if not stale.any():
        return None
    i, j = (int(k) for k in np.argwhere(stale)[0])
    return (
        "stale", area.address(i, j), recalculated[i, j], stored.value(i, j),
        f"{int(stale.sum())} of {stale.size} cells cache a value their formula does not compute, which every "
        "reader that does not recalculate shows",
    )  # fmt: skip
