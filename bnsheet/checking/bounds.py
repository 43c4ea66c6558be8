"""How far an honest float64 evaluation of each cell's formula can land from the exact value: a
forward error bound carried through the template's formulas, operation by operation, node by node.

Every operation of a formula rounds once, by at most u = 2⁻⁵³ of its result (plus 2⁻¹⁰⁷⁴ where the
result is subnormal), and passes on the errors of its operands as the derivative scales them. A
sum of N terms, in whatever order an engine adds them, errs by at most γ(N−1)·Σ|terms| (Higham,
Accuracy and Stability of Numerical Algorithms, §4.2), so the bound does not depend on the order.
The magnitudes come from the exact values (exact.py); each node's bound is what an engine that
computes the node's formula from its own float64 operands can err, whichever operands it had.

Errors of an operand are carried rigorously, not only to first order (a quotient divides by the
divisor's smallest value), so a node computed from nothing but rounding (x − mean in a constant
column) gets a bound as large as that rounding. LibreOffice's + and − give 0 when the operands
agree to within 2⁻⁴⁸ of their size (rtl::math::approxSub): a sum that cancels that far may lose
its whole value, and the bound says so.

The formulas below are the ones in templates/batchnorm.toml (tests/test_bounds.py pins them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..model import checks, plots
from ..model.graph import Graph
from ..model.inputs import Inputs

Array = np.ndarray
UNIT = 2.0**-53  # unit roundoff of float64
TINY = 2.0**-1074  # the absolute error of a rounding in the subnormal range
CANCELS = 2.0**-47  # twice LibreOffice's approxEqual (2⁻⁴⁸): a sum this small may come out 0


@dataclass(frozen=True)
class Bounded:
    """Values (near enough the exact ones to scale errors) and how far float64 may be from them."""

    value: Array
    error: Array

    @classmethod
    def exact(cls, value: Array | float) -> Bounded:
        """A number every engine reads as it is: a small whole number, a constant of a formula."""
        value = np.asarray(value, dtype=np.float64)
        return cls(value, np.zeros_like(value))

    @classmethod
    def typed(cls, value: Array | float) -> Bounded:
        """A number the file holds as its shortest decimal (1.13): Excel reads the nearest double,
        Gnumeric the nearest long double, so what an engine computes from may differ by half an
        ulp of the double."""
        value = np.asarray(value, dtype=np.float64)
        return cls(value, UNIT * np.abs(value))

    def __add__(self, other: Bounded) -> Bounded:
        value = self.value + other.value
        carried = self.error + other.error
        result = _rounded(value, carried)
        size = np.maximum(np.abs(self.value), np.abs(other.value)) + carried
        return Bounded(value, _cancelled(value, result.error, CANCELS * size + carried))

    def __neg__(self) -> Bounded:
        return Bounded(-self.value, self.error)

    def __sub__(self, other: Bounded) -> Bounded:
        return self + -other

    def __mul__(self, other: Bounded) -> Bounded:
        carried = np.abs(self.value) * other.error + np.abs(other.value) * self.error + self.error * other.error
        return _rounded(self.value * other.value, carried)

    def __truediv__(self, other: Bounded) -> Bounded:
        value = self.value / other.value
        # (a + δa)/(b + δb) − a/b = (δa − (a/b)·δb)/(b + δb), and |b + δb| ≥ |b| − |δb|
        room = np.abs(other.value) - other.error
        carried = np.where(room > 0, (self.error + np.abs(value) * other.error) / np.where(room > 0, room, 1.0), np.inf)
        return _rounded(value, carried)

    def sqrt(self) -> Bounded:
        value = np.sqrt(np.maximum(self.value, 0.0))
        # |√(a + δ) − √a| = |δ|/(√(a + δ) + √a), and never more than √|δ|
        low = np.sqrt(np.maximum(self.value - self.error, 0.0))
        room = value + low  # 0 where the value is 0: then only √|δ| bounds the move
        quotient = np.where(room > 0, self.error / np.where(room > 0, room, 1.0), np.inf)
        carried = np.minimum(quotient, np.sqrt(self.error))
        return _rounded(value, carried)

    def squared(self) -> Bounded:
        """x^2: a power, which a library may round to within one unit in the last place, not half."""
        carried = 2.0 * np.abs(self.value) * self.error + self.error * self.error
        return _rounded(self.value * self.value, carried, ulps=2.0)

    def column_sum(self) -> Bounded:
        """SUM down each column, added in any order: γ(N−1)·Σ|terms| on top of their own errors."""
        n = self.value.shape[0]
        gamma = (n - 1) * UNIT / (1 - (n - 1) * UNIT)
        value = self.value.sum(axis=0, keepdims=True)
        carried = self.error.sum(axis=0, keepdims=True)
        size = (np.abs(self.value) + self.error).sum(axis=0, keepdims=True)
        error = carried + gamma * size + n * TINY
        return Bounded(value, _cancelled(value, error, CANCELS * size + carried))

    def average(self) -> Bounded:
        return self.column_sum() / Bounded.exact(float(self.value.shape[0]))

    def at(self, exact: Array) -> Bounded:
        """This bound around the node's exact value, as the next formula reads it."""
        return Bounded(exact, np.broadcast_to(self.error, exact.shape).copy())


