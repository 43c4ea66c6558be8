"""The NumPy reference for Batch Normalization, written by hand from the math.

It knows nothing of templates or workbooks: verify consults it, it consults nothing.
Arrays are float64; x and dout are N×D, gamma and beta are 1×D (or length-D vectors).

>>> import numpy as np
>>> x = np.array([[1.0, 2.0], [3.0, 6.0]])
>>> out, cache = forward(x, np.ones(2), np.zeros(2))
>>> bool(np.allclose(out.mean(axis=0), 0) and np.allclose(out.var(axis=0), 1, atol=1e-4))
True
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]


def _row(v: Array) -> Array:
    return np.asarray(v, dtype=np.float64).reshape(1, -1)


def forward(x: Array, gamma: Array, beta: Array, eps: float = 1e-5) -> tuple[Array, dict[str, Array]]:
    """Training-mode forward pass, staged; returns out and a cache of every intermediate."""
    x = np.asarray(x, dtype=np.float64)
    gamma, beta = _row(gamma), _row(beta)
    n = x.shape[0]
    mean = x.sum(axis=0, keepdims=True) / n
    xmu = x - mean
    sq = xmu * xmu
    var = sq.sum(axis=0, keepdims=True) / n
    sqrtvar = np.sqrt(var + eps)
    ivar = 1.0 / sqrtvar
    xhat = xmu * ivar
    gammax = gamma * xhat
    out = gammax + beta
    cache = dict(
        x=x,
        gamma=gamma,
        beta=beta,
        eps=np.float64(eps),
        mean=mean,
        xmu=xmu,
        sq=sq,
        var=var,
        sqrtvar=sqrtvar,
        ivar=ivar,
        xhat=xhat,
        gammax=gammax,
        out=out,
    )
    return out, cache


def backward_staged(dout: Array, cache: dict[str, Array]) -> dict[str, Array]:
    """The backward pass one step at a time, in the order of the graph (b9 … b0)."""
    dout = np.asarray(dout, dtype=np.float64)
    n, d = dout.shape
    g: dict[str, Array] = {}
    g["dbeta"] = dout.sum(axis=0, keepdims=True)
    g["dgammax"] = dout.copy()
    g["dgamma"] = (g["dgammax"] * cache["xhat"]).sum(axis=0, keepdims=True)
    g["dxhat"] = g["dgammax"] * cache["gamma"]
    g["divar"] = (g["dxhat"] * cache["xmu"]).sum(axis=0, keepdims=True)
    g["dxmu1"] = g["dxhat"] * cache["ivar"]
    g["dsqrtvar"] = -1.0 / cache["sqrtvar"] ** 2 * g["divar"]
    g["dvar"] = 0.5 / np.sqrt(cache["var"] + cache["eps"]) * g["dsqrtvar"]
    g["dsq"] = np.ones((n, d)) / n * g["dvar"]
    g["dxmu2"] = 2.0 * cache["xmu"] * g["dsq"]
    g["dx1"] = g["dxmu1"] + g["dxmu2"]
    g["dmu"] = -g["dx1"].sum(axis=0, keepdims=True)
    g["dx2"] = np.ones((n, d)) / n * g["dmu"]
    g["dx"] = g["dx1"] + g["dx2"]
    return g


def backward_compact(dout: Array, cache: dict[str, Array]) -> dict[str, Array]:
    """dx, dgamma, dbeta in closed form: dx = (1/N)·gamma·ivar·(N·dout − dbeta − xhat·dgamma)."""
    dout = np.asarray(dout, dtype=np.float64)
    n = dout.shape[0]
    xhat = cache["xhat"]
    dbeta = dout.sum(axis=0, keepdims=True)
    dgamma = (dout * xhat).sum(axis=0, keepdims=True)
    dx = (1.0 / n) * cache["gamma"] * cache["ivar"] * (n * dout - dbeta - xhat * dgamma)
    return {"dx": dx, "dgamma": dgamma, "dbeta": dbeta}


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
) -> dict[str, Array]:
    """Every input and node of the graph by name, each a 2-D array (1×D or N×D): the staged
    forward and backward, the compact dx and its difference from the staged one, the running
    statistics and the inference output computed from them, and one SGD step of gamma and beta.

    Running statistics not given start at mean 0, variance 1.
    """
    _, cache = forward(x, gamma, beta, eps)
    d = cache["x"].shape[1]
    values = {k: v for k, v in cache.items() if k != "eps"}
    values["dout"] = np.asarray(dout, dtype=np.float64)
    values["running_mean"] = _row(np.zeros(d) if running_mean is None else running_mean)
    values["running_var"] = _row(np.ones(d) if running_var is None else running_var)
    values.update(backward_staged(dout, cache))
    values["dx_compact"] = backward_compact(dout, cache)["dx"]
    values["dx_diff"] = values["dx"] - values["dx_compact"]
    new_mean, new_var = running_stats(x, values["running_mean"], values["running_var"], momentum, unbiased)
    values["new_running_mean"], values["new_running_var"] = new_mean, new_var
    values["out_inference"] = forward_inference(x, gamma, beta, new_mean, new_var, eps)
    values["gamma_new"] = sgd_step(cache["gamma"], values["dgamma"], lr)
    values["beta_new"] = sgd_step(cache["beta"], values["dbeta"], lr)
    return values


def forward_inference(
    x: Array, gamma: Array, beta: Array, running_mean: Array, running_var: Array, eps: float = 1e-5
) -> Array:
    """Inference-mode output: normalise with the running statistics instead of the batch's."""
    xhat = (np.asarray(x, dtype=np.float64) - _row(running_mean)) / np.sqrt(_row(running_var) + eps)
    return _row(gamma) * xhat + _row(beta)


