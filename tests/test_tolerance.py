"""Verify's allowance per cell: never less than what float64 can honestly err (so engines closer to
the exact value pass, on every engine, where float64 cancels), never so much that a formula off by
1e-9 passes; and inputs that overflow float64 are refused at build and reported by verify."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bnsheet
from bnsheet.checking import bounds
from bnsheet.checking.expected import MARGIN, expected_nodes, tolerances
from bnsheet.cli import main
from bnsheet.model import reference
from bnsheet.model.graph import load
from bnsheet.model.inputs import make
from conftest import tamper

# The formulas bounds.py follows, operation by operation. A template formula changed here must be
# changed there too: the bound is of these formulas.
FORMULAS = {
    "mean": "AVERAGE({x:col})", "xmu": "{x}-{mean}", "sq": "{xmu}^2", "var": "AVERAGE({sq:col})",
    "sqrtvar": "SQRT({var}+{eps})", "ivar": "1/{sqrtvar}", "xhat": "{xmu}*{ivar}", "gammax": "{gamma}*{xhat}",
    "out": "{gammax}+{beta}", "dbeta": "SUM({dout:col})", "dgammax": "{dout}",
    "dgamma": "SUMPRODUCT({dgammax:col},{xhat:col})", "dxhat": "{dgammax}*{gamma}",
    "divar": "SUMPRODUCT({dxhat:col},{xmu:col})", "dxmu1": "{dxhat}*{ivar}",
    "dsqrtvar": "-1/({sqrtvar}^2)*{divar}", "dvar": "0.5/SQRT({var}+{eps})*{dsqrtvar}", "dsq": "1/{n}*{dvar}",
    "dxmu2": "2*{xmu}*{dsq}", "dx1": "{dxmu1}+{dxmu2}", "dmu": "-SUM({dx1:col})", "dx2": "1/{n}*{dmu}",
    "dx": "{dx1}+{dx2}", "dx_compact": "1/{n}*{gamma}*{ivar}*({n}*{dout}-{dbeta}-{xhat}*{dgamma})",
    "dx_diff": "{dx}-{dx_compact}", "new_running_mean": "{momentum}*{running_mean}+(1-{momentum})*{mean}",
    "new_running_var": "{momentum}*{running_var}+(1-{momentum})*{var_correction}*{var}",
    "out_inference": "{gamma}*({x}-{new_running_mean})/SQRT({new_running_var}+{eps})+{beta}",
    "gamma_new": "{gamma}-{lr}*{dgamma}", "beta_new": "{beta}-{lr}*{dbeta}",
}  # fmt: skip


def test_the_bound_follows_the_templates_formulas():
    assert {block.name: block.formula for block in load().nodes} == FORMULAS


@st.composite
def hard_inputs(draw: st.DrawFn) -> dict[str, object]:
    """Inputs where float64 struggles: columns offset up to 1e6 times their spread, nearly constant
    columns, N up to 64, eps down to 1e-12."""
    n, d = draw(st.integers(2, 64)), draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    offset = 10.0 ** rng.uniform(-2, 6, d) * rng.choice([-1, 1], d)
    spread = 10.0 ** rng.uniform(-15, 0, d) * np.abs(offset)
    x = offset + rng.normal(0, 1, (n, d)) * spread
    return dict(x=x, gamma=rng.normal(0, 2, d), beta=rng.normal(0, 10, d), dout=rng.normal(0, 1, (n, d)),
                eps=float(10.0 ** draw(st.integers(-12, -3))), unbiased=draw(st.booleans()))  # fmt: skip


@settings(max_examples=60, deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(hard_inputs())
def test_float64_evaluations_in_any_order_land_within_the_allowance(given):
    inputs = make(**given)
    graph = load()
    expected = expected_nodes(inputs, graph)
    tolerance = tolerances(inputs, expected, graph)
    float64 = reference.nodes(**inputs.arguments())
    # the rows reversed: every sum in another order, as another engine may add them
    flipped = {name: np.asarray(value) for name, value in inputs.arrays().items()}
    flipped["x"], flipped["dout"] = flipped["x"][::-1], flipped["dout"][::-1]
    reversed_order = reference.nodes(**(inputs.arguments() | flipped))
    bound = bounds.nodes(inputs, expected)
    for name, value in float64.items():
        assert np.isfinite(tolerance[name]).all(), name
        error = np.abs(value - expected[name])
        assert (error <= MARGIN * bound[name]).all(), name  # the bound is honest for the reference
        assert (error <= tolerance[name]).all(), name  # so an engine closer to the exact value passes
        other = reversed_order[name][::-1] if value.shape[0] == inputs.n and inputs.n > 1 else reversed_order[name]
        assert (np.abs(other - expected[name]) <= tolerance[name]).all(), name


def _times(node: str, factor: str):
    """A change for tamper(): every formula of ``node``'s block multiplied by ``factor``."""

    def change(book):
        for row in book[node].iter_rows(min_row=7):
            for cell in row:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.value = f"=({cell.value[1:]})*{factor}"

    return change


OFFSET_X = 1000.0 * np.array([1.0, -1.0, 0.5]) + np.random.default_rng(3).normal(0, 1, (64, 3))


@pytest.mark.parametrize("node", ["mean", "var", "xhat", "dgamma", "divar", "dx", "dx_compact", "new_running_var"])
@pytest.mark.parametrize(
    "x",
    [pytest.param(None, id="default"), pytest.param(OFFSET_X, id="offset-1000x-64-rows", marks=pytest.mark.apps())],
)  # 64 rows: the fast subset keeps the default inputs
def test_a_formula_off_by_1e_minus_9_fails(tmp_path, node, x):
    path = bnsheet.build(tmp_path / "w.xlsx", x=x)
    report = bnsheet.verify(tamper(path, _times(node, "(1+1e-9)")), engine="formualizer")
    assert report.table.set_index("node").loc[node, "status"] == "mismatch", report.to_text()


