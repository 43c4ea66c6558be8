"""The NumPy reference against independent judges: a numerical gradient, the closed form,
hand calculations, and PyTorch autograd where it is installed."""

import numpy as np
import pytest

from bnsheet.model import reference

SHAPES = [(2, 1), (2, 3), (4, 3), (7, 5), (16, 2)]


def _case(n, d, seed, constant_column=False):
    rng = np.random.default_rng(seed)
    x = rng.normal(0.5, 2.0, (n, d))
    if constant_column:
        x[:, 0] = 1.25
    gamma = rng.uniform(0.5, 1.5, (1, d))
    beta = rng.normal(0, 1, (1, d))
    dout = rng.normal(0, 1, (n, d))
    return x, gamma, beta, dout


def _rel_err(a, b):
    """Largest difference relative to the gradient's scale.

    Element by element would be unfair to central differences: for N=2 some entries are ~1e-5
    of the largest, and the h² truncation error of the difference quotient is not.
    """
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a)), np.max(np.abs(b)), 1e-300))


@pytest.mark.parametrize("n, d", SHAPES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_backward_matches_numerical_gradient(n, d, seed):
    x, gamma, beta, dout = _case(n, d, seed)
    # With N=2 the output is ±gamma·sqrt(var/(var+eps)): the gradient is of order eps while the
    # difference quotient's h² error is not, so that case takes a larger eps to be measurable.
    eps = 1e-3 if n == 2 else 1e-5
    _, cache = reference.forward(x, gamma, beta, eps)
    grads = reference.backward_staged(dout, cache)

    def loss(x_, g_, b_):
        return float(np.sum(reference.forward(x_, g_, b_, eps)[0] * dout))

    num_dx = reference.numerical_gradient(lambda v: loss(v, gamma, beta), x)
    num_dgamma = reference.numerical_gradient(lambda v: loss(x, v, beta), gamma)
    num_dbeta = reference.numerical_gradient(lambda v: loss(x, gamma, v), beta)
    assert _rel_err(grads["dx"], num_dx) < 1e-7
    assert _rel_err(grads["dgamma"], num_dgamma) < 1e-7
    assert _rel_err(grads["dbeta"], num_dbeta) < 1e-7


@pytest.mark.parametrize("n, d", [(2, 2), (4, 3), (8, 4)])
def test_backward_matches_numerical_gradient_with_a_constant_column(n, d):
    # var = 0 in that column: only eps keeps sqrtvar away from zero, so the curvature is
    # high there and a larger eps keeps central differences accurate.
    x, gamma, beta, dout = _case(n, d, 7, constant_column=True)
    eps = 1e-2
    _, cache = reference.forward(x, gamma, beta, eps)
    grads = reference.backward_staged(dout, cache)
    num_dx = reference.numerical_gradient(lambda v: float(np.sum(reference.forward(v, gamma, beta, eps)[0] * dout)), x)
    assert _rel_err(grads["dx"], num_dx) < 1e-7
    assert np.all(cache["xhat"][:, 0] == 0)


def test_numerical_gradient_itself_on_a_known_function():
    at = np.array([[1.0, -2.0, 0.5]])
    grad = reference.numerical_gradient(lambda v: float(np.sum(v**3)), at)
    np.testing.assert_allclose(grad, 3 * at**2, rtol=1e-9)


@pytest.mark.parametrize("n, d", SHAPES)
def test_staged_and_compact_backward_agree(n, d):
    x, gamma, beta, dout = _case(n, d, 3)
    _, cache = reference.forward(x, gamma, beta)
    staged = reference.backward_staged(dout, cache)
    compact = reference.backward_compact(dout, cache)
    for name in ("dx", "dgamma", "dbeta"):
        np.testing.assert_allclose(staged[name], compact[name], rtol=1e-12, atol=1e-12)


def test_forward_by_hand():
    # column 0: x = 1, 3 → mean 2, xmu ∓1, var 1; column 1: x = 2, 6 → mean 4, xmu ∓2, var 4
    x = np.array([[1.0, 2.0], [3.0, 6.0]])
    out, cache = reference.forward(x, [2.0, 1.0], [0.5, 0.0], eps=0.0)
    np.testing.assert_array_equal(cache["mean"], [[2.0, 4.0]])
    np.testing.assert_array_equal(cache["var"], [[1.0, 4.0]])
    np.testing.assert_array_equal(cache["xhat"], [[-1.0, -1.0], [1.0, 1.0]])
    np.testing.assert_array_equal(out, [[-1.5, -1.0], [2.5, 1.0]])


def test_nodes_names_every_input_and_node():
    x, gamma, beta, dout = _case(3, 2, 0)
    names = set(reference.nodes(x, gamma, beta, dout))
    assert {
        "x",
        "gamma",
        "beta",
        "dout",
        "mean",
        "xhat",
        "out",
        "dbeta",
        "dsqrtvar",
        "dx1",
        "dmu",
        "dx",
    } <= names


def test_running_stats_by_hand():
    x = np.array([[1.0], [3.0]])  # mean 2, biased var 1, unbiased var 2
    mean, var = reference.running_stats(x, [0.0], [1.0], momentum=0.75)
    np.testing.assert_allclose(mean, [[0.5]])
    np.testing.assert_allclose(var, [[1.0]])
    _, var_unbiased = reference.running_stats(x, [0.0], [1.0], momentum=0.75, unbiased=True)
    np.testing.assert_allclose(var_unbiased, [[1.25]])


def test_inference_uses_running_statistics():
    out = reference.forward_inference(np.array([[3.0]]), [2.0], [1.0], [1.0], [4.0], eps=0.0)
    np.testing.assert_allclose(out, [[3.0]])  # (3-1)/2 * 2 + 1


def test_sgd_step_by_hand():
    np.testing.assert_allclose(reference.sgd_step([[1.0, 2.0]], [[0.5, -1.0]], lr=0.1), [[0.95, 2.1]])


def test_matches_torch_autograd_forward_and_backward():
    torch = pytest.importorskip("torch")
    x, gamma, beta, dout = _case(6, 4, 11)
    eps = 1e-5
    tx = torch.tensor(x, requires_grad=True)
    tg = torch.tensor(gamma.ravel(), requires_grad=True)
    tb = torch.tensor(beta.ravel(), requires_grad=True)
    tout = torch.nn.functional.batch_norm(tx, None, None, tg, tb, training=True, eps=eps)
    tout.backward(torch.tensor(dout))
    out, cache = reference.forward(x, gamma, beta, eps)
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-12)  # forward went well
    grads = reference.backward_staged(dout, cache)
    np.testing.assert_allclose(grads["dx"], tx.grad.numpy(), rtol=1e-10, atol=1e-12)  # backward went well
    np.testing.assert_allclose(grads["dgamma"].ravel(), tg.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grads["dbeta"].ravel(), tb.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_histogram_agrees_with_numpy_histogram():
    rng = np.random.default_rng(7)
    values = rng.normal(0, 1, (50, 3))
    edges = reference.bin_edges(values.min(axis=0), values.max(axis=0), 8)
    counts = reference.histogram(values, edges)
    for j in range(3):
        expected, _ = np.histogram(values[:, j], bins=8, range=(values[:, j].min(), values[:, j].max()))
        assert counts[:, j].tolist() == expected.tolist()
    assert edges[0].tolist() == values.min(axis=0).tolist() and counts.sum(axis=0).tolist() == [50, 50, 50]


def test_histogram_of_a_constant_column_puts_everything_in_the_last_bin():
    values = np.full((4, 1), 2.5)
    counts = reference.histogram(values, reference.bin_edges(values.min(axis=0), values.max(axis=0), 8))
    assert counts[:, 0].tolist() == [0, 0, 0, 0, 0, 0, 0, 4]


@pytest.mark.parametrize("unbiased, ddof", [(False, 0), (True, 1)])
def test_running_statistics_with_numpy_var(unbiased, ddof):
    x, *_ = _case(6, 3, 4)
    running_mean, running_var = np.array([[0.5, -1.0, 2.0]]), np.array([[1.0, 2.0, 0.25]])
    new_mean, new_var = reference.running_stats(x, running_mean, running_var, momentum=0.8, unbiased=unbiased)
    np.testing.assert_allclose(new_mean, 0.8 * running_mean + 0.2 * np.mean(x, axis=0), rtol=1e-14)
    np.testing.assert_allclose(new_var, 0.8 * running_var + 0.2 * np.var(x, axis=0, ddof=ddof), rtol=1e-14)


def test_inference_with_the_batch_statistics_is_the_training_forward():
    x, gamma, beta, _ = _case(5, 4, 5)
    out, _ = reference.forward(x, gamma, beta, 1e-5)
    inferred = reference.forward_inference(x, gamma, beta, x.mean(axis=0), x.var(axis=0), 1e-5)
    np.testing.assert_allclose(inferred, out, rtol=1e-12, atol=1e-12)


def test_one_sgd_step_lowers_the_loss():
    # loss = sum(out * dout), whose gradient with respect to out is dout
    x, gamma, beta, dout = _case(6, 3, 6)
    values = reference.nodes(x, gamma, beta, dout, lr=1e-3)

    def loss(g, b):
        return float(np.sum(reference.forward(x, g, b)[0] * dout))

    assert loss(values["gamma_new"], values["beta_new"]) < loss(gamma, beta)
    np.testing.assert_allclose(values["dx_diff"], 0, atol=1e-12)
