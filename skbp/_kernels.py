"""Fast forms of a few reductions the layers use, each equal to a plain expression.

The layers in ``skbp.layers`` read as their textbook formulas and call these
where numpy's plain form is slow on the shapes training produces (many short
rows: a batch of 100 samples by 10 classes). Each function states the plain
expression it computes; ``tests/test_kernels.py`` checks them equal.
"""

import numpy as np

# Lowest finite value per dtype (np.finfo is too slow for the training loop).
_FLOAT_MIN = {
    np.dtype(t): np.finfo(t).min for t in (np.float16, np.float32, np.float64)
}

# Largest span max(x) - min(x) of a batch's logits for which ``shift`` subtracts
# one max from the whole batch instead of each row's own: rounding the shift
# then costs each probability a relative error of at most span * eps (64 eps
# in float64, 16 eps in float32), and nothing under- or overflows.
_ONE_SHIFT_SPAN = {np.dtype(np.float64): 64.0, np.dtype(np.float32): 16.0}


def row_max(x):
    """``x.max(axis=-1, keepdims=True)``, column by column for many short rows.

    Reducing 10-element rows one by one is numpy's slow case; a running
    elementwise maximum over the columns computes the same values 4x faster.
    """
    if x.ndim == 2 and 2 <= x.shape[1] <= 16 and x.shape[0] >= 256:
        top = np.maximum(x[:, 0], x[:, 1])
        for j in range(2, x.shape[1]):
            np.maximum(top, x[:, j], out=top)
        return top[:, None]
    return x.max(axis=-1, keepdims=True)


def row_sum(y):
    """``y.sum(axis=-1, keepdims=True)``; a matrix-vector product for many rows."""
    if y.ndim == 2 and y.shape[0] >= 256:
        return (y @ np.ones(y.shape[1], y.dtype))[:, None]
    return np.add.reduce(y, axis=-1, keepdims=True)


def column_sum(x, out, ones=None):
    """``x.sum(axis=0)`` into ``out``, as the product ``ones @ x`` (faster).

    ``ones``: a cached vector of at least ``len(x)`` ones of ``x``'s dtype,
    or None; returns the one to cache.
    """
    n = len(x)
    if ones is None or len(ones) < n or ones.dtype != x.dtype:
        ones = np.ones(n, x.dtype)
    np.matmul(ones[:n], x, out=out)
    return ones


def shifted_logits(x, out=None):
    """``x - x.max(axis=-1, keepdims=True)`` (into ``out``), clipped to finite.

    Logits spanning more than the float range give ``-inf``: they are clipped
    to the lowest finite value so that ``0 * log_y`` stays 0 for the classes
    a sample does not belong to.
    """
    with np.errstate(over="ignore"):
        shifted = np.subtract(x, row_max(x), out=out)
    np.maximum(shifted, _FLOAT_MIN[shifted.dtype], out=shifted)
    return shifted


def shift(x, out=None):
    """Return ``(x - max, bounded)``: one max for the whole array when it spans little.

    Softmax and log-sum-exp are unchanged by subtracting any constant from a
    row. ``bounded`` says whether the span of ``x`` is at most
    ``_ONE_SHIFT_SPAN``: then ``x - x.max()`` serves every row (cheaper than a
    max per row) and nothing downstream can overflow. Otherwise it is
    ``shifted_logits(x)``, each row shifted by its own max.
    """
    top = np.maximum.reduce(x, axis=None)
    # (Python floats: a span beyond the float range is inf, silently.)
    span = float(top) - float(np.minimum.reduce(x, axis=None))
    bounded = span <= _ONE_SHIFT_SPAN.get(x.dtype, 0)
    if bounded:
        return np.subtract(x, top, out=out), True
    return shifted_logits(x, out), False
