"""How wide a column must be for a text, and how far a text spills to the right, in the units of
column widths (the width of a digit of the body font): East Asian wide characters take two.

Applications measure with the fonts they have, so these are estimates with room to spare: a
label must never be clipped, and a print area must reach as far as its notes do.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping

DEFAULT_WIDTH = 8.43  # a column without a width of its own, as Excel and LibreOffice draw it
_PADDING = 1.5  # the cell's margins, and room for a font wider than the one measured for
# how much wider than body text (11 pt) a style's font is: notes are 10 pt, titles 13 pt bold
_SCALE = {"note": 0.95, "title": 1.3, "label": 1.1, "heading": 1.1, "arrow": 1.1}


def text_width(text: str, style: str = "default") -> float:
    """The width of ``text`` in ``style``, without padding.

    >>> text_width("step"), text_width("ステップ"), text_width("×")
    (4.0, 8.0, 1.0)
    """
    wide = sum(unicodedata.east_asian_width(ch) in "WF" for ch in text)
    return (len(text) + wide) * _SCALE.get(style.partition("_")[0], 1.0)


def fitted(texts: Iterable[tuple[str, str]], least: float = 0.0) -> float:
    """A column width that shows every (text, style) in full, and at least ``least``.

    >>> fitted([("sample 1", "label"), ("サンプル 10", "label")])
    13.6
    """
    return round(max([least, *(text_width(text, style) + _PADDING for text, style in texts)]), 1)


def reach(col: int, width: float, widths: Mapping[int, float]) -> int:
    """The last column a text of ``width`` starting in column ``col`` spills into, the columns
    as wide as ``widths`` says (DEFAULT_WIDTH where it says nothing).

    >>> reach(2, 20.0, {2: 10.0, 3: 13.0})
    3
    >>> reach(2, 22.0, {2: 10.0, 3: 13.0})
    4
    """
    covered = 0.0
    while True:
        covered += widths.get(col, DEFAULT_WIDTH)
        if covered >= width + _PADDING:
            return col
        col += 1
