"""The hidden-layer activations of ``ACTIVATIONS``, against their definitions.

Every test runs over the registry, so a new activation is tested without a
test edit: its backward against central differences of its forward, its
forward against scikit-learn's function of the same name (where MLP has
one), its in-place and cache contracts, its overflow bound, its
initialisation gain; huge finite inputs give no overflow warning (pytest
turns RuntimeWarning into an error for the whole suite); and the network
uses each one where MLPClassifier's ``activation`` says.
"""

import warnings

import numpy as np
import pytest
from _helpers import numerical_grad
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import expit
from sklearn.neural_network._base import ACTIVATIONS as MLP_ACTIVATIONS

from skbp.layers import ReLU, Sigmoid
from skbp.network import ACTIVATIONS, Network

NAMES = list(ACTIVATIONS)


def _mlp(name):
    """scikit-learn's activation ``name`` as a pure function; skip if MLP has none."""
    if name not in MLP_ACTIVATIONS:
        pytest.skip(f"MLP has no {name!r} activation")

    def function(x):
        y = np.array(x, dtype=float)
        MLP_ACTIVATIONS[name](y)  # in place
        return y

    return function


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def _input(rng, shape=(4, 5)):
    x = rng.normal(size=shape) * 2
    x[np.abs(x) < 1e-2] = 0.5  # keep clear of ReLU's kink
    return x