def _rewrite(node: str, formula: str, rows: int, cols: int):
    """A change for tamper(): ``node``'s block refilled with ``formula`` ({c} column, {r} row)."""

    def change(book):
        for i in range(rows):
            for j in range(cols):
                column = "CDEFG"[j]
                book[node][f"{column}{7 + i}"] = "=" + formula.format(c=column, r=7 + i, last=6 + OFFSET_X.shape[0])

    return change


EQUIVALENT = {
    "VARP": ("var", "VARP('x'!{c}$7:{c}${last})", 1),
    "xmu*xmu": ("sq", "'xmu'!{c}{r}*'xmu'!{c}{r}", OFFSET_X.shape[0]),
}


@pytest.mark.parametrize("rewrite", EQUIVALENT)
def test_equivalent_rewrites_pass_on_columns_offset_1000_times_their_spread(tmp_path, rewrite):
    path = bnsheet.build(tmp_path / "w.xlsx", x=OFFSET_X)
    node, formula, rows = EQUIVALENT[rewrite]
    report = bnsheet.verify(tamper(path, _rewrite(node, formula, rows, 3)), engine="formualizer")
    assert report.ok, report.to_text()


NEARLY_CONSTANT = [
    [1.0, 1.0 + 1e-15, 1.0 + 2e-15],
    [3.0, 3.0 + 4e-16, 3.0],
    [0.1, 0.1 + 1e-17, 0.1],
    [-5.0, -5.0 * (1 + 2.0**-50), -5.0 * (1 - 2.0**-51)],
]


def _nearly_constant(column: list[float]) -> np.ndarray:
    x = np.array([[1.0, 2.5, 3.0], [2.0, 0.5, 1.0], [4.0, -1.0, 2.0]])
    x[:, 1] = column
    return x


HARD = {
    "x = [[1.5, 2], [3, 4]]": dict(x=[[1.5, 2.0], [3.0, 4.0]]),
    **{f"nearly constant {k}": dict(x=_nearly_constant(c)) for k, c in enumerate(NEARLY_CONSTANT)},
    **{f"unbiased N={n}": dict(n=n, unbiased=True, seed=n) for n in (4, 7, 64)},
}


@pytest.mark.apps("soffice", "ssconvert")
@pytest.mark.parametrize("case", HARD)
def test_every_engine_passes_where_float64_cancels_and_with_unbiased_running_variance(tmp_path, case):
    # one hidden trial: every engine computes both input sets, the formulas engine minutes at 64 rows
    report = bnsheet.verify(bnsheet.build(tmp_path / "w.xlsx", **HARD[case]), engine="all", trials=1)
    assert report.ok, report.to_text()
    assert set(report.by_engine) == set(bnsheet.engines.installed()) >= {"formualizer", "gnumeric", "libreoffice"}


@pytest.mark.apps("soffice", "ssconvert")
def test_every_engine_passes_equivalent_rewrites_on_offset_columns(tmp_path):
    path = bnsheet.build(tmp_path / "w.xlsx", x=OFFSET_X)
    for rewrite, (node, formula, rows) in EQUIVALENT.items():
        rewritten = tamper(path, _rewrite(node, formula, rows, 3), f"{node}.xlsx")
        report = bnsheet.verify(rewritten, engine="all", trials=1)  # one hidden trial, as above
        assert report.ok, f"{rewrite}\n{report.to_text()}"


@pytest.mark.parametrize("name, values", [("x", [[1e200, 2.0], [3e200, 4.0], [5.0, 6.0]]),
                                          ("dout", [[1e308, 2.0], [1e308, 4.0], [5.0, 6.0]])])  # fmt: skip
def test_inputs_that_overflow_are_refused_at_build_with_one_line(tmp_path, capsys, name, values):
    np.savetxt(tmp_path / "in.csv", np.array(values), delimiter=",")
    csv = str(tmp_path / "in.csv")
    status = main(["build", "-o", str(tmp_path / "w.xlsx"), "--n", "3", "--d", "2", f"--{name}", csv])
    err = capsys.readouterr().err.strip()
    first = "sq" if name == "x" else "dbeta"
    assert status == 2 and "\n" not in err and f"{first} goes beyond ±1.8e308 at '{first}'!C7" in err, err
    assert not (tmp_path / "w.xlsx").exists()


def _overflowing(built):
    def change(book):
        book["x"]["C7"] = 1e200
        book["dout"]["D8"] = 1e308
        book["dout"]["D9"] = 1e308

    return tamper(built, change)


def test_verify_reports_overflow_by_node_never_a_traceback_or_a_warning(built, capsys):
    path = _overflowing(built)
    report = bnsheet.verify(path, engine="formualizer")  # warnings are errors in the tests
    table = report.table.set_index("node")
    assert table.loc["sq", "status"] == "overflow" and table.loc["sq", "first_bad_cell"] == "'sq'!C7"
    assert table.loc["dbeta", "status"] == "overflow" and table.loc["dbeta", "first_bad_cell"] == "'dbeta'!D7"
    assert "reads sq" in table.loc["xhat", "detail"]  # float64 gives xhat = 0 here, an engine #NUM!
    assert table.loc["mean", "status"] == table.loc["dxhat", "status"] == "ok"
    assert main(["verify", str(path)]) == 1
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.apps("soffice", "ssconvert")
def test_verify_with_every_engine_reports_overflow(built):
    report = bnsheet.verify(_overflowing(built), engine="all")
    statuses = report.table.set_index("node")["status"]
    assert statuses["sq"] == statuses["dbeta"] == "overflow" and statuses["mean"] == "ok", report.to_text()
