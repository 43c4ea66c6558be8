"""The checks sheet: the layer's own identities as live formulas, each with a light that says
whether it holds, and a finite-difference check of one entry of dx computed in cells — so a
learner sees the math hold without any code.

Per feature: Σ dx = 0 (shifting a feature's x changes nothing, the layer subtracts the mean),
Σ dx·xhat = eps·ivar³·Σ dxhat·xhat (rescaling x changes nothing but eps's share of the variance:
0 as eps → 0), dbeta = Σ dout, and the staged dx equals the closed form. Then x[1, 1] is nudged
by ±h in a side block, the forward pass and the loss L = Σ dout·out of feature 1 are recomputed
from it, and (L₊ − L₋)/2h is set beside dx[1, 1].

Each table is a block like a plot table (plots.PlotBlock: one formula filled, a defined name
``bn_check_…``) with an expected value computed here in float64 from the exact node values, so
verify checks the sheet like every other. A light holds 1 ("✓") or 0 ("✗"); verify expects 1.
"""

from __future__ import annotations

import numpy as np

from ..a1 import Area
from ..layout import BLOCK_LEFT, BLOCK_TOP, Layout, defined_name
from .graph import Graph
from .plots import PlotBlock, PlotsLayout, column_range

CHECKS_SHEET = "checks"
HEADER_ROW = 4  # feature labels
# How far from 0 an identity may land, relative to the size of the terms it adds (dx's terms are
# ivar·dxhat in size): rounding leaves about 1e-16 per term; a wrong formula leaves about 1.
RELATIVE = "1E-9"
# The finite difference: the nudge, relative to the feature's spread (sqrtvar), and how close the
# slope must come to dx (its truncation error is about (h/spread)² = 1e-8, rounding 1e-12).
STEP = "1E-4"
SLOPE = "1E-5"
# The tables that are all rounding: shown in scientific notation.
RESIDUALS = ("check_sum_dx", "check_dx_xhat", "check_dbeta", "check_compact")


# The inputs, parameters and nodes the checks read: a template without them gets no checks sheet.
NODES_READ = ("dx", "xhat", "dxhat", "ivar", "sqrtvar", "dbeta", "dx_diff")
_READS = {"x", "gamma", "beta", "dout", "n", "eps", *NODES_READ}


def applies(graph: Graph) -> bool:
    """Whether the graph has every block the checks read (the Batch Normalization graph does)."""
    return _READS <= {b.name for b in graph.blocks} | {p.name for p in graph.params}


def names(graph: Graph) -> list[str]:
    """The names of the checks' tables verify checks, without the ``bn_`` prefix, in sheet order."""
    return [block.name for block in layout(graph, Layout(2, 1)).blocks]


