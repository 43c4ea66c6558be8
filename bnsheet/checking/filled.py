"""The rule that a block is one formula filled over it (SPEC §2): every cell holds a formula, and
each is the first cell's formula filled to its place, compared in relative (R1C1) form."""

from __future__ import annotations

from collections import Counter

from ..a1 import Area, filled_rows, from_r1c1, to_r1c1
from ..reading.stored import Fault
from ..reading.xlsx import Grid


def formula_fault(grid: Grid) -> Fault | None:
    """Every cell must hold a formula, and all must be the block's one formula, filled; None if so."""
    area, formulas = grid.area, grid.formulas
    if not all(text is not None for row in formulas for text in row):
        i, j = next((i, j) for i, row in enumerate(formulas) for j, text in enumerate(row) if text is None)
        return "constant", area.address(i, j), "a formula", grid.value(i, j), "a value stands where a formula belongs"
    if _one_formula_filled(area, formulas):  # type: ignore[arg-type]  # no None left
        return None
    forms = {
        (i, j): _form(text, area.top + i, area.left + j)
        for i, row in enumerate(formulas)
        for j, text in enumerate(row)
        if text is not None
    }
    block_form = Counter(forms.values()).most_common(1)[0][0]
    odd = [(i, j) for (i, j), form in forms.items() if form != block_form]
    i, j = odd[0]
    return (
        "not filled",
        area.address(i, j),
        _shown(from_r1c1(block_form, area.top + i, area.left + j)),
        _shown(formulas[i][j] or ""),
        f"{len(odd)} cell(s) differ from the block's formula; it is not one formula filled over the block",
    )


def _one_formula_filled(area: Area, formulas: list[list[str]]) -> bool:
    """True when every cell holds the first cell's formula filled to its place.

    The text is compared first, a whole row at once (the R1C1 form of a million cells is slow to
    work out); only in a row whose text differs is each cell's text compared, and only a cell whose
    text differs, e.g. written in lower case, has its R1C1 form compared.
    """
    form = _form(formulas[0][0], area.top, area.left)
    if form.startswith("{"):
        return all(text == form for row in formulas for text in row)
    rows, cols = range(area.top, area.bottom + 1), range(area.left, area.right + 1)
    for row, r, expected in zip(formulas, rows, filled_rows(form, rows, cols, _SEPARATOR), strict=True):
        if _SEPARATOR.join(row) != expected and any(
            text != want and _form(text, r, c) != form
            for c, text, want in zip(cols, row, expected.split(_SEPARATOR), strict=True)
        ):
            return False
    return True


_SEPARATOR = "\x00"  # between a row's formulas: no formula holds it (XML allows no NUL)


def _form(text: str, row: int, col: int) -> str:
    """The relative (R1C1) form of a cell's formula text; an array formula ({=…}) stands for its
    whole range as it is."""
    return text if text.startswith("{") else to_r1c1(text, row, col)


def _shown(text: str) -> str:
    """A formula as a spreadsheet shows it: ``=…``, or ``{=…}`` for an array formula."""
    return text if text.startswith("{") else "=" + text
