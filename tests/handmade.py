"""A Batch Normalization workbook laid out by hand, as a textbook reader builds one: one sheet,
forward pass in one band of blocks side by side and backward pass in the band below, each block
under a label of its own, formulas typed in the reader's own way (not bnsheet's template).

``handmade(path)`` writes it with openpyxl and returns the map of where each block sits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openpyxl
from openpyxl.utils import get_column_letter

SHEET = "BN"
N, D = 4, 3
EPS_CELL = "B1"

# The forward band (labels on row 3, blocks from row 4) and the backward band (labels on row 10,
# blocks from row 11); each block D columns wide with one empty column after it.
FORWARD = ["x", "gamma", "beta", "mean", "xmu", "sq", "var", "sqrtvar", "ivar", "xhat", "gammax", "out"]
BACKWARD = ["dout", "dbeta", "dgammax", "dgamma", "dxhat", "divar", "dxmu1", "dsqrtvar", "dvar", "dsq", "dxmu2",
            "dx1", "dmu", "dx2", "dx"]  # fmt: skip
ROWS_1xD = {"gamma", "beta", "mean", "var", "sqrtvar", "ivar", "dbeta", "dgamma", "divar", "dsqrtvar", "dvar", "dmu"}
INPUTS = {"x", "gamma", "beta", "dout"}

# One cell's formula, written as a reader would: {name} is the same cell of an N×D block or the
# row-pinned cell of a 1×D one, {name:col} the block's column with its rows pinned.
FORMULAS = {
    "mean": "=AVERAGE({x:col})",
    "xmu": "={x}-{mean}",
    "sq": "={xmu}*{xmu}",
    "var": "=SUMSQ({xmu:col})/COUNT({x:col})",
    "sqrtvar": "=SQRT({var}+$B$1)",
    "ivar": "=1/{sqrtvar}",
    "xhat": "={xmu}*{ivar}",
    "gammax": "={gamma}*{xhat}",
    "out": "={gammax}+{beta}",
    "dbeta": "=SUM({dout:col})",
    "dgammax": "={dout}",
    "dgamma": "=SUMPRODUCT({dgammax:col},{xhat:col})",
    "dxhat": "={dgammax}*{gamma}",
    "divar": "=SUMPRODUCT({dxhat:col},{xmu:col})",
    "dxmu1": "={dxhat}*{ivar}",
    "dsqrtvar": "=-{divar}/({sqrtvar}*{sqrtvar})",
    "dvar": "=0.5*{dsqrtvar}/SQRT({var}+$B$1)",
    "dsq": "={dvar}/ROWS({x:col})",
    "dxmu2": "=2*{xmu}*{dsq}",
    "dx1": "={dxmu1}+{dxmu2}",
    "dmu": "=-SUM({dx1:col})",
    "dx2": "={dmu}/ROWS({x:col})",
    "dx": "={dx1}+{dx2}",
}


def places() -> dict[str, tuple[int, int]]:
    """Each block's top-left cell (row, column)."""
    found = {}
    for band, top in ((FORWARD, 4), (BACKWARD, 11)):
        for k, name in enumerate(band):
            found[name] = (top, 2 + k * (D + 1))
    return found


def area(name: str) -> str:
    top, left = places()[name]
    rows = 1 if name in ROWS_1xD else N
    return f"{SHEET}!{get_column_letter(left)}{top}:{get_column_letter(left + D - 1)}{top + rows - 1}"


def block_map() -> dict[str, str | float]:
    """Where every block sits, and eps's cell: the map a user writes for this workbook."""
    return {"eps": f"{SHEET}!{EPS_CELL}"} | {name: area(name) for name in FORWARD + BACKWARD}


def map_toml() -> str:
    return "".join(f'{name} = "{value}"\n' for name, value in block_map().items())


def _formula(name: str, i: int, j: int) -> str:
    text = FORMULAS[name]
    for other, (top, left) in places().items():
        column = get_column_letter(left + j)
        if other in ROWS_1xD:
            cell = f"{column}${top}"
        else:
            cell = f"{column}{top + i}"
        text = text.replace(f"{{{other}:col}}", f"{column}${top}:{column}${top + N - 1}")
        text = text.replace(f"{{{other}}}", cell)
    return text


def handmade(path: Path, seed: int = 3) -> Path:
    """Write the workbook at ``path``: inputs drawn from ``seed``, every node one formula filled."""
    rng = np.random.default_rng(seed)
    inputs = {
        "x": rng.normal(2.0, 3.0, (N, D)).round(2),
        "gamma": rng.uniform(0.5, 2.0, (1, D)).round(2),
        "beta": rng.normal(0.0, 1.0, (1, D)).round(2),
        "dout": rng.normal(0.0, 1.0, (N, D)).round(2),
    }
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = SHEET
    sheet["A1"] = "eps"
    sheet[EPS_CELL] = 1e-5
    sheet["A2"] = "Batch Normalization by hand: forward pass, then backward pass below"
    for name, (top, left) in places().items():
        sheet.cell(row=top - 1, column=left, value=name)  # the label, above its block
        rows = 1 if name in ROWS_1xD else N
        for i in range(rows):
            for j in range(D):
                value = float(inputs[name][i, j]) if name in INPUTS else _formula(name, i, j)
                sheet.cell(row=top + i, column=left + j, value=value)
    book.save(path)
    return path