def running_stats(
    x: Array,
    running_mean: Array,
    running_var: Array,
    momentum: float = 0.9,
    unbiased: bool = False,
) -> tuple[Array, Array]:
    """One update of the running estimates: running = momentum·running + (1−momentum)·batch.

    With ``unbiased`` the batch variance is scaled by N/(N−1) before it enters the average.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    mean = x.sum(axis=0, keepdims=True) / n
    var = ((x - mean) ** 2).sum(axis=0, keepdims=True) / (n - 1 if unbiased else n)
    new_mean = momentum * _row(running_mean) + (1.0 - momentum) * mean
    new_var = momentum * _row(running_var) + (1.0 - momentum) * var
    return new_mean, new_var


def sgd_step(param: Array, grad: Array, lr: float) -> Array:
    """One plain gradient-descent step: param − lr·grad."""
    return np.asarray(param, dtype=np.float64) - lr * np.asarray(grad, dtype=np.float64)


def bin_edges(lowest: Array, highest: Array, bins: int) -> Array:
    """(bins+1)×D edges per column: edge k = lowest + k·(highest − lowest)/bins."""
    width = (_row(highest) - _row(lowest)) / bins
    edges: Array = _row(lowest) + np.arange(bins + 1, dtype=np.float64).reshape(-1, 1) * width
    return edges


def histogram(values: Array, edges: Array) -> Array:
    """bins×D counts per column: bin k holds edges[k] ≤ v < edges[k+1]; the last bin is closed
    above, so it holds every v ≥ its lower edge (the column's highest value included)."""
    values = np.asarray(values, dtype=np.float64)
    at_or_above = (values[None, :, :] >= edges[:, None, :]).sum(axis=1).astype(np.float64)
    counts: Array = at_or_above[:-1] - at_or_above[1:]
    counts[-1] = at_or_above[-2]
    return counts


def numerical_gradient(f: Callable[[Array], float], at: Array, h: float = 1e-5) -> Array:
    """Central differences of a scalar function f at every element of ``at``."""
    at = np.array(at, dtype=np.float64)
    grad = np.zeros_like(at)
    for index in np.ndindex(at.shape):
        saved = at[index]
        at[index] = saved + h
        plus = f(at)
        at[index] = saved - h
        minus = f(at)
        at[index] = saved
        grad[index] = (plus - minus) / (2 * h)
    return grad
