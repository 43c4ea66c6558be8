"""Cell values every stage shares: an error value, what a cell can hold, a block's values by area."""

from __future__ import annotations

import numpy as np

from .a1 import Area


class ErrorValue(str):
    """An error value stored in or computed for a cell, such as ``#DIV/0!``."""


CellValue = float | str | bool | ErrorValue | None

# What an engine returns: per area, an object array of CellValue (floats where the cell is a number).
Values = dict[Area, "np.ndarray"]


def all_floats(values: np.ndarray) -> bool:
    """Whether every cell of an object array of CellValue holds a float (a number): the common
    case, told without a Python-level look at each cell (a million of them at 512x128).

    >>> all_floats(np.array([[1.0, 2.0]], dtype=object)), all_floats(np.array([[1.0, None]], dtype=object))
    (True, False)
    """
    return {*map(type, values.ravel().tolist())} <= {float}
