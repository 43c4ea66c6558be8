"""Where things sit on a sheet: decided once, here, for the builder and everything that reads back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from .a1 import Area

BLOCK_TOP = 7  # first row of every block; rows above hold the title and notes
BLOCK_LEFT = 3  # column C; column B labels the samples
LABEL_COL = 2
HEADER_ROW = BLOCK_TOP - 1  # feature labels
PARAMS_SHEET = "params"
NAME_PREFIX = "bn_"


class Named(Protocol):
    """A parameter as the layout sees it: its name."""

    @property
    def name(self) -> str: ...


class Placed(Named, Protocol):
    """A block as the layout sees it: its name (the sheet's) and whether it is one row (1×D)."""

    @property
    def is_row(self) -> bool: ...


@dataclass(frozen=True)
class Layout:
    """The sheet layout of one workbook of N samples and D features."""

    n: int
    d: int

    def rows(self, block: Placed) -> int:
        return 1 if block.is_row else self.n

    def area(self, block: Placed) -> Area:
        """The block's cells, e.g. xmu → 'xmu'!C7:E10 for N=4, D=3."""
        return Area(
            block.name,
            BLOCK_TOP,
            BLOCK_LEFT,
            BLOCK_TOP + self.rows(block) - 1,
            BLOCK_LEFT + self.d - 1,
        )

    def param_area(self, params: Sequence[Named], name: str) -> Area:
        """The cell of parameter ``name`` on the parameters sheet, one row per parameter in order."""
        row = BLOCK_TOP + [p.name for p in params].index(name)
        return Area(PARAMS_SHEET, row, BLOCK_LEFT, row, BLOCK_LEFT)


def defined_name(name: str) -> str:
    """The workbook-level name of a block or parameter: ``bn_xmu``, ``bn_eps``."""
    return NAME_PREFIX + name
