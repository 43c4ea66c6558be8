"""The exact judge (model/exact.py, double-double) against exact rationals and 60-digit decimals,
written here from the math; and where float64 cancels, the judge is the one that is right."""

from __future__ import annotations

from decimal import Decimal, localcontext
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnsheet.model import exact, reference
from bnsheet.model.doubledouble import DD

EPS, MOMENTUM, LR = 1e-5, 0.9, 0.1


def _decimal_nodes(x, gamma, beta, dout, rm, rv, unbiased=False, eps=EPS):
    """Every node, column by column, in decimal arithmetic with 60 digits (the inputs exactly:
    Decimal(float) converts without rounding)."""
    n, d = x.shape
    nodes: dict[str, list[list[Decimal]]] = {}

    def put(name, column, j):
        nodes.setdefault(name, [[None] * d for _ in column])
        for i, value in enumerate(column):
            nodes[name][i][j] = value

    with localcontext() as ctx:
        ctx.prec = 60
        N, e, m, lr = Decimal(n), Decimal(eps), Decimal(MOMENTUM), Decimal(LR)
        for j in range(d):
            xs, ds = [Decimal(v) for v in x[:, j]], [Decimal(v) for v in dout[:, j]]
            g, b = Decimal(gamma[j]), Decimal(beta[j])
            mean = sum(xs) / N
            xmu = [v - mean for v in xs]
            var = sum(v * v for v in xmu) / N
            sqrtvar = (var + e).sqrt()
            ivar = 1 / sqrtvar
            xhat = [v * ivar for v in xmu]
            dbeta, dgamma = sum(ds), sum(a * h for a, h in zip(ds, xhat, strict=True))
            dxhat = [a * g for a in ds]
            divar = sum(a * v for a, v in zip(dxhat, xmu, strict=True))
            dsqrtvar = -divar / (sqrtvar * sqrtvar)
            dvar = Decimal("0.5") / sqrtvar * dsqrtvar
            dx1 = [a * ivar + 2 * v * dvar / N for a, v in zip(dxhat, xmu, strict=True)]
            dmu = -sum(dx1)
            dx = [v + dmu / N for v in dx1]
            compact = [g * ivar / N * (N * a - dbeta - h * dgamma) for a, h in zip(ds, xhat, strict=True)]
            new_mean = m * Decimal(rm[j]) + (1 - m) * mean
            new_var = m * Decimal(rv[j]) + (1 - m) * (N / (N - 1) if unbiased else 1) * var
            columns = {
                "mean": [mean], "xmu": xmu, "sq": [v * v for v in xmu], "var": [var], "sqrtvar": [sqrtvar],
                "ivar": [ivar], "xhat": xhat, "gammax": [g * h for h in xhat], "out": [g * h + b for h in xhat],
                "dbeta": [dbeta], "dgamma": [dgamma], "dxhat": dxhat, "divar": [divar],
                "dxmu1": [a * ivar for a in dxhat], "dsqrtvar": [dsqrtvar], "dvar": [dvar], "dsq": [dvar / N] * n,
                "dxmu2": [2 * v * dvar / N for v in xmu], "dx1": dx1, "dmu": [dmu], "dx2": [dmu / N] * n, "dx": dx,
                "dx_compact": compact, "dx_diff": [a - c for a, c in zip(dx, compact, strict=True)],
                "new_running_mean": [new_mean], "new_running_var": [new_var],
                "out_inference": [g * (Decimal(v) - new_mean) / (new_var + e).sqrt() + b for v in x[:, j]],
                "gamma_new": [g - lr * dgamma], "beta_new": [b - lr * dbeta],
            }  # fmt: skip
            for name, column in columns.items():
                put(name, column, j)
    return nodes


def _error(value: DD, truth) -> np.ndarray:
    """|hi + lo − truth| per cell, in 60-digit decimals."""
    with localcontext() as ctx:
        ctx.prec = 60
        return np.array(
            [
                [float(abs(Decimal(h) + Decimal(lo) - t)) for h, lo, t in zip(hs, ls, ts, strict=True)]
                for hs, ls, ts in zip(value.hi, value.lo, truth, strict=True)
            ]
        )


def _inputs(rng, n=3, d=2):
    return dict(
        x=rng.normal(1.0, 2.0, (n, d)), gamma=rng.uniform(0.5, 1.5, d), beta=rng.normal(0, 0.5, d),
        dout=rng.normal(0, 1, (n, d)), running_mean=rng.normal(0, 1, d), running_var=rng.uniform(0.5, 2, d),
    )  # fmt: skip


