"""Fixed-width text tables for a terminal: the one table printer verify, grade and the experiment use."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def aligned(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Every column right-aligned under its name, one space between columns.

    >>> print(aligned(["node", "cells"], [["mean", 3], ["xmu", 12]]))
    node cells
    mean     3
     xmu    12
    """
    lines = [[str(name) for name in columns], *([str(value) for value in row] for row in rows)]
    widths = [max(len(line[k]) for line in lines) for k in range(len(columns))]
    return "\n".join(" ".join(text.rjust(width) for text, width in zip(line, widths, strict=True)) for line in lines)


def frame(table: pd.DataFrame) -> str:
    """A DataFrame as :func:`aligned` prints it, without its index (see :func:`shown`)."""
    return aligned(list(map(str, table.columns)), shown(table.values))


def shown(rows: Iterable[Iterable[object]]) -> list[list[str]]:
    """Rows as the tables show them: numbers to 6 significant digits, a missing value as empty.

    >>> shown([[0.30000000000000004, None, 2]])
    [['0.3', '', '2']]
    """
    return [[_shown(v) for v in row] for row in rows]


def _shown(value: object) -> str:
    if value is None or str(value) in ("<NA>", "NaT", "nan"):
        return ""
    return f"{value:.6g}" if isinstance(value, float) else str(value)