def layout(graph: Graph, sheet_layout: Layout) -> PlotsLayout:
    """Where each table of the checks sheet sits, and its formula; none for a graph the checks do
    not apply to."""
    if not applies(graph):
        return PlotsLayout(())
    n, d = sheet_layout.n, sheet_layout.d
    col = {name: column_range(name, n) for name in ("dx", "xhat", "dout", "dx_diff", "dxhat")}
    n_name, eps = defined_name("n"), defined_name("eps")
    size = f"'ivar'!{{c}}${BLOCK_TOP}*SQRT(SUMSQ({col['dxhat']}))"  # how large dx's terms are
    blocks: list[PlotBlock] = []
    row = HEADER_ROW + 1

    def add(name: str, pattern: str, rows: int = 1, left: int = BLOCK_LEFT, cols: int | None = None,
            edge_offset: int = 0, labels: tuple[float, ...] = ()) -> PlotBlock:  # fmt: skip
        nonlocal row
        width = d if cols is None else cols
        area = Area(CHECKS_SHEET, row, left, row + rows - 1, left + width - 1)
        block = PlotBlock(name, area, graph.word(name), pattern, edge_offset, labels)
        blocks.append(block)
        row += rows
        return block

    def holds(name: str, residual: PlotBlock, limit: str) -> None:
        add(name, f"=IF(ABS({{c}}{residual.area.top})<={limit},1,0)")

    identities = [
        ("check_sum_dx", f"=SUM({col['dx']})", f"{RELATIVE}*{n_name}*{size}"),
        # Σ dx·xhat = eps·ivar³·Σ dxhat·xhat, which is 0 only as eps → 0 (rescaling x changes nothing
        # but eps's share of the variance)
        ("check_dx_xhat",
         f"=SUMPRODUCT({col['dx']},{col['xhat']})-{eps}*'ivar'!{{c}}${BLOCK_TOP}^3*SUMPRODUCT({col['dxhat']},{col['xhat']})",
         f"{RELATIVE}*{n_name}*SQRT({n_name})*{size}"),
        ("check_dbeta", f"='dbeta'!{{c}}${BLOCK_TOP}-SUM({col['dout']})",
         f"{RELATIVE}*{n_name}*SQRT(SUMSQ({col['dout']}))"),
        ("check_compact", f"=SQRT(SUMSQ({col['dx_diff']}))", f"{RELATIVE}*{n_name}*{size}"),
    ]  # fmt: skip
    for name, formula, limit in identities:
        holds(f"{name}_holds", add(name, formula), limit)

    # the finite difference, for feature 1 (column C) only: plus in C, minus in D
    first = f"$C${BLOCK_TOP}"
    last = BLOCK_TOP + n - 1
    row += 1
    step = add("check_fd_step", f"={STEP}*'sqrtvar'!{first}", cols=1)
    row += 1  # the heading of the nudged x
    # +1 in C, −1 in D, from the features' header (not the cell itself, which would be circular)
    sign = f"(3-2*COLUMNS($C${HEADER_ROW}:{{c}}${HEADER_ROW}))"
    nudged = add(
        "check_fd_x", f"='x'!$C{{e0}}+IF($B{{r}}=1,{sign}*$C${step.area.top},0)",  # B: the sample's number
        rows=n, cols=2, edge_offset=BLOCK_TOP - row, labels=tuple(float(i) for i in range(1, n + 1)),
    )  # fmt: skip
    x_rows = f"{{c}}${nudged.area.top}:{{c}}${nudged.area.bottom}"
    mean = add("check_fd_mean", f"=AVERAGE({x_rows})", cols=2)
    var = add("check_fd_var", f"=DEVSQ({x_rows})/{n_name}", cols=2)
    row += 1
    out_top = row
    out = add(
        "check_fd_out",
        f"='gamma'!{first}*({{c}}{{e0}}-{{c}}${mean.area.top})/SQRT({{c}}${var.area.top}+{eps})+'beta'!{first}",
        rows=n, cols=2, edge_offset=nudged.area.top - out_top, labels=tuple(float(i) for i in range(1, n + 1)),
    )  # fmt: skip
    loss = add(
        "check_fd_loss",
        f"=SUMPRODUCT('dout'!$C${BLOCK_TOP}:$C${last},{{c}}${out.area.top}:{{c}}${out.area.bottom})",
        cols=2,
    )
    slope = add("check_fd_slope", f"=($C${loss.area.top}-$D${loss.area.top})/(2*$C${step.area.top})", cols=1)
    dx = add("check_fd_dx", f"='dx'!{first}", cols=1)
    # how large dx's entries are: |dx| itself, and ivar·(|gamma| + |beta|)·‖dout‖ (beta's share of
    # the loss cancels in L₊ − L₋ but leaves its rounding)
    scale = (
        f"ABS($C${dx.area.top})+'ivar'!{first}*(ABS('gamma'!{first})+ABS('beta'!{first}))"
        f"*SQRT(SUMSQ('dout'!$C${BLOCK_TOP}:$C${last}))"
    )
    add("check_fd_holds", f"=IF(ABS($C${slope.area.top}-$C${dx.area.top})<={SLOPE}*({scale}),1,0)", cols=1)
    return PlotsLayout(tuple(blocks))


def expected(values: dict[str, np.ndarray], eps: float) -> dict[str, np.ndarray]:
    """What each table of the checks sheet must hold, in float64 from the node values; every light 1."""
    n = values["x"].shape[0]
    out: dict[str, np.ndarray] = {
        "check_sum_dx": values["dx"].sum(axis=0, keepdims=True),
        "check_dx_xhat": (values["dx"] * values["xhat"]).sum(axis=0, keepdims=True)
        - eps * values["ivar"] ** 3 * (values["dxhat"] * values["xhat"]).sum(axis=0, keepdims=True),
        "check_dbeta": values["dbeta"] - values["dout"].sum(axis=0, keepdims=True),
        "check_compact": np.sqrt((values["dx_diff"] ** 2).sum(axis=0, keepdims=True)),
    }
    d = values["x"].shape[1]
    out |= {f"{name}_holds": np.ones((1, d)) for name in list(out)}
    h = float(STEP) * values["sqrtvar"][0, 0]
    nudged = np.repeat(values["x"][:, :1], 2, axis=1)
    nudged[0] += np.array([h, -h])
    mean = nudged.sum(axis=0, keepdims=True) / n
    var = ((nudged - mean) ** 2).sum(axis=0, keepdims=True) / n
    forward = values["gamma"][0, 0] * (nudged - mean) / np.sqrt(var + eps) + values["beta"][0, 0]
    loss = (values["dout"][:, :1] * forward).sum(axis=0, keepdims=True)
    out |= {"check_fd_step": np.array([[h]]), "check_fd_x": nudged, "check_fd_mean": mean, "check_fd_var": var,
            "check_fd_out": forward, "check_fd_loss": loss,
            "check_fd_slope": np.array([[(loss[0, 0] - loss[0, 1]) / (2 * h)]]),
            "check_fd_dx": values["dx"][:1, :1], "check_fd_holds": np.ones((1, 1))}  # fmt: skip
    return out
