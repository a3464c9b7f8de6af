"""Each fast kernel of ``skbp._kernels`` equals the plain expression it states."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import softmax

from skbp import _kernels

# Shapes on both sides of the kernels' thresholds (256 rows, 2..16 columns).
SHAPES = st.tuples(st.sampled_from([1, 3, 255, 256, 700]), st.integers(1, 20))
DTYPES = st.sampled_from([np.float32, np.float64])


def _array(shape, dtype, seed, scale=10.0):
    return (np.random.default_rng(seed).normal(size=shape) * scale).astype(dtype)


@given(shape=SHAPES, dtype=DTYPES, seed=st.integers(0, 100))
def test_row_max_is_max_over_the_last_axis(shape, dtype, seed):
    x = _array(shape, dtype, seed)
    assert_array_equal(_kernels.row_max(x), x.max(axis=-1, keepdims=True))


@given(shape=SHAPES, dtype=DTYPES, seed=st.integers(0, 100))
def test_row_sum_is_sum_over_the_last_axis(shape, dtype, seed):
    y = _array(shape, dtype, seed)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    expected = y.sum(axis=-1, keepdims=True)
    assert_allclose(_kernels.row_sum(y), expected, rtol=rtol, atol=rtol * 100)


@given(shape=SHAPES, dtype=DTYPES, seed=st.integers(0, 100))
def test_column_sum_is_sum_over_the_first_axis(shape, dtype, seed):
    x = _array(shape, dtype, seed)
    out = np.empty(shape[1], dtype)
    ones = _kernels.column_sum(x, out)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert_allclose(out, x.sum(axis=0), rtol=rtol, atol=rtol * 100)
    assert _kernels.column_sum(x[:1], out, ones) is ones  # the cache is reused
    assert_allclose(out, x[0], rtol=0)


@given(
    shape=SHAPES,
    dtype=DTYPES,
    seed=st.integers(0, 100),
    scale=st.sampled_from([0.1, 3.0, 1e3]),
)
def test_shift_leaves_the_softmax_unchanged(shape, dtype, seed, scale):
    """Whether one shift for the batch or one per row, the softmax is the same."""
    x = _array(shape, dtype, seed, scale)
    shifted, bounded = _kernels.shift(x)
    span = float(x.max()) - float(x.min())
    assert bounded == (span <= _kernels._ONE_SHIFT_SPAN[np.dtype(dtype)])
    if not bounded:
        assert_array_equal(shifted, x - x.max(axis=-1, keepdims=True))
    assert (shifted <= 0).all()
    rtol = 1e-4 if dtype == np.float32 else 1e-12
    expected = softmax(x.astype(np.float64), axis=-1)
    assert_allclose(softmax(shifted.astype(np.float64), axis=-1), expected, rtol=rtol)


def test_shifted_logits_clips_to_finite():
    big = np.finfo(np.float64).max
    x = np.array([[big, -big, 0.0]])
    shifted = _kernels.shifted_logits(x)
    assert np.isfinite(shifted).all() and shifted[0, 0] == 0
    assert shifted[0, 1] == np.finfo(np.float64).min


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shifted_logits_is_x_minus_row_max(dtype):
    x = _array((300, 10), dtype, 0)
    out = np.empty_like(x)
    assert _kernels.shifted_logits(x, out) is out
    assert_array_equal(out, x - x.max(axis=-1, keepdims=True))
