"""Whole-network gradients: backprop vs numerical, numerical vs a naive loop."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_iris, make_classification

import skbp.gradients
from skbp import BPClassifier, gradient_check
from skbp.gradients import GRADIENTS, backprop_gradient, numerical_gradient
from skbp.network import Network


def make_problem(layer_units, n_samples=12, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    n_params = Network(layer_units).params.size
    params = rng.normal(scale=0.5, size=n_params).astype(dtype)
    X = rng.normal(size=(n_samples, layer_units[0])).astype(dtype)
    T = np.eye(layer_units[-1], dtype=dtype)[
        rng.integers(0, layer_units[-1], n_samples)
    ]
    return Network(layer_units, params), X, T


def naive_numerical_gradient(network, X, T, h=1e-4):
    """Per-element central differences, two full forward passes each (the oracle)."""
    params = network.params
    grad = np.empty_like(params)
    for k in range(params.size):
        orig = params[k]
        params[k] = orig + h
        plus = network.forward(X, T)
        params[k] = orig - h
        minus = network.forward(X, T)
        params[k] = orig
        grad[k] = (plus - minus) / (2 * h)
    return grad


def rel_error(a, b):
    return np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b))


@pytest.mark.parametrize(
    "layer_units", [[4, 3, 2], [5, 7, 3], [3, 6, 4, 5], [2, 5, 5, 5, 2], [6, 1, 3]]
)
def test_backprop_matches_numerical(layer_units):
    network, X, T = make_problem(layer_units)
    loss_bp = backprop_gradient(network, X, T)
    g_bp = network.grads.copy()
    loss_num = numerical_gradient(network, X, T)
    assert loss_bp == pytest.approx(loss_num, rel=1e-14)
    assert rel_error(g_bp, network.grads) < 1e-8


def test_numerical_matches_naive_loop_and_leaves_params_alone():
    network, X, T = make_problem([4, 5, 3])
    params0 = network.params.copy()
    numerical_gradient(network, X, T, h=1e-4)
    np.testing.assert_array_equal(network.params, params0)
    expected = naive_numerical_gradient(network, X, T, h=1e-4)
    np.testing.assert_allclose(network.grads, expected, rtol=1e-7, atol=1e-11)


def test_numerical_is_independent_of_chunking(monkeypatch):
    network, X, T = make_problem([5, 6, 4, 3])
    numerical_gradient(network, X, T)
    whole = network.grads.copy()
    monkeypatch.setattr(skbp.gradients, "_NUMERICAL_CHUNK_BYTES", 1)
    numerical_gradient(network, X, T)
    np.testing.assert_allclose(network.grads, whole, rtol=1e-12, atol=1e-15)


def test_numerical_with_sample_weight_matches_backprop():
    network, X, T = make_problem([3, 4, 2])
    w = np.linspace(0.0, 2.0, X.shape[0])
    backprop_gradient(network, X, T, w)
    g_bp = network.grads.copy()
    numerical_gradient(network, X, T, w)
    assert rel_error(g_bp, network.grads) < 1e-8


def test_numerical_runs_in_float64_for_float32_networks():
    net32, X32, T32 = make_problem([4, 5, 3], dtype=np.float32)
    net64 = Network(net32.layer_units, net32.params.astype(np.float64))
    numerical_gradient(net32, X32, T32)
    numerical_gradient(net64, X32.astype(np.float64), T32.astype(np.float64))
    assert net32.grads.dtype == np.float32
    np.testing.assert_array_equal(net32.grads, net64.grads.astype(np.float32))


def test_sparse_input_gives_same_gradients():
    network, X, T = make_problem([6, 4, 3])
    X[X < 0.3] = 0.0
    for name, compute in GRADIENTS.items():
        compute(network, X, T)
        dense = network.grads.copy()
        compute(network, sp.csr_matrix(X), T)
        np.testing.assert_allclose(
            network.grads, dense, rtol=1e-9, atol=1e-10, err_msg=name
        )


def test_gradient_check_reports_each_parameter_in_layer_order():
    X, y = make_classification(40, 6, n_informative=4, n_classes=3, random_state=0)
    clf = BPClassifier((5, 4), random_state=0)
    errors = gradient_check(clf, X, y)
    assert list(errors) == ["W1", "b1", "W2", "b2", "W3", "b3"]
    assert max(errors.values()) < 1e-7
    assert not hasattr(clf, "coefs_")  # nothing was fitted


def test_gradient_check_uses_fitted_parameters_without_changing_them():
    X, y = load_iris(return_X_y=True)
    clf = BPClassifier((4,), max_iter=5, random_state=0).fit(X, y)
    params = clf._params.copy()
    errors = gradient_check(clf, X, y)
    assert max(errors.values()) < 1e-7
    np.testing.assert_array_equal(clf._params, params)
    # At the fitted parameters the gradient differs from the initial one.
    init_errors = gradient_check(BPClassifier((4,), random_state=0), X, y)
    assert errors != init_errors


def test_gradient_check_detects_a_wrong_gradient(monkeypatch):
    X, y = load_iris(return_X_y=True)

    def broken(network, X, T, sample_weight=None, **_):
        loss = backprop_gradient(network, X, T, sample_weight)
        network.grads[-1] *= 1.5  # corrupt the last bias gradient
        return loss

    monkeypatch.setattr(skbp.gradients, "backprop_gradient", broken)
    # alpha=0: broken() drops the L2 term, which would corrupt every W too.
    errors = gradient_check(BPClassifier((3,), alpha=0.0, random_state=0), X, y)
    assert errors["b2"] > 1e-2
    assert errors["W1"] < 1e-7


def test_gradient_check_floor_under_tiny_init():
    """Under N(0, 0.01^2) weights deep gradients are tiny: errors near the floor."""
    X, y = make_classification(60, 8, n_informative=5, n_classes=3, random_state=0)
    errors = gradient_check(
        BPClassifier((6, 6, 6), weight_init_std=0.01, random_state=0), X, y
    )
    assert errors["W1"] > errors["W4"]
    assert max(errors.values()) < 1e-2


def test_class_indices_and_one_hot_targets_give_the_same_gradients():
    network, X, T = make_problem([4, 6, 3], n_samples=9)
    t = T.argmax(axis=1)
    for gradient in (backprop_gradient, numerical_gradient):
        loss = gradient(network, X, T)
        expected = network.grads.copy()
        assert gradient(network, X, t) == pytest.approx(loss, rel=1e-13)
        np.testing.assert_allclose(network.grads, expected, rtol=1e-12, atol=1e-15)


def test_backprop_scratch_reuse_across_batch_sizes_matches_a_fresh_network():
    # The network keeps per-batch-size scratch arrays: alternating sizes (as in
    # an epoch with a short last batch) must never mix them up.
    network, X, T = make_problem([5, 7, 4, 3], n_samples=11)
    t = T.argmax(axis=1)
    for rows in (slice(0, 8), slice(8, 11), slice(0, 8), slice(3, 11), slice(0, 8)):
        loss = backprop_gradient(network, X[rows], t[rows])
        fresh = Network(network.layer_units, network.params.copy())
        assert backprop_gradient(fresh, X[rows], t[rows]) == loss
        np.testing.assert_array_equal(network.grads, fresh.grads)


@pytest.mark.parametrize("n_in, hidden", [(300, 20), (300, 2), (3000, 2)])
def test_numerical_scratch_is_bounded_whatever_the_shapes(n_in, hidden):
    """tracemalloc peak of one call: 2 MiB per thread, not n_in x 2n x n_out copies.

    Batch 1 with many inputs is the worst case for perturbed copies of W
    (they used to take 555 MiB at 300 inputs and hidden 20, 550 MiB at 3000
    and hidden 2).
    """
    import tracemalloc

    from skbp import _threads

    network, X, T = make_problem([n_in, hidden, 3], n_samples=1)
    bound = _threads.blas_threads() * skbp.gradients._NUMERICAL_CHUNK_BYTES + 2**20
    tracemalloc.start()
    try:
        numerical_gradient(network, X, T)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < bound, f"{peak / 2**20:.1f} MiB"
