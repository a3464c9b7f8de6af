"""The two ways to compute the flat gradient of the loss, and ``gradient_check``.

Both functions take a :class:`~skbp.network.Network`, a batch and its
targets (one-hot rows or class indices), write the gradient into
``network.grads`` and return the loss at the current parameters. They are
looked up by name in ``GRADIENTS``.
"""

import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial

import numpy as np
import scipy.sparse as sp

from ._array_api import is_numpy, namespace, to_numpy
from ._threads import blas_threads, single_threaded_blas
from .network import Network, apply_layers

# Bytes of float64 scratch one batch of perturbed forward passes may use, per
# thread: elementwise work runs fastest within a CPU core's caches. Another
# namespace's device has its own budget (see _device_budget).
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
    perturbed parameter, through the loss, plus the L2 term of the perturbed
    weights. Nothing about the network's structure is exploited: this costs
    ``2 * n_params`` forward passes per call, run in chunks of about
    ``_NUMERICAL_CHUNK_BYTES`` per thread whatever the shapes and rows (see
    ``_perturbed_losses``). With dropout, every pass uses the step's masks
    (``network.masks``), as backprop's does.
    """
    xp = namespace(network.params)
    # Always a copy, never perturbed.
    params = xp.astype(network.params, xp.float64, copy=True)
    net = Network.from_spec(network.spec, params)
    net.masks = network.masks
    loss, plus, minus = _perturbed_losses(net, X, T, sample_weight, alpha, h)
    network.grads[...] = xp.astype((plus - minus) / (2 * h), network.params.dtype)
    return loss


# The central difference of one batch of perturbations: the perturbed copies
# of one layer's (W, b), their losses on some rows, their L2 terms.


def _perturbed_copies(affine, k, h):
    """Copies of ``affine``'s ``(W, b)`` with parameter ``k[p]`` moved by +h and -h.

    ``k`` indexes the layer's parameters flat, ``W`` (C order) then ``b``.
    Returns ``W`` of shape (n_in, 2, n, n_out) and ``b`` of shape
    (2, n, n_out), ``n = len(k)``: copy ``(0, p)`` moves ``k[p]`` by +h,
    copy ``(1, p)`` by -h. The copies of ``W`` lie side by side, so that one
    matrix product runs all their forward passes.
    """
    n_in, n_out = affine.W.shape
    n = len(k)
    if not is_numpy(affine.W):
        return _perturbed_copies_plain(affine, k, h)
    W = np.empty((n_in, 2, n, n_out))
    W[...] = affine.W[:, None, None, :]
    b = np.empty((2, n, n_out))
    b[...] = affine.b
    on_W = k < n_in * n_out
    p, (i, j) = on_W.nonzero()[0], np.divmod(k[on_W], n_out)
    W[i, 0, p, j] += h
    W[i, 1, p, j] -= h
    p, j = (~on_W).nonzero()[0], k[~on_W] - n_in * n_out
    b[0, p, j] += h
    b[1, p, j] -= h
    return W, b


def _perturbed_copies_plain(affine, k, h):
    """``_perturbed_copies`` for any namespace: a mask where numpy indexes.

    The parameters ``k`` (consecutive: a chunk) are moved by adding ``h``
    times a 0/1 mask of ``k`` to each copy of the layer's flat ``(W, b)``,
    which rounds as the numpy form does (``w + 0.0`` is ``w``).
    """
    xp = namespace(affine.W)
    n_in, n_out = affine.W.shape
    n, n_W = len(k), n_in * n_out
    flat = xp.concat([xp.reshape(affine.W, (n_W,)), affine.b])
    # Row p has its 1 at column k[0] + p.
    moved = xp.eye(
        n, n_W + n_out, k=int(k[0]), dtype=flat.dtype, device=affine.W.device
    )
    moved *= h
    copies = xp.concat([flat + moved, flat - moved])  # (2 n, n_params)
    W = xp.permute_dims(xp.reshape(copies[:, :n_W], (2 * n, n_in, n_out)), (1, 0, 2))
    return xp.reshape(W, (n_in, 2, n, n_out)), xp.reshape(
        copies[:, n_W:], (2, n, n_out)
    )


def _data_losses(W, b, x_in, downstream, stacked_loss, T, sample_weight):
    """Loss on these rows of each copy ``(W, b)`` of the layer whose input is ``x_in``.

    ``downstream`` are the layers after it; ``stacked_loss`` is the output
    layer's (weighted) mean loss of stacked copies of its input. Returns an
    array of shape (2, n) laid out as the copies.
    """
    reshape = namespace(W).reshape
    n_in, _, n, n_out = W.shape
    n_rows = x_in.shape[0]
    out = reshape(x_in @ reshape(W, (n_in, -1)), (n_rows, 2 * n, n_out))
    out += reshape(b, (2 * n, n_out))
    out = apply_layers(downstream, reshape(out, (-1, n_out)))  # our own scratch
    losses = stacked_loss(reshape(out, (n_rows, 2 * n, -1)), T, sample_weight)
    return reshape(losses, (2, n))


def _penalties(W, l2, others):
    """L2 term ``l2 * sum(W'**2) + others`` of each copy ``W'``, shape (2, n).

    ``others`` is the L2 term of the other, unperturbed layers.
    """
    xp = namespace(W)
    n_in, _, n, n_out = W.shape
    copies = xp.reshape(W, (n_in, 2 * n, n_out))
    if is_numpy(W):
        squares = np.einsum("ipj,ipj->p", copies, copies)
    else:
        squares = xp.sum(copies * copies, axis=(0, 2))
    return xp.reshape(l2 * squares + others, (2, n))


# The chunk-and-thread executor: which perturbations and rows go together,
# within the scratch budget, and on which thread.


def _perturbed_losses(net, X, T, sample_weight, alpha, h):
    """Return ``L(theta)`` and ``L(theta + h e_k)``, ``L(theta - h e_k)`` for all ``k``.

    Rows are taken in blocks and each layer's perturbations in chunks, both
    sized by the scratch budget (see ``_row_block_size``). The loss is a
    weighted mean over rows: each block's mean counts with the block's share
    of the total weight, and the L2 term is added once, with the first block.
    A block's chunks are spread over as many threads as BLAS may use. Returns
    ``(loss, plus, minus)``, ``plus`` and ``minus`` laid out as ``net.params``.
    """
    xp = namespace(net.params)
    on_numpy = is_numpy(net.params)
    if on_numpy:
        X = X if sp.issparse(X) else np.asarray(X)  # converted block by block
    n_rows = X.shape[0]
    if sample_weight is not None:  # copied only if not float64 already
        sample_weight = xp.astype(sample_weight, xp.float64, copy=False)
    l2 = net.penalty_scale(n_rows, sample_weight, alpha) if alpha else 0.0
    squares = net.squared_weights()
    budget = _NUMERICAL_CHUNK_BYTES if on_numpy else _device_budget(net.params)
    block_size = _row_block_size(net.layer_units, n_rows, budget)
    layers = _layer_chunks(net, block_size, l2, squares, budget)
    stacked_loss = net.loss_layer.stacked_loss

    loss = 0.0
    perturbed = xp.zeros(
        (2, net.params.shape[0]), dtype=xp.float64, device=net.params.device
    )
    # Elementwise numpy (exp) runs on one core: spread the chunks over as many
    # threads as BLAS may use (this one included), each with 1-thread BLAS.
    # Another namespace's device runs each chunk whole, from this thread.
    n_chunks = sum(-(-layer.n_params // layer.chunk) for layer in layers)
    n_threads = min(blas_threads(), n_chunks) if on_numpy else 1
    with single_threaded_blas() if on_numpy else nullcontext():
        blocks = _row_blocks(net, X, T, sample_weight, block_size)
        for first, rows in enumerate(blocks):
            logits = rows.logits[:, None, :]
            loss += rows.share * float(stacked_loss(logits, rows.T, rows.weight)[0])
            penalty = 0.0 if first else l2
            add = partial(_add_chunk, perturbed, rows, stacked_loss, h, penalty)
            _in_threads(add, _chunks(layers), n_threads)
    loss += l2 * sum(squares)
    return loss, perturbed[0, :], perturbed[1, :]


def _add_chunk(perturbed, rows, stacked_loss, h, l2, chunk):
    """Add a row block's share of a chunk's perturbed losses (and L2 terms if ``l2``).

    ``chunk`` is ``(layer, lo, hi)``: the layer's parameters ``lo`` to
    ``hi`` (flat, W then b).
    """
    layer, lo, hi = chunk
    W, b = _perturbed_copies(layer.affine, np.arange(lo, hi), h)
    x_in = rows.inputs[layer.index]
    downstream = rows.layers[layer.downstream]
    losses = _data_losses(W, b, x_in, downstream, stacked_loss, rows.T, rows.weight)
    losses *= rows.share
    if l2:
        losses += _penalties(W, l2, layer.others)
    perturbed[:, layer.start + lo : layer.start + hi] += losses


def _device_budget(params):
    """The chunk budget on the device of ``params`` (another namespace than numpy).

    What one batch of perturbations may take: on a GPU, half its free
    memory (as PyTorch or CuPy reports it), at most 8 GiB, so that a batch
    keeps the device busy; on any other device, as on numpy, the caches'
    ``_NUMERICAL_CHUNK_BYTES``. The plain form of a chunk
    (``_perturbed_copies_plain``: a mask, the copies, their transpose)
    takes about four times the scratch the budget counts: the budget is a
    quarter of it.
    """
    free = _free_device_memory(params)
    if free is None:
        return _NUMERICAL_CHUNK_BYTES // 4
    return int(min(free // 2, 8 * 2**30)) // 4


def _free_device_memory(params):
    """Free bytes on the GPU ``params`` live on (PyTorch CUDA, CuPy); None on a CPU."""
    device = params.device
    if getattr(device, "type", None) == "cuda":
        import torch  # a CUDA device of params: torch is there

        return torch.cuda.mem_get_info(device)[0]
    if type(params).__module__.startswith("cupy"):
        return device.mem_info[0]  # cupy.cuda.Device
    return None


def _row_block_size(layer_units, n_rows, budget):
    """Rows per block: the arrays of a block's rows take at most half the budget.

    Per row, the larger of: its input to every Affine, its targets and
    logits (float64, shared by the threads); one pair of perturbed copies'
    outputs at every layer after the first Affine, through the loss (its 3
    scratch values per copy), in each thread. Blocks are of equal size.
    """
    per_row = 8 * max(
        sum(layer_units) + layer_units[-1], 2 * (sum(layer_units[1:]) + 3)
    )
    n_blocks = max(1, -(-n_rows * per_row // max(1, budget // 2)))
    return max(1, -(-n_rows // n_blocks))


@dataclass
class _LayerChunks:
    """How one Affine's parameters are perturbed: where, in chunks of how many."""

    index: int  # of the Affine among net.affines
    affine: object
    start: int  # of its parameters in net.params
    n_params: int
    chunk: int  # perturbations per chunk
    downstream: slice  # of the layers after it
    others: float  # the L2 term of the other layers


def _layer_chunks(net, block_size, l2, squares, budget):
    """Each Affine's perturbations, in chunks within the budget.

    A chunk's scratch per pair of copies (+h, -h) is both perturbed
    ``(W, b)`` and their outputs on ``block_size`` rows at every layer
    downstream, through the loss.
    """
    layers, start = [], 0
    for index, affine in enumerate(net.affines):
        n_params = math.prod(affine.W.shape) + affine.b.shape[0]
        outputs = block_size * (sum(net.layer_units[index + 1 :]) + 3)
        chunk = max(1, budget // (16 * (n_params + outputs)))
        downstream = slice(net.layers.index(affine) + 1, None)
        others = l2 * (sum(squares) - squares[index])
        layers.append(
            _LayerChunks(index, affine, start, n_params, chunk, downstream, others)
        )
        start += n_params
    return layers


def _chunks(layers):
    """Yield ``(layer, lo, hi)`` for every chunk, made as taken (no list to hold)."""
    for layer in layers:
        for lo in range(0, layer.n_params, layer.chunk):
            yield layer, lo, min(lo + layer.chunk, layer.n_params)


@dataclass
class _Rows:
    """A block of rows, in float64, with what every chunk needs of it."""

    inputs: list  # each Affine's unperturbed input
    logits: np.ndarray  # the output layer's unperturbed input
    T: np.ndarray  # one-hot rows if given as class indices
    weight: np.ndarray | None  # the rows' sample weights
    share: float  # of the total weight
    layers: list  # the network's, with the dropout masks of these rows


def _row_blocks(net, X, T, sample_weight, size):
    """Yield a ``_Rows`` for each block of ``size`` consecutive rows.

    Each block is converted on its own; blocks whose weights are all zero
    take no part in the loss and are skipped.
    """
    xp = namespace(net.params)
    if sp.issparse(X):
        X = X.tocsr()  # rows can be sliced
    elif is_numpy(X):
        T = np.asarray(T)
    total = X.shape[0] if sample_weight is None else float(xp.sum(sample_weight))
    for lo in range(0, X.shape[0], size):
        rows = slice(lo, lo + size)
        weight = None if sample_weight is None else sample_weight[rows]
        n = min(size, X.shape[0] - lo)
        share = (n if weight is None else float(xp.sum(weight))) / total
        if not share:
            continue
        x = (
            X[rows].astype(np.float64, copy=False)
            if sp.issparse(X)
            else xp.astype(X[rows, ...], xp.float64, copy=False)
        )
        T_rows = np.eye(net.layer_units[-1])[T[rows]] if T.ndim == 1 else T[rows, ...]
        layers = [layer.for_rows(rows) for layer in net.layers]
        inputs = []
        for layer in layers:
            if layer in net.affines:
                inputs.append(x)
            x = layer(x)
        T_rows = xp.astype(T_rows, xp.float64, copy=False)
        yield _Rows(inputs, x, T_rows, weight, share, layers)


def _in_threads(function, tasks, n_threads):
    """Call ``function(task)`` for every task, on ``n_threads`` threads (this one too).

    Each thread takes the next task from the iterator when it is free. An
    exception in any thread (Ctrl-C in this one) stops the others, which
    finish their current task, and is raised here. numpy's error state is
    passed on to the helper threads (it is thread-local).
    """
    tasks = iter(tasks)
    errstate = np.geterr()
    lock, stop = threading.Lock(), []

    def work():
        try:
            with np.errstate(**errstate):
                while not stop:
                    with lock:
                        task = next(tasks, None)
                    if task is None:
                        return
                    function(task)
        except BaseException:
            stop.append(True)
            raise

    helpers = [_executor(n_threads - 1).submit(work) for _ in range(n_threads - 1)]
    try:
        work()
    finally:
        stop.append(True)
        for helper in helpers:
            helper.result()


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

    With ``dropout``, both gradients are of the loss under one fixed mask
    per dropping hidden layer, a row for each row of ``X``, drawn from
    ``random_state`` after the initial parameters (so the same mask on every
    call with an int ``random_state``): both differentiate the same
    function, as in training, and the errors are as small as without dropout.

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
    g_bp = np.array(to_numpy(network.grads))  # a copy, on the host
    numerical_gradient(
        network, X, T, sample_weight, alpha=alpha, h=estimator.numerical_step
    )
    g_num = to_numpy(network.grads)
    errors = {}
    for name, sl, _ in network.param_slices():
        scale = np.linalg.norm(g_bp[sl]) + np.linalg.norm(g_num[sl])
        diff = np.linalg.norm(g_bp[sl] - g_num[sl])
        errors[name] = float(diff / scale) if scale > 0 else 0.0
    return errors
