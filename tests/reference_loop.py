"""The reference loop, written the tutorial way, as an independent yardstick.

This is the code of the reference experiment (DESIGN.md) in the style of the
book "Deep Learning from Scratch" (``common/layers.py``,
``common/functions.py``, ``common/gradient.py`` and ``ch05/two_layer_net.py``):
layer objects that cache ``self.x`` / ``self.out`` in ``forward``, a
``TwoLayerNet`` holding its parameters in a ``params`` dict, mini-batches drawn
with ``choice`` (with replacement, as ``np.random.choice`` does), plain SGD,
and a numerical gradient that perturbs one element at a time with
``np.nditer`` and runs two full forward passes per element.

It shares no code with skbp on purpose: ``tests/test_reference_loop.py`` uses
it as an independent oracle (skbp's numerical gradient equals its per-element
one, skbp's backprop training equals its training on the same batches), and
``benchmarks/run.py`` times it beside skbp. Two departures from the book:
random numbers come from a seeded ``np.random.RandomState`` instead of the
global generator, and the constant in the book's ``log(y + 1e-7)`` can be set
(``eps=0.0`` computes the exact cross-entropy, which is what skbp
differentiates; the book's constant shifts the gradient by about 1e-8).
"""

from collections import OrderedDict

import numpy as np

BOOK_EPS = 1e-7


# ------------------------------------------------------ common/functions.py


def sigmoid(x):
    """The book's sigmoid."""
    return 1 / (1 + np.exp(-x))


def softmax(x):
    """The book's softmax, with the max subtracted against overflow."""
    x = x - np.max(x, axis=-1, keepdims=True)
    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)


def cross_entropy_error(y, t, eps=BOOK_EPS):
    """The book's mean cross-entropy of one-hot (or label) ``t`` under ``y``."""
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + eps)) / batch_size


# --------------------------------------------------------- common/layers.py


class Affine:
    """``out = x @ W + b``; caches ``x`` for ``backward``."""

    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.x = None
        self.original_x_shape = None
        self.dW = None
        self.db = None

    def forward(self, x):
        """Forward pass."""
        self.original_x_shape = x.shape
        x = x.reshape(x.shape[0], -1)
        self.x = x
        out = np.dot(self.x, self.W) + self.b
        return out

    def backward(self, dout):
        """Backward pass: stores ``dW``, ``db``, returns ``dx``."""
        dx = np.dot(dout, self.W.T)
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)
        dx = dx.reshape(*self.original_x_shape)
        return dx


class Sigmoid:
    """``out = sigmoid(x)``; caches ``out`` for ``backward``."""

    def __init__(self):
        self.out = None

    def forward(self, x):
        """Forward pass."""
        out = sigmoid(x)
        self.out = out
        return out

    def backward(self, dout):
        """Backward pass."""
        dx = dout * (1.0 - self.out) * self.out
        return dx


class SoftmaxWithLoss:
    """Softmax and mean cross-entropy; caches ``y`` and ``t``."""

    def __init__(self, eps=BOOK_EPS):
        self.loss = None
        self.y = None
        self.t = None
        self.eps = eps

    def forward(self, x, t):
        """Forward pass: returns the loss."""
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, self.t, self.eps)
        return self.loss

    def backward(self, dout=1):
        """Backward pass: ``(y - t) / batch_size``."""
        batch_size = self.t.shape[0]
        if self.t.size == self.y.size:
            dx = (self.y - self.t) / batch_size
        else:
            dx = self.y.copy()
            dx[np.arange(batch_size), self.t] -= 1
            dx = dx / batch_size
        return dx


# ------------------------------------------------------- common/gradient.py


