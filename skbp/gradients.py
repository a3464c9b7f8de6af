"""The two ways to compute the flat gradient of the loss, and ``gradient_check``.

Both functions take a :class:`~skbp.network.Network`, a batch and its
targets (one-hot rows or class indices), write the gradient into
``network.grads`` and return the loss at the current parameters. They are
looked up by name in ``GRADIENTS``.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sp

from ._threads import blas_threads, single_threaded_blas
from .network import Network, apply_layers

# Bytes of float64 scratch one batch of perturbed forward passes may use.
_NUMERICAL_CHUNK_BYTES = 2 * 2**20


def backprop_gradient(network, X, T, sample_weight=None, *, alpha=0.0, h=None):
    """Fill ``network.grads`` by backpropagation; return the loss.

    One forward pass caches each layer's activations, then each layer's
    ``backward`` turns the gradient of its output into the gradient of its
    input and of its parameters.
    """
    loss = network.forward(X, T, sample_weight, alpha)
    network.backward()
    return loss


def numerical_gradient(network, X, T, sample_weight=None, *, alpha=0.0, h=1e-4):
    """Fill ``network.grads`` by central differences of the loss; return the loss.

    For every parameter ``k``,
    ``g_k = (L(theta + h e_k) - L(theta - h e_k)) / (2 h)``, where each ``L``
    is a genuine forward pass, in float64, of every layer downstream of the
    perturbed parameter, through the loss. The perturbed copies of one layer's
    ``(W, b)`` are stacked side by side so that their forward passes run as one
    matrix product per layer; activations upstream of the perturbed layer are
    computed once and reused. Nothing else about the network's structure is
    exploited: this costs ``2 * n_params`` forward passes per call.
    """
    params = network.params.astype(np.float64)  # always a copy: never perturbed
    net = Network.from_spec(network.spec, params)
    X = X.astype(np.float64) if sp.issparse(X) else np.asarray(X, dtype=np.float64)
    T = np.asarray(T)
    if T.ndim == 1:  # class indices
        T = np.eye(net.layer_units[-1])[T]
    T = T.astype(np.float64, copy=False)
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=np.float64)

    # Unperturbed pass: the input of every Affine layer, and the loss itself.
    inputs, x = [], X
    for layer in net.layers:
        if layer in net.affines:
            inputs.append(x)
        x = layer(x)
    stacked_loss = net.loss_layer.stacked_loss
    loss = float(stacked_loss(x[:, None, :], T, sample_weight)[0])
    # The L2 term is part of L: each perturbed copy's sum(W**2) is recomputed.
    l2 = net.penalty_scale(X.shape[0], sample_weight, alpha) if alpha else 0.0
    squares = net.squared_weights()
    loss += l2 * sum(squares)

    # Chunks of perturbations of one layer's (W, b), each within the scratch
    # budget: per pair of copies (+h, -h), the two perturbed (W, b) and their
    # outputs at every layer downstream, through the loss.
    layers, start, n_chunks = [], 0, 0
    for index, (affine, x_in) in enumerate(zip(net.affines, inputs, strict=True)):
        downstream = net.layers[net.layers.index(affine) + 1 :]
        n_layer = affine.W.size + affine.b.size
        outputs = X.shape[0] * (sum(net.layer_units[index + 1 :]) + 3)
        n_chunk = max(1, _NUMERICAL_CHUNK_BYTES // (16 * (n_layer + outputs)))
        others = l2 * (sum(squares) - squares[index])
        args = (affine, x_in, downstream, stacked_loss, h, T, sample_weight, l2, others)
        layers.append((start, n_layer, n_chunk, args))
        start += n_layer
        n_chunks += -(-n_layer // n_chunk)
    # Made as taken, so the list of chunks takes no memory either.
    queue = (
        (start, lo, min(lo + n_chunk, n_layer), args)
        for start, n_layer, n_chunk, args in layers
        for lo in range(0, n_layer, n_chunk)
    )

    grads = np.empty_like(params)
    errstate = np.geterr()
    lock, stop = threading.Lock(), []

    def work():
        """Take chunks until none are left (or the caller stopped)."""
        with np.errstate(**errstate):  # thread-local: pass the caller's on
            while not stop:
                with lock:
                    chunk = next(queue, None)
                if chunk is None:
                    return
                start, lo, hi, args = chunk
                losses = _perturbed_losses(np.arange(lo, hi), *args)
                grads[start + lo : start + hi] = (losses[0] - losses[1]) / (2 * h)

    # Elementwise numpy (exp) runs on one core: spread the chunks over as many
    # threads as BLAS may use (this one included), each with 1-thread BLAS.
    n_threads = min(blas_threads(), n_chunks)
    with single_threaded_blas():
        helpers = [_executor(n_threads - 1).submit(work) for _ in range(n_threads - 1)]
        try:
            work()
        finally:
            stop.append(True)  # on an exception (Ctrl-C) the helpers stop too
            for helper in helpers:
                helper.result()
    network.grads[...] = grads
    return loss


# Thread pools by process and size, kept across calls. A forked child has
# none of its parent's threads: it drops the parent's pools (the process id
# in the key covers a fork that runs no at-fork hooks).
_EXECUTORS = {}
if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_EXECUTORS.clear)


def _executor(n_threads):
    """This process's pool of ``n_threads`` threads (started on first use)."""
    key = (os.getpid(), n_threads)
    executor = _EXECUTORS.get(key)
    if executor is None:  # two threads may both miss: one pool wins, unused
        pool = ThreadPoolExecutor(n_threads, thread_name_prefix="skbp")
        executor = _EXECUTORS.setdefault(key, pool)
    return executor