@pytest.mark.parametrize("name", NAMES)
def test_forward_matches_mlp(rng, name):
    definition = _mlp(name)
    layer_class = ACTIVATIONS[name].layer
    x = _input(rng)
    assert_allclose(layer_class().forward(x), definition(x), rtol=1e-14)
    assert_allclose(layer_class()(x), definition(x), rtol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_backward_matches_central_differences(rng, name):
    layer_class = ACTIVATIONS[name].layer
    x, dout = _input(rng), rng.normal(size=(4, 5))
    layer = layer_class()
    layer.forward(x)
    dx = layer.backward(dout)

    z = x.copy()  # perturbed by numerical_grad

    def f():
        return np.sum(layer_class()(z) * dout)

    assert_allclose(dx, numerical_grad(f, z), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("name", NAMES)
def test_in_place_contract_and_clear(rng, name):
    """An ``in_place`` layer may overwrite its input; ``clear()`` drops its cache."""
    layer_class = ACTIVATIONS[name].layer
    x, dout = _input(rng), rng.normal(size=(4, 5))
    reference = layer_class()
    expected_out, expected_dx = reference.forward(x.copy()), reference.backward(dout)
    if layer_class.in_place:
        layer = layer_class()
        scratch = x.copy()
        assert_array_equal(layer.forward(scratch, out=scratch), expected_out)
        assert_array_equal(layer.backward(dout), expected_dx)
        scratch = x.copy()
        assert_array_equal(layer_class()(scratch, out=scratch), expected_out)
    reference.clear()
    assert all(getattr(reference, name) is None for name in layer_class.cached)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("bound", [0.0, 0.3, 1.0, 50.0])
def test_output_bound_holds(rng, name, bound):
    x = rng.uniform(-bound, bound, size=(200, 3))
    x[0] = bound  # the extremes too
    x[1] = -bound
    y = ACTIVATIONS[name].layer()(x)
    assert np.abs(y).max() <= ACTIVATIONS[name].output_bound(bound)


@pytest.mark.parametrize("name", NAMES)
def test_init_gain_is_mlps(name):
    """MLP draws ``U(-r, r)``, ``r = sqrt(k / (fan_in + fan_out))``: same ``k``."""
    expected = 2.0 if name == "logistic" else 6.0  # MLP's _init_coef
    assert ACTIVATIONS[name].init_gain == expected


def test_relu_gradient_is_zero_at_and_below_zero():
    # MLPClassifier's convention: derivative 0 wherever the output is 0.
    layer = ReLU()
    layer.forward(np.array([[-3.0, -0.0, 0.0, 1e-300, 2.0]]))
    assert_array_equal(layer.backward(np.full((1, 5), 7.0)), [[0, 0, 0, 7, 7]])


@pytest.mark.parametrize("name", NAMES)
def test_no_input_is_written_and_calling_keeps_the_cache(rng, name):
    layer_class = ACTIVATIONS[name].layer
    x, dout = _input(rng), rng.normal(size=(4, 5))
    x0, dout0 = x.copy(), dout.copy()
    layer = layer_class()
    layer.forward(x)
    cached = dict(vars(layer))
    layer(x + 1.0)  # the pure call must not touch the cache
    assert all(vars(layer)[k] is v for k, v in cached.items())
    layer.backward(dout)
    assert_array_equal(x, x0)
    assert_array_equal(dout, dout0)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("scale", [1e2, 1e10, 1e300, 1.7e308])
def test_huge_finite_input_stays_finite_and_silent(name, scale):
    layer_class = ACTIVATIONS[name].layer
    x = np.array([[scale, -scale, 0.0], [-scale, scale, 1.0]])
    layer = layer_class()
    out = layer.forward(x)
    assert np.all(np.isfinite(out))
    assert out.max() <= ACTIVATIONS[name].output_bound(scale)
    dx = layer.backward(np.ones_like(x))
    assert np.all(np.isfinite(dx))
    big = layer.backward(np.full_like(x, 1e300))
    assert np.all(np.isfinite(big))


@pytest.mark.parametrize("name", NAMES)
def test_float32_stays_float32(rng, name):
    layer_class = ACTIVATIONS[name].layer
    x = _input(rng).astype(np.float32)
    layer = layer_class()
    assert layer.forward(x).dtype == np.float32
    assert layer.backward(np.ones_like(x)).dtype == np.float32


@pytest.mark.parametrize("name", NAMES)
def test_network_applies_the_named_activation_between_affine_layers(rng, name):
    function = ACTIVATIONS[name].layer()
    units = [3, 4, 5, 2]
    params = rng.normal(size=3 * 4 + 4 + 4 * 5 + 5 + 5 * 2 + 2)
    network = Network(units, params, activation=name)
    W1, W2, W3 = network.coefs
    b1, b2, b3 = network.intercepts
    X = rng.normal(size=(6, 3))
    expected = function(function(X @ W1 + b1) @ W2 + b2) @ W3 + b3
    assert_allclose(network.logits(X), expected, rtol=1e-13)


def test_float32_sigmoid_matches_expit_and_stays_silent():
    x = np.concatenate(
        [np.linspace(-120, 120, 2001), [-np.inf, np.inf, -1e38, 1e38, 0.0]]
    ).astype(np.float32)
    x_copy = x.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = Sigmoid()(x)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(x, x_copy)
    exact = expit(x.astype(np.float64))
    tiny = np.finfo(np.float32).tiny  # below it, float32 has no relative precision
    np.testing.assert_allclose(y, exact, rtol=4 * np.finfo(np.float32).eps, atol=tiny)
    assert y[x == -np.inf] == 0 and y[x == np.inf] == 1


def test_float64_sigmoid_is_within_a_few_ulp_of_expit_and_silent():
    """The float64 sigmoid is numpy's ``1 / (1 + exp(-x))``; the oracle is expit."""
    tiny = np.finfo(np.float64).tiny
    x = np.concatenate(
        [
            np.linspace(-745, 745, 20001),
            [-745.0, 745.0, -750.0, 750.0, -np.inf, np.inf, 0.0, -0.0],
            [tiny, -tiny, 5e-324, -5e-324, 1e-300, -1e-300],  # tiny
            [1e308, -1e308, np.finfo(np.float64).max, np.finfo(np.float64).min],
            [-708.0, -709.0, -709.78, -36.7, -37.0, 36.7, 37.0],  # edges of exp
        ]
    )
    x_copy = x.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            y = Sigmoid()(x)
            inplace = x.copy()
            Sigmoid()(inplace, out=inplace)
    assert y.dtype == np.float64
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(inplace, y)
    exact = expit(x)
    normal = exact >= tiny
    ulps = np.abs(y - exact)[normal] / np.spacing(exact[normal])
    assert ulps.max() <= 4, ulps.max()
    # Where expit is subnormal (x below about -708), exp(-x) overflows: exactly 0.
    assert np.all((y[~normal] == 0) | (y[~normal] == exact[~normal]))
    assert np.all(y[x == -np.inf] == 0) and np.all(y[x == np.inf] == 1)
    assert np.all(y[x == -745] == 0) and np.all(y[x == 745] == 1)
    assert np.all(y[x == 0] == 0.5)


@pytest.mark.parametrize("name", NAMES)
def test_every_activation_is_documented(name):
    from skbp import BPClassifier, BPRegressor

    for estimator in (BPClassifier, BPRegressor):
        words = " ".join(estimator.__doc__.split())
        assert f'``"{name}"``: {" ".join(ACTIVATIONS[name].doc.split())}' in words
