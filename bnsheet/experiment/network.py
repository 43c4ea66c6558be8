"""A small fully connected network whose Batch Normalization layers are bnsheet's reference layer.

Each hidden layer is affine → BatchNorm (optional) → ReLU; the last layer is affine → softmax with
cross-entropy; training is plain SGD. The BN forward, staged backward, running statistics and
inference output are the functions of :mod:`bnsheet.reference`, not a second implementation, so the
experiment exercises the very layer the workbook shows.

Parameters live in one dict by name (``W1``, ``b1``, …, ``W6``, ``b6``; with BN ``gamma1``,
``beta1``, … and no bias before a BN layer, whose beta takes its place), so an SGD step and a
gradient check are one loop over names.

>>> import numpy as np
>>> net = Network.create([4, 3, 2], weight_scale=0.5, batch_norm=True, seed=0)
>>> sorted(net.params)
['W1', 'W2', 'b2', 'beta1', 'gamma1']
>>> x, labels = np.ones((5, 4)), np.array([0, 1, 0, 1, 1])
>>> step = net.gradients(x, labels)
>>> step.grads["W1"].shape, len(step.bn_batches)
((4, 3), 1)
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from ..model import reference
from ..model.reference import Array


class Diverged(ArithmeticError):
    """Training blew up: the loss or an update overflowed or became NaN (plain nets at large weight scales)."""


@dataclass(frozen=True)
class BNBatch:
    """What one BN layer saw at one step: the batch entering it (x), its gamma and beta, and the
    gradient flowing back into it (dout)."""

    x: Array
    gamma: Array
    beta: Array
    dout: Array


@dataclass(frozen=True)
class Step:
    """One forward and backward pass over a batch: the loss, a gradient per parameter, and each BN layer's batch."""

    loss: float
    grads: dict[str, Array]
    bn_batches: list[BNBatch]


