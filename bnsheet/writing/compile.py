"""Compiles a node's template formula into the Excel formula of any cell of its block.

Each node compiles once into a *cell pattern*: the formula text with ``{c}`` (column letters)
and ``{r}`` (row number) left open, so filling a block of a million cells is one ``str.format``
per cell. References follow SPEC §2: an N×D source is read cell for cell (relative), a 1×D
source has its row pinned (``C$7``) so the row broadcasts, ``{name:col}`` is the column span
with both rows pinned (``C$7:C$10``); parameters are read by defined name (``bn_eps``).
"""

from __future__ import annotations

import re

from ..a1 import quote_sheet
from ..layout import BLOCK_TOP, Layout, defined_name
from ..model.graph import PLACEHOLDER, Block, Graph


def cell_pattern(node: Block, graph: Graph, layout: Layout) -> str:
    """The node's formula with ``{c}`` and ``{r}`` open.

    >>> from bnsheet.model.graph import load
    >>> g = load()
    >>> cell_pattern(g.block("xhat"), g, Layout(4, 3))
    "='xmu'!{c}{r}*'ivar'!{c}$7"
    """
    params = {p.name for p in graph.params}

    def reference(match: re.Match[str]) -> str:
        name, col = match.group(1), match.group(2)
        if name in params:
            return defined_name(name)
        source = graph.block(name)
        sheet = quote_sheet(source.name).replace("{", "{{").replace("}", "}}")
        if col:
            bottom = BLOCK_TOP + layout.rows(source) - 1
            return f"{sheet}!{{c}}${BLOCK_TOP}:{{c}}${bottom}"
        if source.is_row:
            return f"{sheet}!{{c}}${BLOCK_TOP}"
        return f"{sheet}!{{c}}{{r}}"

    pieces: list[str] = []
    last = 0
    for match in PLACEHOLDER.finditer(node.formula):
        pieces.append(_escape(node.formula[last : match.start()]))
        pieces.append(reference(match))
        last = match.end()
    pieces.append(_escape(node.formula[last:]))
    return "=" + "".join(pieces)


def param_formula(text: str) -> str:
    """A parameter's formula as written in the template, made a cell formula."""
    return "=" + text


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")