def _perturbed_losses(
    k, affine, x_in, downstream, stacked_loss, h, T, sample_weight, l2, others
):
    """Losses with ``affine``'s parameters ``k`` (flat, W then b) moved by +h and -h.

    ``stacked_loss`` is the output layer's loss of stacked copies of its input.

    ``l2 * sum(W'**2) + others`` is the L2 term of each perturbed copy ``W'``
    (``others`` covers the unperturbed layers).

    Returns an array of shape (2, len(k)): row 0 for +h, row 1 for -h.
    """
    n_in, n_out = affine.W.shape
    n = len(k)
    # 2n perturbed copies of W side by side: column block p holds copy p.
    W = np.empty((n_in, 2, n, n_out))
    W[...] = affine.W[:, None, None, :]
    b = np.empty((2, n, n_out))
    b[...] = affine.b
    on_W = k < n_in * n_out
    i, j = np.divmod(k[on_W], n_out)
    W[i, 0, on_W.nonzero()[0], j] += h
    W[i, 1, on_W.nonzero()[0], j] -= h
    p, j = (~on_W).nonzero()[0], k[~on_W] - n_in * n_out
    b[0, p, j] += h
    b[1, p, j] -= h

    n_samples = x_in.shape[0]
    out = (x_in @ W.reshape(n_in, -1)).reshape(n_samples, 2 * n, n_out)
    out += b.reshape(2 * n, n_out)
    out = out.reshape(-1, n_out)
    out = apply_layers(downstream, out)  # out is our own scratch
    losses = stacked_loss(out.reshape(n_samples, 2 * n, -1), T, sample_weight)
    if l2:
        copies = W.reshape(n_in, 2 * n, n_out)
        losses += l2 * np.einsum("ipj,ipj->p", copies, copies) + others
    return losses.reshape(2, n)


GRADIENTS = {"backprop": backprop_gradient, "numerical": numerical_gradient}


def gradient_check(estimator, X, y):
    """Compare backprop and numerical gradients at an estimator's parameters.

    Both gradients of the loss ``fit`` minimises on ``(X, y)`` (the output
    layer's loss, weighted by ``class_weight`` if set, plus the L2 term) are
    computed in float64 at the estimator's current parameters, or, when it is
    not fitted, at the initial parameters ``fit`` would draw (nothing is
    trained and the estimator is left unchanged). ``X`` and ``y`` are
    validated as ``fit`` validates them. The numerical gradient uses the
    estimator's ``numerical_step``.

    The error of each parameter array is the norm-wise relative error
    ``||g_bp - g_num|| / (||g_bp|| + ||g_num||)`` (0 when both are zero).
    With ``h = numerical_step`` its floor is about ``eps * |loss| / h``
    divided by the gradient's norm (``eps = 2.2e-16``): roughly 1e-11 for a
    loss near 2.3 and ``h = 1e-4``, so gradients that are themselves
    vanishingly small (deep layers under a tiny initialisation) show larger
    errors without anything being wrong.

    Parameters
    ----------
    estimator : BPClassifier
        Fitted or unfitted estimator.
    X : array-like of shape (n_samples, n_features)
        Input data.
    y : array-like of shape (n_samples,) or (n_samples, n_labels)
        Labels (an indicator matrix for multilabel problems).

    Returns
    -------
    errors : dict of str to float
        ``{"W1": err, "b1": err, "W2": err, "b2": err, ...}`` in layer order.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skbp import BPClassifier, gradient_check
    >>> X, y = load_iris(return_X_y=True)
    >>> errors = gradient_check(BPClassifier((5,), random_state=0), X, y)
    >>> list(errors)
    ['W1', 'b1', 'W2', 'b2']
    >>> max(errors.values()) < 1e-8
    True
    """
    network, X, T, sample_weight = estimator._gradient_problem(X, y)
    alpha = estimator.alpha
    backprop_gradient(network, X, T, sample_weight, alpha=alpha)
    g_bp = network.grads.copy()
    numerical_gradient(
        network, X, T, sample_weight, alpha=alpha, h=estimator.numerical_step
    )
    g_num = network.grads
    errors = {}
    for name, sl, _ in network.param_slices():
        scale = np.linalg.norm(g_bp[sl]) + np.linalg.norm(g_num[sl])
        diff = np.linalg.norm(g_bp[sl] - g_num[sl])
        errors[name] = float(diff / scale) if scale > 0 else 0.0
    return errors
