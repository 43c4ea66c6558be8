"""The layer's inputs: made from a seed, or taken from arrays, DataFrames or CSV files, and checked."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard, Union

import numpy as np

from ..a1 import MAX_COLS, MAX_ROWS
from ..errors import InputError
from ..layout import BLOCK_LEFT, BLOCK_TOP
from .csvinput import read_csv
from .reference import Array

if TYPE_CHECKING:
    import pandas as pd

ArrayLike = Union[Array, "pd.DataFrame", "list[list[float]]", str, Path]

DEFAULT_N, DEFAULT_D, DEFAULT_SEED, DEFAULT_EPS = 4, 3, 0, 1e-5
DEFAULT_MOMENTUM, DEFAULT_LR = 0.9, 0.1
ROW_INPUTS = ("gamma", "beta", "running_mean", "running_var")
MAX_BLOCK_CELLS = 1 << 20  # N·D: a 1024×1024 layer, 16× the 512×128 benchmark; beyond, a build takes hours


@dataclass(frozen=True)
class Inputs:
    """x and dout (N×D); gamma, beta, running_mean, running_var (1×D); eps, momentum, unbiased
    (0 or 1) and lr: everything the graph is computed from."""

    x: Array
    gamma: Array
    beta: Array
    dout: Array
    eps: float
    running_mean: Array
    running_var: Array
    momentum: float = DEFAULT_MOMENTUM
    unbiased: float = 0.0
    lr: float = DEFAULT_LR

    @property
    def n(self) -> int:
        return int(self.x.shape[0])

    @property
    def d(self) -> int:
        return int(self.x.shape[1])

    def arrays(self) -> dict[str, Array]:
        """The input blocks by name."""
        return {
            "x": self.x,
            "gamma": self.gamma,
            "beta": self.beta,
            "dout": self.dout,
            "running_mean": self.running_mean,
            "running_var": self.running_var,
        }

    def params(self) -> dict[str, float]:
        """The parameters a user sets, by name."""
        return {"eps": self.eps, "momentum": self.momentum, "unbiased": self.unbiased, "lr": self.lr}

    def arguments(self) -> dict[str, Any]:
        """Everything reference.nodes and exact.nodes take, by name: the arrays and the parameters
        (``unbiased`` a bool)."""
        return self.arrays() | self.params() | {"unbiased": bool(self.unbiased)}


def make(
    n: int | None = None,
    d: int | None = None,
    seed: int = DEFAULT_SEED,
    eps: float = DEFAULT_EPS,
    x: ArrayLike | None = None,
    gamma: ArrayLike | None = None,
    beta: ArrayLike | None = None,
    dout: ArrayLike | None = None,
    running_mean: ArrayLike | None = None,
    running_var: ArrayLike | None = None,
    momentum: float = DEFAULT_MOMENTUM,
    unbiased: bool = False,
    lr: float = DEFAULT_LR,
) -> Inputs:
    """Inputs from what the user gave; what is missing is drawn from ``seed``.

    Drawn values are rounded to two decimals so a learner can read them; given values are
    used bit for bit.

    >>> make(n=2, d=3).x.shape
    (2, 3)
    """
    _check_counts(n, d, seed)
    sources = {
        "x": x,
        "gamma": gamma,
        "beta": beta,
        "dout": dout,
        "running_mean": running_mean,
        "running_var": running_var,
    }
    given = {name: _as_array(name, value) for name, value in sources.items() if value is not None}
    n, d = _size(n, d, given.get("x"))
    for param, setting in (("eps", eps), ("momentum", momentum), ("lr", lr)):
        problem = param_problem(param, setting)
        if problem:
            raise InputError(problem)
    drawn = _draw(seed, n, d)
    arrays = {name: _shaped(name, given.get(name, drawn[name]), n, d, sources[name]) for name in drawn}
    if (arrays["running_var"] < 0).any():
        raise InputError("running_var must not be negative: it is a variance")
    return Inputs(
        x=arrays["x"],
        gamma=arrays["gamma"],
        beta=arrays["beta"],
        dout=arrays["dout"],
        eps=float(eps),
        running_mean=arrays["running_mean"],
        running_var=arrays["running_var"],
        momentum=float(momentum),
        unbiased=float(bool(unbiased)),
        lr=float(lr),
    )


def _check_counts(n: int | None, d: int | None, seed: int) -> None:
    """N, D and the seed are whole numbers (not True, not 2.0), the seed 0 or more."""
    for name, value in (("N", n), ("D", d), ("seed", seed)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
            raise InputError(f"{name} must be a whole number, got {value!r}")
    if seed < 0:
        raise InputError(f"seed must be 0 or more, got {seed}")


def _size(n: int | None, d: int | None, x: Array | None) -> tuple[int, int]:
    """N and D: a given x sets them (and must agree with --n and --d), else the defaults fill in."""
    if x is not None:
        n_given, d_given = x.shape
        clashes = [f"--n asks for {n} rows"] if n is not None and n != n_given else []
        clashes += [f"--d asks for {d} columns"] if d is not None and d != d_given else []
        if clashes:
            raise InputError(f"x is {n_given}x{d_given} but {' and '.join(clashes)}; x alone can set N and D")
        n, d = n_given, d_given
    n = DEFAULT_N if n is None else n
    d = DEFAULT_D if d is None else d
    check_size(n, d)
    return n, d


def _draw(seed: int, n: int, d: int) -> dict[str, Array]:
    """Every input drawn from ``seed``, rounded to two decimals; the given ones then replace theirs."""
    rng = np.random.default_rng(seed)
    return {
        "x": np.round(rng.normal(1.0, 2.0, (n, d)), 2),
        "gamma": np.round(rng.uniform(0.5, 1.5, (1, d)), 2),
        "beta": np.round(rng.normal(0.0, 0.5, (1, d)), 2),
        "dout": np.round(rng.normal(0.0, 1.0, (n, d)), 2),
        # drawn after the others, so x, gamma, beta and dout stay what they were for a seed
        "running_mean": np.round(rng.normal(0.0, 1.0, (1, d)), 2),
        "running_var": np.round(rng.uniform(0.5, 2.0, (1, d)), 2),
    }


def _shaped(name: str, array: Array, n: int, d: int, source: ArrayLike | None) -> Array:
    """``array`` as the input ``name`` must be: N×D for x and dout, 1×D for the rows (a D×1 column
    is turned); ``source`` names the CSV file in the message when it came from one."""
    want = (n, d) if name in ("x", "dout") else (1, d)
    if name in ROW_INPUTS and array.ndim == 2 and array.shape == (d, 1):
        array = array.reshape(1, d)
    if array.shape != want:
        origin = f" ({source})" if isinstance(source, (str, Path)) else ""
        raise InputError(f"{name}{origin} must be {want[0]}x{want[1]}, got {array.shape[0]}x{array.shape[1]}")
    return array


# What each parameter a user sets may be: eps under a square root and dividing, momentum a weight
# between the running statistic and the batch's, unbiased a switch the workbook tests with =0.
_PARAM_RULES: dict[str, tuple[str, Callable[[float], bool]]] = {
    "eps": ("a positive number", lambda value: math.isfinite(value) and value > 0),
    "momentum": ("a number from 0 to 1", lambda value: 0 <= value <= 1),
    "unbiased": ("0 or 1", lambda value: value in (0, 1)),
    "lr": ("a finite number", math.isfinite),
}


def param_problem(name: str, value: object) -> str | None:
    """Why ``value`` cannot be the parameter ``name`` (one line), or None when it can or ``name``
    has no rule (a template's own parameter).

    >>> param_problem("unbiased", 2.0), param_problem("eps", 1e-5)
    ('unbiased must be 0 or 1, got 2', None)
    """
    if name not in _PARAM_RULES:
        return None
    wanted, holds = _PARAM_RULES[name]
    if isinstance(value, (int, float, np.number)) and holds(float(value)):
        return None
    shown = f"{float(value):.15g}" if isinstance(value, (int, float, np.number)) else repr(value)
    return f"{name} must be {wanted}, got {shown}"


def check_size(n: int, d: int) -> None:
    """Refuse sizes the graph or a spreadsheet cannot hold (N ≥ 2, D ≥ 1, Excel's sheet limits)."""
    if n < 2:
        raise InputError(f"N must be at least 2 for a batch mean and variance, got {n}")
    if d < 1:
        raise InputError(f"D must be at least 1, got {d}")
    if BLOCK_TOP + n - 1 > MAX_ROWS or BLOCK_LEFT + d - 1 > MAX_COLS:
        raise InputError(
            f"{n}x{d} does not fit on a sheet: the block starts at row {BLOCK_TOP}, column {BLOCK_LEFT} "
            f"and Excel allows {MAX_ROWS} rows and {MAX_COLS} columns"
        )
    if n * d > MAX_BLOCK_CELLS:
        raise InputError(f"{n}x{d} = {n * d} cells per sheet; bnsheet builds up to {MAX_BLOCK_CELLS} (N·D)")


def _as_array(name: str, value: ArrayLike) -> Array:
    if isinstance(value, (str, Path)):
        array = read_csv(Path(value))
    elif _is_data_frame(value):
        try:
            array = value.to_numpy(dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(f"{name}: the DataFrame holds values that are not numbers") from None
    else:
        try:
            array = np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(f"{name}: not an array of numbers") from None
    if array.ndim == 1:
        array = array.reshape(1, -1)
    if array.ndim != 2 or array.size == 0:
        raise InputError(f"{name}: expected a non-empty 2-D array, got shape {array.shape}")
    bad = np.argwhere(~np.isfinite(array))
    if bad.size:
        r, c = bad[0]
        raise InputError(f"{name}: row {r + 1}, column {c + 1} is {array[r, c]}, not a finite number")
    return array


def _is_data_frame(value: object) -> TypeGuard[pd.DataFrame]:
    """Whether ``value`` is a pandas DataFrame; without importing pandas (a third of a second), since
    nobody holds one where pandas was never imported."""
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)