def test_the_judge_has_every_node_of_the_reference_in_its_shape():
    given = _inputs(np.random.default_rng(0), n=4, d=3)
    judge, float64 = exact.nodes(**given), reference.nodes(**given)
    assert list(judge) == list(float64)
    assert all(judge[name].shape == float64[name].shape for name in float64)


@pytest.mark.parametrize("unbiased", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_node_agrees_with_60_digit_decimals_to_about_30_digits(seed, unbiased):
    given = _inputs(np.random.default_rng(seed))
    judge = exact.nodes(**given, unbiased=unbiased)
    truth = _decimal_nodes(
        given["x"], given["gamma"], given["beta"], given["dout"], given["running_mean"], given["running_var"], unbiased
    )
    for name, column in truth.items():
        # dx_diff is 0 in exact arithmetic: what is left is measured against dx, whose difference it is
        scale = np.abs(judge["dx" if name == "dx_diff" else name].hi).max()
        assert _error(judge[name], column).max() <= 1e-29 * scale, name


# far from underflow: squares of values near 1e-160 leave double-double's range as they leave float64's
_VALUES = st.floats(-1e6, 1e6).filter(lambda v: v == 0 or abs(v) > 1e-100)


@settings(max_examples=40, deadline=None, derandomize=True, database=None)
@given(st.lists(_VALUES, min_size=6, max_size=6), st.integers(0, 2**32 - 1))
def test_the_rational_nodes_are_exact_to_2_to_the_minus_100(values, seed):
    # mean, xmu, sq, var, dbeta, dxhat and the running mean are rational in the inputs: Fraction is exact
    x = np.array(values).reshape(3, 2)
    given = _inputs(np.random.default_rng(seed)) | {"x": x}
    judge = exact.nodes(**given)
    for j in range(2):
        xs = [Fraction(v) for v in x[:, j]]
        mean = sum(xs) / 3
        xmu = [v - mean for v in xs]
        var = sum(v * v for v in xmu) / 3
        scale = max(abs(v) for v in xs) or Fraction(1)
        for name, want, size in [("mean", [mean], scale), ("xmu", xmu, scale), ("var", [var], scale * scale),
                                 ("sq", [v * v for v in xmu], scale * scale)]:  # fmt: skip
            got = [Fraction(h) + Fraction(lo) for h, lo in zip(judge[name].hi[:, j], judge[name].lo[:, j], strict=True)]
            assert all(abs(g - w) <= size * Fraction(1, 2**100) for g, w in zip(got, want, strict=True)), name
        dbeta = sum(Fraction(v) for v in given["dout"][:, j])
        assert Fraction(judge["dbeta"].hi[0, j]) + Fraction(judge["dbeta"].lo[0, j]) == dbeta  # 3 doubles: exact


def _nearly_constant():
    x = np.array([[1.0, 2.5], [2.0, 0.5], [4.0, -1.0]])
    x[:, 1] = [1.0, 1.0 + 1e-15, 1.0 + 2e-15]
    return _inputs(np.random.default_rng(4)) | {"x": x}


@pytest.mark.parametrize(
    "given, node",
    [
        (_nearly_constant(), "xhat"),  # x − mean is all rounding in float64
        (_inputs(np.random.default_rng(1), n=2) | {"x": np.array([[1.5, 2.0], [3.0, 4.0]])}, "dx_compact"),
    ],
)
def test_where_float64_cancels_the_judge_is_right_and_the_reference_is_not(given, node):
    truth = _decimal_nodes(given["x"], given["gamma"], given["beta"], given["dout"], given["running_mean"],
                           given["running_var"])[node]  # fmt: skip
    judge = exact.nodes(**given)[node]
    float64 = reference.nodes(**given)[node]
    judge_error = _error(judge, truth)
    reference_error = _error(DD.of(float64), truth)
    # the judge rounded to float64 is within half an ulp of the truth: as close as a double can be
    assert (_error(DD.of(judge.hi), truth) <= 0.5 * np.spacing(np.abs(judge.hi))).all()
    assert judge_error.max() < 1e-12 * reference_error.max()
    # float64 is off by ten thousand ulps or more of the values in the column that cancels
    relative = np.abs(float64 - judge.hi).max(axis=0) / np.abs(judge.hi).max(axis=0)
    assert relative.max() > 1e-12


@pytest.mark.parametrize("a, b", [(1e300, 1 / 3), (-1e305, 0.7), (3.0, 1e-10), (2.0**-1000, 2.0**-20)])
def test_a_product_is_exact_as_hi_plus_lo_even_near_the_ends_of_the_range(a, b):
    product = DD.of(np.array([a])) * np.array([b])  # Dekker's split is scaled down above 2^996
    assert Fraction(product.hi[0]) + Fraction(product.lo[0]) == Fraction(a) * Fraction(b)
