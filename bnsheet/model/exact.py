"""Every node of the reference in double-double arithmetic: what each cell's formula gives in exact
arithmetic at the workbook's own inputs, to about 32 digits instead of float64's 16.

The float64 reference (reference.py) rounds at every step, and where a node cancels (x minus its
mean in a nearly constant column, the compact dx at N = 2) those roundings are all that is left.
These values do not: they are the judge an engine is measured against, the float64 reference one
honest way of computing them. The steps follow reference.nodes line by line; the keys are the same.

>>> import numpy as np
>>> x = np.array([[1.0], [1.0 + 2.0**-52], [1.0 + 2.0**-51]])
>>> values = nodes(x, np.ones(1), np.zeros(1), np.zeros((3, 1)))
>>> float(values["xmu"].hi[0, 0]) == -(2.0**-52)  # exactly: the mean is 1 + 2⁻⁵²
True
"""

from __future__ import annotations

import numpy as np

from .doubledouble import DD, Array


def nodes(
    x: Array,
    gamma: Array,
    beta: Array,
    dout: Array,
    eps: float = 1e-5,
    running_mean: Array | None = None,
    running_var: Array | None = None,
    momentum: float = 0.9,
    unbiased: bool = False,
    lr: float = 0.1,
) -> dict[str, DD]:
    """Every input and node by name, as reference.nodes gives them, each a double-double array.

    ``values[name].hi`` is the exact value rounded to float64 (unless the exact value is beyond
    float64's range, where it is ±inf, or the double-double overflows on the way, where it is NaN).
    """
    v: dict[str, DD] = {}
    n, d = np.shape(x)
    v["x"], v["gamma"], v["beta"] = DD.of(x), DD.of(_row(gamma)), DD.of(_row(beta))
    v["mean"] = v["x"].column_sum() / n
    v["xmu"] = v["x"] - v["mean"]
    v["sq"] = v["xmu"] * v["xmu"]
    v["var"] = v["sq"].column_sum() / n
    v["sqrtvar"] = (v["var"] + eps).sqrt()
    v["ivar"] = 1.0 / v["sqrtvar"]
    v["xhat"] = v["xmu"] * v["ivar"]
    v["gammax"] = v["gamma"] * v["xhat"]
    v["out"] = v["gammax"] + v["beta"]
    v["dout"] = DD.of(dout)
    v["running_mean"] = DD.of(_row(np.zeros(d) if running_mean is None else running_mean))
    v["running_var"] = DD.of(_row(np.ones(d) if running_var is None else running_var))
    v["dbeta"] = v["dout"].column_sum()
    v["dgammax"] = v["dout"]
    v["dgamma"] = (v["dgammax"] * v["xhat"]).column_sum()
    v["dxhat"] = v["dgammax"] * v["gamma"]
    v["divar"] = (v["dxhat"] * v["xmu"]).column_sum()
    v["dxmu1"] = v["dxhat"] * v["ivar"]
    v["dsqrtvar"] = -(v["divar"] / (v["sqrtvar"] * v["sqrtvar"]))
    v["dvar"] = 0.5 / v["sqrtvar"] * v["dsqrtvar"]  # sqrtvar is √(var + eps) itself
    v["dsq"] = _down(v["dvar"] / n, n)
    v["dxmu2"] = 2.0 * v["xmu"] * v["dsq"]
    v["dx1"] = v["dxmu1"] + v["dxmu2"]
    v["dmu"] = -v["dx1"].column_sum()
    v["dx2"] = _down(v["dmu"] / n, n)
    v["dx"] = v["dx1"] + v["dx2"]
    v["dx_compact"] = v["gamma"] * v["ivar"] * (n * v["dout"] - v["dbeta"] - v["xhat"] * v["dgamma"]) / n
    v["dx_diff"] = v["dx"] - v["dx_compact"]
    keep = DD.of(1.0) - momentum  # 1 − momentum, exactly
    v["new_running_mean"] = momentum * v["running_mean"] + keep * v["mean"]
    correction = DD.of(float(n)) / (n - 1) if unbiased else DD.of(1.0)
    v["new_running_var"] = momentum * v["running_var"] + keep * correction * v["var"]
    scale = v["gamma"] / (v["new_running_var"] + eps).sqrt()  # one division per feature, not per cell
    v["out_inference"] = scale * (v["x"] - v["new_running_mean"]) + v["beta"]
    v["gamma_new"] = v["gamma"] - lr * v["dgamma"]
    v["beta_new"] = v["beta"] - lr * v["dbeta"]
    return v


def _row(values: Array) -> Array:
    return np.asarray(values, dtype=np.float64).reshape(1, -1)


def _down(row: DD, n: int) -> DD:
    """A 1×D row repeated down N rows: an N×D node whose every row is the same (dsq, dx2)."""
    return DD(np.repeat(row.hi, n, axis=0), np.repeat(row.lo, n, axis=0))
