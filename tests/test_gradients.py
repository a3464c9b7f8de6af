"""Whole-network gradients: backprop vs numerical, numerical vs a naive loop."""

from unittest import mock

import numpy as np
import pytest
import scipy.sparse as sp
from _helpers import flat_params, output_targets
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_iris, make_classification

import skbp.gradients
from skbp import BPClassifier, gradient_check
from skbp.gradients import GRADIENTS, backprop_gradient, numerical_gradient
from skbp.network import OUTPUTS, Network


def make_problem(layer_units, n_samples=12, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    n_params = Network(layer_units).params.size
    params = rng.normal(scale=0.5, size=n_params).astype(dtype)
    X = rng.normal(size=(n_samples, layer_units[0])).astype(dtype)
    T = np.eye(layer_units[-1], dtype=dtype)[
        rng.integers(0, layer_units[-1], n_samples)
    ]
    return Network(layer_units, params), X, T


def naive_numerical_gradient(network, X, T, sample_weight=None, alpha=0.0, h=1e-4):
    """Per-element central differences, two full forward passes each (the oracle)."""
    params = network.params
    grad = np.empty_like(params)
    for k in range(params.size):
        orig = params[k]
        params[k] = orig + h
        plus = network.forward(X, T, sample_weight, alpha)
        params[k] = orig - h
        minus = network.forward(X, T, sample_weight, alpha)
        params[k] = orig
        grad[k] = (plus - minus) / (2 * h)
    return grad


def rel_error(a, b):
    return np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b))


def rounding_floor(loss, h=1e-4):
    """The central difference's own rounding: an ulp of the loss over ``h``."""
    return np.finfo(np.float64).eps * abs(loss) / h


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
    """One perturbation and one row per chunk: the same, to the rounding floor."""
    network, X, T = make_problem([5, 6, 4, 3])
    w = np.linspace(0.0, 2.0, X.shape[0])
    loss = numerical_gradient(network, X, T, w, alpha=0.5)
    whole = network.grads.copy()
    monkeypatch.setattr(skbp.gradients, "_NUMERICAL_CHUNK_BYTES", 1)
    assert numerical_gradient(network, X, T, w, alpha=0.5) == pytest.approx(loss)
    np.testing.assert_allclose(network.grads, whole, atol=8 * rounding_floor(loss))


@settings(max_examples=40)
@given(
    hidden=st.lists(st.integers(1, 5), max_size=2),
    n_features=st.integers(1, 4),
    n_outputs=st.integers(2, 4),
    output=st.sampled_from(sorted(OUTPUTS)),
    n_rows=st.integers(1, 30),
    weights=st.sampled_from(["none", "positive", "some zero"]),
    alpha=st.sampled_from([0.0, 0.3]),
    budget=st.sampled_from([1, 600, 5000, 2 * 2**20]),
    seed=st.integers(0, 2**16),
)
def test_numerical_in_row_blocks_matches_the_per_element_loop(
    hidden, n_features, n_outputs, output, n_rows, weights, alpha, budget, seed
):
    """Row blocks and perturbation chunks of any size, sample weights, the L2 term.

    The oracle moves one parameter at a time and runs the whole network's
    ``forward`` (the mean over all rows, the L2 term once). Small budgets
    split the rows into blocks (one row each at 1 byte) whose weighted means
    must add up to the whole mean; the L2 term must count once.
    """
    rng = np.random.default_rng(seed)
    layer_units = [n_features, *hidden, n_outputs]
    params = rng.normal(scale=0.5, size=Network(layer_units).params.size)
    network = Network(layer_units, params, output=output)
    X = rng.normal(size=(n_rows, n_features))
    T = output_targets(output, rng, n_rows, n_outputs)
    w = None if weights == "none" else rng.uniform(0.1, 2.0, n_rows)
    if weights == "some zero":
        w[rng.random(n_rows) < 0.5] = 0.0
        w[0] = 1.0
    with mock.patch.object(skbp.gradients, "_NUMERICAL_CHUNK_BYTES", budget):
        loss = numerical_gradient(network, X, T, w, alpha=alpha)
    assert loss == pytest.approx(network.forward(X, T, w, alpha), rel=1e-14)
    expected = naive_numerical_gradient(network, X, T, w, alpha)
    np.testing.assert_allclose(network.grads, expected, atol=16 * rounding_floor(loss))


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
    params = flat_params(clf).copy()
    errors = gradient_check(clf, X, y)
    assert max(errors.values()) < 1e-7
    np.testing.assert_array_equal(flat_params(clf), params)
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


def test_numerical_scratch_is_bounded_whatever_the_rows():
    """tracemalloc peak of one call on 50,000 rows: the budget, not O(rows).

    Rows are taken in blocks whose arrays (each Affine's input, the targets,
    the perturbed outputs) fit the budget. Before, every perturbed copy ran
    on all rows at once (371 MiB at 300,000 rows on an 8-30-2 network).
    """
    import tracemalloc

    from skbp import _threads

    network, X, T = make_problem([4, 3, 2], n_samples=50_000)
    t = T.argmax(axis=1)
    w = np.linspace(0.0, 2.0, X.shape[0])
    budget = skbp.gradients._NUMERICAL_CHUNK_BYTES
    bound = _threads.blas_threads() * budget + budget // 2 + 2**20
    tracemalloc.start()
    try:
        numerical_gradient(network, X, t, w, alpha=1e-4)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < bound, f"{peak / 2**20:.1f} MiB"