def nodes(inputs: Inputs, exact: dict[str, Array]) -> dict[str, Array]:
    """Per cell of every input and node, how far float64 evaluation of its template formula can err.

    ``exact`` is every node's exact value (exact.nodes rounded to float64). An input's own bound is
    half an ulp (Bounded.typed), since engines read the file's decimals with different precision.
    """
    b = {name: Bounded.typed(value) for name, value in inputs.arrays().items()}
    n, one = Bounded.exact(float(inputs.n)), Bounded.exact(1.0)
    eps, momentum, lr = Bounded.typed(inputs.eps), Bounded.typed(inputs.momentum), Bounded.typed(inputs.lr)
    # bn_var_correction is a cell: N/(N−1) rounded once when unbiased, else 1
    correction = n / (n - one) if inputs.unbiased else one

    def node(name: str, formula: Bounded) -> None:
        b[name] = formula.at(exact[name])

    node("mean", b["x"].average())
    node("xmu", b["x"] - b["mean"])
    node("sq", b["xmu"].squared())
    node("var", b["sq"].average())
    node("sqrtvar", (b["var"] + eps).sqrt())
    node("ivar", one / b["sqrtvar"])
    node("xhat", b["xmu"] * b["ivar"])
    node("gammax", b["gamma"] * b["xhat"])
    node("out", b["gammax"] + b["beta"])
    node("dbeta", b["dout"].column_sum())
    node("dgammax", b["dout"])
    node("dgamma", (b["dgammax"] * b["xhat"]).column_sum())
    node("dxhat", b["dgammax"] * b["gamma"])
    node("divar", (b["dxhat"] * b["xmu"]).column_sum())
    node("dxmu1", b["dxhat"] * b["ivar"])
    node("dsqrtvar", -one / b["sqrtvar"].squared() * b["divar"])
    node("dvar", Bounded.exact(0.5) / (b["var"] + eps).sqrt() * b["dsqrtvar"])
    node("dsq", one / n * b["dvar"])
    node("dxmu2", Bounded.exact(2.0) * b["xmu"] * b["dsq"])
    node("dx1", b["dxmu1"] + b["dxmu2"])
    node("dmu", -b["dx1"].column_sum())
    node("dx2", one / n * b["dmu"])
    node("dx", b["dx1"] + b["dx2"])
    node("dx_compact", one / n * b["gamma"] * b["ivar"] * (n * b["dout"] - b["dbeta"] - b["xhat"] * b["dgamma"]))
    node("dx_diff", b["dx"] - b["dx_compact"])
    node("new_running_mean", momentum * b["running_mean"] + (one - momentum) * b["mean"])
    node("new_running_var", momentum * b["running_var"] + (one - momentum) * correction * b["var"])
    spread = (b["new_running_var"] + eps).sqrt()
    node("out_inference", b["gamma"] * (b["x"] - b["new_running_mean"]) / spread + b["beta"])
    node("gamma_new", b["gamma"] - lr * b["dgamma"])
    node("beta_new", b["beta"] - lr * b["dbeta"])
    return {name: bounded.error for name, bounded in b.items()}


def params(inputs: Inputs) -> dict[str, float]:
    """The formula parameters: ``n`` (ROWS) is exact, ``var_correction`` is N/(N−1) rounded once."""
    unbiased = bool(inputs.unbiased)
    return {"n": 0.0, "var_correction": UNIT * inputs.n / (inputs.n - 1) if unbiased else 0.0}