def numerical_gradient(f, x, h=1e-4):
    """Central differences of ``f`` over every element of ``x``, one at a time."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        idx = it.multi_index
        tmp_val = x[idx]
        x[idx] = float(tmp_val) + h
        fxh1 = f(x)  # f(x+h)
        x[idx] = tmp_val - h
        fxh2 = f(x)  # f(x-h)
        grad[idx] = (fxh1 - fxh2) / (2 * h)
        x[idx] = tmp_val
        it.iternext()
    return grad


# ------------------------------------------------------- ch05/two_layer_net.py


def init_params(
    input_size, hidden_size, output_size, rng, init="normal", weight_init_std=0.01
):
    """Initial ``W1, b1, W2, b2``.

    ``init="normal"``: the book's ``weight_init_std * randn`` weights and zero
    biases. ``init="glorot"``: scikit-learn's Glorot-uniform draw for logistic
    units, ``U(-r, r)`` with ``r = sqrt(2 / (fan_in + fan_out))``, W then b
    layer by layer from the same generator, which gives the same initial
    weights as ``MLPClassifier`` and ``BPClassifier`` for the same seed.
    """
    params = {}
    layers = [(input_size, hidden_size), (hidden_size, output_size)]
    for k, (fan_in, fan_out) in enumerate(layers, start=1):
        if init == "glorot":
            bound = np.sqrt(2.0 / (fan_in + fan_out))
            params[f"W{k}"] = rng.uniform(-bound, bound, (fan_in, fan_out))
            params[f"b{k}"] = rng.uniform(-bound, bound, fan_out)
        else:
            params[f"W{k}"] = weight_init_std * rng.randn(fan_in, fan_out)
            params[f"b{k}"] = np.zeros(fan_out)
    return params


class TwoLayerNet:
    """Affine -> Sigmoid -> Affine -> SoftmaxWithLoss over a ``params`` dict.

    Parameters
    ----------
    input_size, hidden_size, output_size : int
        Layer sizes.
    params : dict, optional
        ``{"W1", "b1", "W2", "b2"}`` arrays to use (kept by reference). By
        default drawn by ``init_params(..., rng, init, weight_init_std)``.
    eps : float
        The constant in the loss's ``log(y + eps)``: the book's 1e-7, or 0.
    """

    def __init__(
        self,
        input_size,
        hidden_size,
        output_size,
        weight_init_std=0.01,
        *,
        rng=None,
        init="normal",
        params=None,
        eps=BOOK_EPS,
    ):
        if params is None:
            rng = rng if rng is not None else np.random.RandomState(0)
            params = init_params(
                input_size, hidden_size, output_size, rng, init, weight_init_std
            )
        self.params = params

        self.layers = OrderedDict()
        self.layers["Affine1"] = Affine(self.params["W1"], self.params["b1"])
        self.layers["Sigmoid1"] = Sigmoid()
        self.layers["Affine2"] = Affine(self.params["W2"], self.params["b2"])
        self.lastLayer = SoftmaxWithLoss(eps)

    def predict(self, x):
        """Forward pass up to the logits."""
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        """Mean cross-entropy of the batch."""
        y = self.predict(x)
        return self.lastLayer.forward(y, t)

    def accuracy(self, x, t):
        """Fraction of correct predictions; ``t`` one-hot or labels."""
        y = self.predict(x)
        y = np.argmax(y, axis=1)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        accuracy = np.sum(y == t) / float(x.shape[0])
        return accuracy

    def numerical_gradient(self, x, t, h=1e-4):
        """Per-element central differences: two full forward passes per parameter."""

        def loss_W(W):
            return self.loss(x, t)

        grads = {}
        for key in ("W1", "b1", "W2", "b2"):
            grads[key] = numerical_gradient(loss_W, self.params[key], h)
        return grads

    def gradient(self, x, t):
        """Backpropagation: one forward pass, then each layer's ``backward``."""
        # forward
        self.loss(x, t)

        # backward
        dout = 1
        dout = self.lastLayer.backward(dout)

        layers = list(self.layers.values())
        layers.reverse()
        for layer in layers:
            dout = layer.backward(dout)

        grads = {}
        grads["W1"], grads["b1"] = self.layers["Affine1"].dW, self.layers["Affine1"].db
        grads["W2"], grads["b2"] = self.layers["Affine2"].dW, self.layers["Affine2"].db
        return grads


def params_to_flat(params):
    """``W1, b1, W2, b2`` of a ``params`` dict as one flat array (skbp's layout)."""
    return np.concatenate([params[key].ravel() for key in ("W1", "b1", "W2", "b2")])


def params_from_flat(flat, layer_units):
    """A ``params`` dict (copies) from a flat ``W1, b1, W2, b2`` array."""
    n_in, n_hidden, n_out = layer_units
    params, start = {}, 0
    shapes = [(n_in, n_hidden), (n_hidden, n_out)]
    for k, (fan_in, fan_out) in enumerate(shapes, start=1):
        params[f"W{k}"] = flat[start : start + fan_in * fan_out].reshape(
            fan_in, fan_out
        )
        start += fan_in * fan_out
        params[f"b{k}"] = flat[start : start + fan_out]
        start += fan_out
    return {key: value.copy() for key, value in params.items()}


def one_hot(y, n_classes):
    """One-hot rows for integer labels ``y``."""
    return np.eye(n_classes)[y]


def choice_batches(rng, n_rows, batch_size, n_steps):
    """The book's batches: ``n_steps`` draws of ``rng.choice(n_rows, batch_size)``."""
    for _ in range(n_steps):
        yield rng.choice(n_rows, batch_size)


def train(network, x_train, t_train, batches, learning_rate, grad="backprop"):
    """Plain SGD over ``batches`` (arrays of row indices); return the losses.

    ``grad="numerical"`` uses the per-element numerical gradient.
    """
    losses = []
    for batch_mask in batches:
        x_batch = x_train[batch_mask]
        t_batch = t_train[batch_mask]

        if grad == "numerical":
            grads = network.numerical_gradient(x_batch, t_batch)
        else:
            grads = network.gradient(x_batch, t_batch)

        for key in ("W1", "b1", "W2", "b2"):
            network.params[key] -= learning_rate * grads[key]

        losses.append(network.lastLayer.loss)
    return losses
