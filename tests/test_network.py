"""The experiment's network: its whole backward pass against central differences, with and without BN,
and its BN layers doing what the reference layer does."""

import numpy as np
import pytest

from bnsheet.experiment.network import Diverged, Network, gradient_check
from bnsheet.model import reference

SIZES = [12, 9, 8, 7, 4]  # three hidden layers


def _batch(seed=0, n=16):
    rng = np.random.default_rng(seed)
    return rng.normal(0.3, 1.0, (n, SIZES[0])), rng.integers(0, SIZES[-1], n)


@pytest.mark.parametrize("batch_norm", [True, False])
@pytest.mark.parametrize("seed", [0, 1])
def test_whole_network_gradient_matches_central_differences(batch_norm, seed):
    net = Network.create(SIZES, weight_scale=0.4, batch_norm=batch_norm, seed=seed)
    x, labels = _batch(seed)
    errors = dict(gradient_check(net, x, labels))
    expected = {"W1", "W2", "W3", "W4", "b4"} | (
        {"gamma1", "gamma2", "gamma3", "beta1", "beta2", "beta3"} if batch_norm else {"b1", "b2", "b3"}
    )
    assert set(errors) == expected
    assert max(errors.values()) < 1e-6, errors


def test_gradient_check_catches_a_wrong_bn_backward(monkeypatch):
    right = reference.backward_staged

    def without_the_variance_path(dout, cache):
        grads = right(dout, cache)
        return grads | {"dx": grads["dxmu1"] + grads["dx2"]}  # dx with the dxmu2 branch forgotten

    monkeypatch.setattr(reference, "backward_staged", without_the_variance_path)
    net = Network.create(SIZES, weight_scale=0.4, batch_norm=True, seed=0)
    errors = dict(gradient_check(net, *_batch()))
    assert errors["W1"] > 1e-2  # below the first BN layer the gradient is wrong
    assert errors["gamma3"] < 1e-6  # above it nothing changed


def test_bn_batch_is_what_the_layer_saw():
    net = Network.create(SIZES, weight_scale=0.4, batch_norm=True, seed=2)
    x, labels = _batch(2)
    step = net.gradients(x, labels)
    first, last = step.bn_batches[0], step.bn_batches[-1]
    np.testing.assert_array_equal(first.x, x @ net.params["W1"])  # no bias before BN
    np.testing.assert_array_equal(last.gamma, net.params["gamma3"])
    # dout is the gradient flowing into the BN output: its column sums are dL/dbeta, judged numerically
    numerical = reference.numerical_gradient(
        lambda beta: _loss_with(net, "beta3", beta, x, labels), net.params["beta3"]
    )
    np.testing.assert_allclose(last.dout.sum(axis=0, keepdims=True), numerical, rtol=1e-6, atol=1e-10)


def _loss_with(net, name, value, x, labels):
    saved = net.params[name]
    net.params[name] = value
    try:
        return net.loss(x, labels)
    finally:
        net.params[name] = saved


def test_train_step_moves_parameters_by_sgd_and_updates_running_statistics():
    net = Network.create(SIZES, weight_scale=0.4, batch_norm=True, seed=3)
    x, labels = _batch(3)
    before = {name: value.copy() for name, value in net.params.items()}
    step = net.train_step(x, labels, lr=0.5)
    for name in before:
        np.testing.assert_allclose(net.params[name], before[name] - 0.5 * step.grads[name], rtol=0, atol=1e-15)
    entering = x @ before["W1"]
    np.testing.assert_allclose(net.running_mean[0], 0.1 * entering.mean(axis=0, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(net.running_var[0], 0.9 + 0.1 * entering.var(axis=0, keepdims=True), rtol=1e-12)


def test_inference_uses_running_statistics_not_the_batch():
    net = Network.create([3, 4, 2], weight_scale=1.0, batch_norm=True, seed=4)
    net.running_mean[0] = np.array([[1.0, -1.0, 0.5, 2.0]])
    net.running_var[0] = np.array([[4.0, 1.0, 0.25, 9.0]])
    x = np.array([[1.0, 2.0, 3.0]])  # a batch of one: batch statistics would be meaningless
    a = x @ net.params["W1"]
    hidden = np.maximum((a - net.running_mean[0]) / np.sqrt(net.running_var[0] + 1e-5), 0)
    np.testing.assert_allclose(net.scores(x), hidden @ net.params["W2"] + net.params["b2"], rtol=1e-12)


def test_training_lowers_the_loss():
    net = Network.create(SIZES, weight_scale=0.1, batch_norm=True, seed=5)
    x, labels = _batch(5, n=32)
    first = net.train_step(x, labels, lr=0.1).loss
    for _ in range(100):
        last = net.train_step(x, labels, lr=0.1).loss
    assert last < 0.5 * first


def test_a_blown_up_step_raises_diverged_and_leaves_the_parameters():
    net = Network.create([4, 5, 3], weight_scale=1e200, batch_norm=False, seed=0)
    before = {name: value.copy() for name, value in net.params.items()}
    with pytest.raises(Diverged):
        net.train_step(np.ones((4, 4)), np.array([0, 1, 2, 0]), lr=0.1)
    for name, value in before.items():
        np.testing.assert_array_equal(net.params[name], value)