@dataclass
class Network:
    """Layer sizes, parameters by name and, with BN, the running statistics of each BN layer."""

    sizes: list[int]
    batch_norm: bool
    params: dict[str, Array]
    eps: float = 1e-5
    momentum: float = 0.9
    running_mean: list[Array] = field(default_factory=list)
    running_var: list[Array] = field(default_factory=list)

    @classmethod
    def create(
        cls, sizes: list[int], *, weight_scale: float, batch_norm: bool, seed: int, eps: float = 1e-5
    ) -> Network:
        """Weights drawn as weight_scale·N(0, 1) from ``seed`` (the same draw with or without BN),
        biases 0 (none before a BN layer), gamma 1, beta 0; running statistics start at mean 0, variance 1."""
        rng = np.random.default_rng(seed)
        params: dict[str, Array] = {}
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
            params[f"W{i}"] = weight_scale * rng.standard_normal((fan_in, fan_out))
            if not batch_norm or i == len(sizes) - 1:
                params[f"b{i}"] = np.zeros((1, fan_out))
        hidden = sizes[1:-1]
        net = cls(list(sizes), batch_norm, params, eps)
        if batch_norm:
            for i, width in enumerate(hidden, start=1):
                params[f"gamma{i}"] = np.ones((1, width))
                params[f"beta{i}"] = np.zeros((1, width))
            net.running_mean = [np.zeros((1, width)) for width in hidden]
            net.running_var = [np.ones((1, width)) for width in hidden]
        return net

    @property
    def hidden_layers(self) -> int:
        return len(self.sizes) - 2

    def scores(self, x: Array) -> Array:
        """Inference: class scores with each BN layer normalising by its running statistics."""
        h = np.asarray(x, dtype=np.float64)
        for i in range(1, self.hidden_layers + 1):
            a = self._affine(h, i)
            if self.batch_norm:
                a = reference.forward_inference(
                    a,
                    self.params[f"gamma{i}"],
                    self.params[f"beta{i}"],
                    self.running_mean[i - 1],
                    self.running_var[i - 1],
                    self.eps,
                )
            h = np.maximum(a, 0.0)
        return self._affine(h, self.hidden_layers + 1)

    def accuracy(self, x: Array, labels: Array) -> float:
        """Share of samples whose highest score is their label (inference mode); a sample whose scores
        overflow counts as wrong."""
        with np.errstate(over="ignore", invalid="ignore"):
            scores = self.scores(x)
        right = (np.argmax(scores, axis=1) == labels) & np.isfinite(scores).all(axis=1)
        return float(np.mean(right))

    def loss(self, x: Array, labels: Array) -> float:
        """Training-mode loss (BN normalises by the batch's own statistics)."""
        return self._forward(x, labels)[0]

    def gradients(self, x: Array, labels: Array) -> Step:
        """Training-mode forward and backward over one batch; parameters are left unchanged."""
        loss, tape, bn_caches = self._forward(x, labels)
        grads: dict[str, Array] = {}
        bn_batches: list[BNBatch] = []
        n = x.shape[0]
        last = self.hidden_layers + 1
        probs, h = tape["probs"], tape[f"h{self.hidden_layers}"]
        dscores = probs.copy()
        dscores[np.arange(n), labels] -= 1.0
        dscores /= n
        grads[f"W{last}"] = h.T @ dscores
        grads[f"b{last}"] = dscores.sum(axis=0, keepdims=True)
        dh = dscores @ self.params[f"W{last}"].T
        for i in range(self.hidden_layers, 0, -1):
            da = dh * (tape[f"relu_in{i}"] > 0)
            if self.batch_norm:
                cache = bn_caches[i - 1]
                bn = reference.backward_staged(da, cache)
                bn_batches.append(BNBatch(cache["x"], cache["gamma"], cache["beta"], da))
                grads[f"gamma{i}"], grads[f"beta{i}"] = bn["dgamma"], bn["dbeta"]
                da = bn["dx"]
            grads[f"W{i}"] = tape[f"h{i - 1}"].T @ da
            if f"b{i}" in self.params:
                grads[f"b{i}"] = da.sum(axis=0, keepdims=True)
            dh = da @ self.params[f"W{i}"].T
        return Step(loss, grads, bn_batches[::-1])

    def train_step(self, x: Array, labels: Array, lr: float) -> Step:
        """One SGD step on a batch; with BN also one update of each layer's running statistics.

        Raises Diverged, leaving the parameters as they were, when the loss or an update is not
        finite.
        """
        try:
            with np.errstate(over="raise", invalid="raise"):
                step = self.gradients(x, labels)
                updated = {name: reference.sgd_step(self.params[name], grad, lr) for name, grad in step.grads.items()}
        except FloatingPointError as exc:
            raise Diverged(str(exc)) from None
        if not (math.isfinite(step.loss) and all(np.isfinite(p).all() for p in updated.values())):
            raise Diverged(f"loss {step.loss}")
        self.params.update(updated)
        for i, batch in enumerate(step.bn_batches):
            self.running_mean[i], self.running_var[i] = reference.running_stats(
                batch.x, self.running_mean[i], self.running_var[i], self.momentum
            )
        return step

    def _affine(self, h: Array, i: int) -> Array:
        a: Array = h @ self.params[f"W{i}"]
        return a + self.params[f"b{i}"] if f"b{i}" in self.params else a

    def _forward(self, x: Array, labels: Array) -> tuple[float, dict[str, Array], list[dict[str, Array]]]:
        """The loss, the activations the backward pass needs, and each BN layer's reference cache."""
        tape: dict[str, Array] = {"h0": np.asarray(x, dtype=np.float64)}
        bn_caches: list[dict[str, Array]] = []
        h = tape["h0"]
        for i in range(1, self.hidden_layers + 1):
            a = self._affine(h, i)
            if self.batch_norm:
                a, cache = reference.forward(a, self.params[f"gamma{i}"], self.params[f"beta{i}"], self.eps)
                bn_caches.append(cache)
            tape[f"relu_in{i}"] = a
            h = tape[f"h{i}"] = np.maximum(a, 0.0)
        scores = self._affine(h, self.hidden_layers + 1)
        shifted = scores - scores.max(axis=1, keepdims=True)  # the softmax is unchanged, exp cannot overflow
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        tape["probs"] = np.exp(log_probs)
        loss = float(-log_probs[np.arange(x.shape[0]), labels].mean())
        return loss, tape, bn_caches


def gradient_check(net: Network, x: Array, labels: Array, h: float = 1e-5) -> Iterator[tuple[str, float]]:
    """Each parameter's name and the relative error between its analytic gradient and central differences.

    The error is max|analytic − numerical| / max(|analytic|, |numerical|) over the parameter's
    entries; the loss is the training-mode loss of the whole network on (x, labels).
    """
    analytic = net.gradients(x, labels).grads
    for name, grad in analytic.items():
        saved = net.params[name]

        def loss_at(value: Array, name: str = name) -> float:
            net.params[name] = value
            return net.loss(x, labels)

        try:
            numerical = reference.numerical_gradient(loss_at, saved, h)
        finally:
            net.params[name] = saved
        scale = max(float(np.abs(grad).max()), float(np.abs(numerical).max()), 1e-300)
        yield name, float(np.abs(grad - numerical).max()) / scale