def plot_tables(graph: Graph, expected: dict[str, Array], node_bounds: dict[str, Array]) -> dict[str, Array]:
    """The same bound for each table of the plots sheet (plots.layout has their formulas), from
    the bounds of the blocks they summarise."""
    out: dict[str, Array] = {}
    blocks = {name: Bounded(expected[name], node_bounds[name]) for name in graph.plots.blocks}
    n = Bounded.exact(float(next(iter(blocks.values())).value.shape[0]))
    for name, block in blocks.items():
        mean = block.average()
        out[f"plot_mean_{name}"] = mean.error
        # DEVSQ(column)/n: the squares of the deviations from the column's own mean, summed
        out[f"plot_var_{name}"] = ((block - mean.at(expected[f"plot_mean_{name}"])).squared().column_sum() / n).error
    # MIN and MAX of values each within its error are within the largest error of the column
    spread = np.vstack([np.broadcast_to(b.error, b.value.shape) for b in blocks.values()]).max(axis=0, keepdims=True)
    lowest = Bounded(expected["plot_lowest"], spread)
    highest = Bounded(expected["plot_highest"], spread)
    count = plots.bins(graph, int(n.value))
    width = ((highest - lowest) / Bounded.exact(float(count))).at(expected["plot_width"])
    edges = lowest + Bounded.exact(np.arange(count + 1, dtype=np.float64).reshape(-1, 1)) * width
    out |= {"plot_lowest": spread, "plot_highest": spread, "plot_width": width.error, "plot_edges": edges.error}
    return out


def _rounded(value: Array, carried: Array, ulps: float = 1.0) -> Bounded:
    """The result of one operation: the operands' carried error plus one rounding."""
    return Bounded(value, carried + ulps * UNIT * (np.abs(value) + carried) + TINY)


def check_tables(inputs: Inputs, expected: dict[str, Array], node_bounds: dict[str, Array]) -> dict[str, Array]:
    """The same bound for each table of the checks sheet (checks.layout has their formulas), from
    the bounds of the nodes they read; a light (1 or 0) is compared exactly."""
    b = {name: Bounded(expected[name], node_bounds[name]) for name in checks.NODES_READ}
    dout, x = Bounded.typed(expected["dout"]), Bounded.typed(expected["x"])
    out: dict[str, Array] = {
        "check_sum_dx": b["dx"].column_sum().error,
        "check_dx_xhat": (
            (b["dx"] * b["xhat"]).column_sum()
            - Bounded.typed(inputs.eps) * b["ivar"].squared() * b["ivar"] * (b["dxhat"] * b["xhat"]).column_sum()
        ).error,
        "check_dbeta": (b["dbeta"] - dout.column_sum()).error,
        "check_compact": b["dx_diff"].squared().column_sum().sqrt().error,
    }
    out |= {f"{name}_holds": np.zeros_like(out[name]) for name in list(out)}
    step = (Bounded.typed(float(checks.STEP)) * _first(b["sqrtvar"])).at(expected["check_fd_step"])
    nudge = np.zeros((x.value.shape[0], 2))
    nudge[0] = (1.0, -1.0)
    nudged = (_first(x, 2) + Bounded(nudge * step.value, np.abs(nudge) * step.error)).at(expected["check_fd_x"])
    mean = nudged.average().at(expected["check_fd_mean"])
    n = Bounded.exact(float(x.value.shape[0]))
    var = ((nudged - mean).squared().column_sum() / n).at(expected["check_fd_var"])
    gamma, beta = _first(Bounded.typed(expected["gamma"])), _first(Bounded.typed(expected["beta"]))
    spread = (var + Bounded.typed(inputs.eps)).sqrt()
    forward = (gamma * (nudged - mean) / spread + beta).at(expected["check_fd_out"])
    loss = (_first(dout, 2) * forward).column_sum().at(expected["check_fd_loss"])
    plus, minus = Bounded(loss.value[:, :1], loss.error[:, :1]), Bounded(loss.value[:, 1:], loss.error[:, 1:])
    slope = (plus - minus) / (Bounded.exact(2.0) * step)
    out |= {"check_fd_step": step.error, "check_fd_x": nudged.error, "check_fd_mean": mean.error,
            "check_fd_var": var.error, "check_fd_out": forward.error, "check_fd_loss": loss.error,
            "check_fd_slope": slope.error, "check_fd_dx": _first(b["dx"]).error[:1],
            "check_fd_holds": np.zeros((1, 1))}  # fmt: skip
    return out


def _first(values: Bounded, copies: int = 1) -> Bounded:
    """The first column (feature 1), ``copies`` times side by side."""
    value = np.repeat(values.value[:, :1], copies, axis=1)
    error = np.repeat(np.broadcast_to(values.error, values.value.shape)[:, :1], copies, axis=1)
    return Bounded(value, error)


def _cancelled(value: Array, error: Array, within: Array) -> Array:
    """The error of a sum that LibreOffice may round to 0: its whole value where it is ``within``
    (2⁻⁴⁷ of its operands' size, plus their errors) of 0."""
    return np.where(np.abs(value) <= within, np.maximum(error, np.abs(value)), error)
