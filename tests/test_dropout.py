"""Dropout: the layer, its masks, and both gradients seeing the same function.

Oracles: the layer's formula, per-element central differences of the loss
with the masks held fixed (``naive_numerical_gradient``), the numerical fit
of the same ``random_state``, and ``MLPClassifier`` for ``dropout=0``.
"""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _helpers import flat_params, output_targets, registered_activations, sgd_classifier
from hypothesis import given
from hypothesis import strategies as st
from sklearn.datasets import load_iris, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from test_gradients import naive_numerical_gradient

import skbp.gradients
from skbp import BPClassifier, BPRegressor, gradient_check
from skbp.gradients import backprop_gradient, numerical_gradient
from skbp.layers import Dropout
from skbp.network import OUTPUTS, Network, NetworkSpec

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_IRIS = StandardScaler().fit_transform(X_IRIS)


def quiet():
    """Ignore the ConvergenceWarning of short fits."""
    return warnings.catch_warnings(action="ignore", category=ConvergenceWarning)


class CountingRandomState(np.random.RandomState):
    """A RandomState that counts the calls of each drawing method."""

    def __init__(self, seed):
        super().__init__(seed)
        self.calls = {}

    def _count(self, name):
        self.calls[name] = self.calls.get(name, 0) + 1

    def random_sample(self, *args, **kwargs):
        self._count("random_sample")
        return super().random_sample(*args, **kwargs)

    def shuffle(self, *args, **kwargs):
        self._count("shuffle")
        return super().shuffle(*args, **kwargs)

    def uniform(self, *args, **kwargs):
        self._count("uniform")
        return super().uniform(*args, **kwargs)


# ------------------------------------------------------------------ layer ---


@given(
    n_rows=st.integers(1, 6),
    n_copies=st.integers(1, 5),
    n_units=st.integers(1, 4),
    rate=st.floats(0.01, 0.9),
    seed=st.integers(0, 2**16),
)
def test_layer_is_x_times_mask_and_dout_times_mask(
    n_rows, n_copies, n_units, rate, seed
):
    rng = np.random.RandomState(seed)
    layer = Dropout(rate)
    layer.draw_mask(rng, (n_rows, n_units), np.dtype(np.float64))
    assert set(np.unique(layer.mask)) <= {0.0, 1 / (1 - rate)}
    x = rng.standard_normal((n_rows, n_units))
    np.testing.assert_array_equal(layer.forward(x), x * layer.mask)
    np.testing.assert_array_equal(layer.backward(x), x * layer.mask)
    # Stacked copies of each row (the numerical gradient's layout) take its mask.
    stacked = rng.standard_normal((n_rows * n_copies, n_units))
    expected = stacked * np.repeat(layer.mask, n_copies, axis=0)
    np.testing.assert_array_equal(layer(stacked), expected)
    # A block of rows holds that block's mask.
    rows = slice(n_rows // 2, n_rows)
    np.testing.assert_array_equal(layer.for_rows(rows)(x[rows]), (x * layer.mask)[rows])


def test_mask_keeps_each_unit_with_one_minus_rate():
    layer = Dropout(0.3)
    layer.draw_mask(np.random.RandomState(0), (500, 200), np.dtype(np.float32))
    assert layer.mask.dtype == np.float32
    kept = layer.mask > 0
    # 100,000 Bernoulli(0.7) draws: the standard error of the mean is 0.0014.
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(layer.mask[kept], np.float32(1 / 0.7))
    assert abs(layer.mask.mean() - 1.0) < 0.015  # inverted: the mean is kept


# -------------------------------------------------------------- gradients ---


@given(
    hidden=st.lists(st.integers(1, 5), min_size=1, max_size=3),
    activation=st.sampled_from(registered_activations(smooth=True)),
    output=st.sampled_from(list(OUTPUTS)),
    rate=st.floats(0.05, 0.8),
    seed=st.integers(0, 2**16),
)
def test_both_gradients_differentiate_the_masked_loss(
    hidden, activation, output, rate, seed
):
    """Backprop, skbp's numerical gradient and a naive per-element central
    difference (each a genuine forward pass with the same masks) agree."""
    if output == "quantile":  # pinball loss: kinks, see test_losses
        return
    rng = np.random.default_rng(seed)
    n_out = 3 if output == "softmax" else 2
    units = [4, *hidden, n_out]
    rates = [rate if k % 2 == 0 else 0.0 for k in range(len(hidden))]
    params = rng.normal(scale=0.5, size=Network(units).params.size)
    network = Network(units, params, activation, output, dropout=rates)
    assert len(network.dropouts) == sum(r > 0 for r in rates)
    X = rng.normal(size=(9, 4))
    T = output_targets(output, rng, 9, n_out)
    network.draw_masks(np.random.RandomState(seed), len(X))
    loss = backprop_gradient(network, X, T, alpha=0.1)
    g_bp = network.grads.copy()
    g_naive = naive_numerical_gradient(network, X, T, alpha=0.1)
    assert numerical_gradient(network, X, T, alpha=0.1) == pytest.approx(loss, 1e-12)
    g_num = network.grads.copy()
    scale = np.linalg.norm(g_bp) + 1e-3
    # Central differences are off by their truncation error, about h**2 times
    # the third derivative: up to 1e-6 relative with exp outputs (seen: 1.4e-6).
    assert np.linalg.norm(g_bp - g_naive) / scale < 1e-5
    # The same central differences computed two ways: rounding only.
    assert np.linalg.norm(g_num - g_naive) / scale < 1e-9


def test_numerical_gradient_takes_each_row_blocks_masks(monkeypatch):
    """Row blocks of 2 (a tiny scratch budget): each block uses its rows' masks."""
    rng = np.random.default_rng(0)
    units = [5, 6, 4, 3]
    network = Network(
        units, rng.normal(size=Network(units).params.size), "tanh", dropout=(0.5, 0.3)
    )
    X, T = rng.normal(size=(13, 5)), np.eye(3)[rng.integers(0, 3, 13)]
    network.draw_masks(np.random.RandomState(1), 13)
    backprop_gradient(network, X, T)
    g_bp = network.grads.copy()
    monkeypatch.setattr(skbp.gradients, "_NUMERICAL_CHUNK_BYTES", 2000)
    assert skbp.gradients._row_block_size(units, 13, 2000) < 13
    numerical_gradient(network, X, T)
    np.testing.assert_allclose(network.grads, g_bp, rtol=1e-6, atol=1e-9)


def test_gradient_check_uses_one_fixed_mask():
    clf = BPClassifier((8, 6), "tanh", dropout=0.4, random_state=0)
    errors = gradient_check(clf, X_IRIS, Y_IRIS)
    assert max(errors.values()) < 1e-7
    assert gradient_check(clf, X_IRIS, Y_IRIS) == errors  # the same mask again
    assert not hasattr(clf, "coefs_")
    # Dropping changes the gradient: the check is of the masked loss.
    network, X, T, _ = clf._gradient_problem(X_IRIS, Y_IRIS)
    masked = backprop_gradient(network, X, T)
    network.masks = [np.ones_like(m) for m in network.masks]
    assert backprop_gradient(network, X, T) != pytest.approx(masked)


# ------------------------------------------------------------------- fits ---


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("estimator", ["classifier", "regressor"])
def test_backprop_and_numerical_fits_with_dropout_agree(solver, estimator):
    if estimator == "classifier":
        Estimator, X, y = BPClassifier, X_IRIS, Y_IRIS
    else:
        X, y = make_regression(120, 4, n_targets=2, noise=0.5, random_state=0)
        Estimator, y = BPRegressor, y / np.abs(y).max()
    kwargs = dict(
        hidden_layer_sizes=(6, 5),
        activation="tanh",
        solver=solver,
        dropout=(0.5, 0.2),
        batch_size=32,
        learning_rate_init=0.05,
        max_iter=5,
        random_state=3,
    )
    with quiet():
        bp = Estimator(gradient="backprop", **kwargs).fit(X, y)
        num = Estimator(gradient="numerical", **kwargs).fit(X, y)
        init = Estimator(**{**kwargs, "max_iter": 1}).fit(X, y)
        undropped = Estimator(**{**kwargs, "dropout": 0.0}).fit(X, y)
    assert np.abs(flat_params(bp) - flat_params(init)).max() > 1e-2  # trained
    assert np.abs(flat_params(bp) - flat_params(undropped)).max() > 1e-3  # dropped
    np.testing.assert_allclose(flat_params(num), flat_params(bp), rtol=0, atol=1e-7)
    np.testing.assert_allclose(num.loss_curve_, bp.loss_curve_, rtol=1e-8)


def test_lbfgs_refuses_dropout():
    clf = BPClassifier((5,), solver="lbfgs", dropout=0.5)
    with pytest.raises(ValueError, match="dropout=0.5 needs a stochastic solver"):
        clf.fit(X_IRIS, Y_IRIS)
    with pytest.raises(ValueError, match="needs a stochastic solver"):
        gradient_check(clf, X_IRIS, Y_IRIS)
    with quiet():  # no rate above 0: nothing to refuse
        BPClassifier((5,), solver="lbfgs", dropout=[0.0], max_iter=5).fit(
            X_IRIS, Y_IRIS
        )


@pytest.mark.parametrize(
    "dropout, match",
    [
        ((0.5, 0.5), "one rate per hidden layer: got \\(0.5, 0.5\\) for 1 hidden"),
        ([[0.5]], "one rate per hidden layer"),
        ([1.0], "in \\[0, 1\\)"),
        ([-0.1], "in \\[0, 1\\)"),
        ([True], "in \\[0, 1\\)"),
        (["a"], "in \\[0, 1\\)"),
    ],
)
def test_invalid_rates_say_what_to_give(dropout, match):
    with pytest.raises(ValueError, match=match):
        BPClassifier((5,), dropout=dropout).fit(X_IRIS, Y_IRIS)


@pytest.mark.parametrize("dropout", [1.0, -0.5, "high"])
def test_parameter_validation_refuses_rates_outside_0_1(dropout):
    with pytest.raises(ValueError, match="'dropout' parameter"):
        BPClassifier(dropout=dropout).fit(X_IRIS, Y_IRIS)


def test_predictions_never_drop():
    with quiet():
        clf = BPClassifier((20,), dropout=0.5, max_iter=5, random_state=0)
        clf.fit(X_IRIS, Y_IRIS)
    hidden = 1 / (1 + np.exp(-(X_IRIS @ clf.coefs_[0] + clf.intercepts_[0])))
    logits = hidden @ clf.coefs_[1] + clf.intercepts_[1]
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(clf.predict_proba(X_IRIS), expected, rtol=1e-12)
    assert clf.score(X_IRIS, Y_IRIS) == clf.score(X_IRIS, Y_IRIS)


def test_validation_loss_is_the_undropped_models():
    """Early stopping scores each epoch's model without dropping."""
    clf = BPClassifier(
        (20,), dropout=0.5, early_stopping=True, scoring="loss", max_iter=3
    )
    with quiet():
        clf.set_params(random_state=0, n_iter_no_change=100).fit(X_IRIS, Y_IRIS)
    # Oracle: the last epoch's held-out loss, recomputed with predict_proba.
    rng = np.random.RandomState(0)
    clf._init_params([4, 20, 3], np.float64, rng)  # the draws fit made first
    from sklearn.model_selection import train_test_split

    _, val = train_test_split(
        np.arange(150), random_state=rng, test_size=0.1, stratify=Y_IRIS
    )
    proba = clf.predict_proba(X_IRIS[val])
    log_loss = -np.log(proba[np.arange(len(val)), Y_IRIS[val]]).mean()
    l2 = 0.5 * clf.alpha * sum((W**2).sum() for W in clf.coefs_) / len(val)
    assert clf.validation_loss_curve_[-1] == pytest.approx(log_loss + l2, rel=1e-10)


def test_rates_can_change_between_warm_starts():
    clf = sgd_classifier((6,), dropout=0.5, max_iter=2, warm_start=True)
    with quiet():
        clf.set_params(random_state=0).fit(X_IRIS, Y_IRIS)
        clf.set_params(dropout=0.0).fit(X_IRIS, Y_IRIS)
    assert clf._network.spec.dropout == ()
    with quiet():
        clf.set_params(dropout=[0.2]).partial_fit(X_IRIS, Y_IRIS)
    assert clf._network.spec.dropout == (0.2,)


# ------------------------------------------------ dropout=0 is the old model ---


def test_dropout_zero_draws_nothing():
    counts = []
    for dropout in (0.0, [0.0, 0.0], 0.5):
        rng = CountingRandomState(0)
        clf = sgd_classifier((5, 4), dropout=dropout, batch_size=50, max_iter=3)
        with quiet():
            clf.set_params(random_state=rng).fit(X_IRIS, Y_IRIS)
        counts.append(rng.calls)
    assert counts[0] == counts[1] == {"uniform": 6, "shuffle": 3}
    # 3 batches per epoch, two dropout layers: 2 masks per step.
    assert counts[2] == {"uniform": 6, "shuffle": 3, "random_sample": 3 * 3 * 2}


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
def test_dropout_zero_is_mlpclassifiers_model(solver):
    params = dict(
        hidden_layer_sizes=(7, 5),
        activation="tanh",
        solver=solver,
        batch_size=40,
        learning_rate_init=0.01,
        max_iter=8,
        random_state=2,
    )
    with quiet():
        ours = BPClassifier(dropout=0.0, **params).fit(X_IRIS, Y_IRIS)
        listed = BPClassifier(dropout=[0.0, 0.0], **params).fit(X_IRIS, Y_IRIS)
        theirs = MLPClassifier(**params).fit(X_IRIS, Y_IRIS)
    np.testing.assert_array_equal(flat_params(listed), flat_params(ours))
    np.testing.assert_allclose(
        flat_params(ours), flat_params(theirs), rtol=1e-6, atol=1e-9
    )
    with quiet():
        default = BPClassifier(**params).fit(X_IRIS, Y_IRIS)
    np.testing.assert_array_equal(flat_params(default), flat_params(ours))
    assert ours._network.spec == default._network.spec


# ------------------------------------- persistence, dtypes, sparse, export ---


def test_pickle_keeps_the_rates_and_drops_the_masks():
    with quiet():
        clf = sgd_classifier((6,), dropout=0.3, max_iter=2, random_state=0)
        clf.fit(X_IRIS, Y_IRIS)
    loaded = pickle.loads(pickle.dumps(clf))
    assert loaded._network.spec.dropout == (0.3,)
    assert loaded._network.masks == [None]
    np.testing.assert_array_equal(
        loaded.predict_proba(X_IRIS), clf.predict_proba(X_IRIS)
    )
    # Continuing training after the round trip is bit-identical.
    with quiet():
        for model in (clf, loaded):
            model.partial_fit(X_IRIS, Y_IRIS)
    np.testing.assert_array_equal(flat_params(loaded), flat_params(clf))


def test_legacy_spec_state_has_no_dropout():
    state = NetworkSpec((4, 5, 3)).to_state()
    del state["dropout"]
    assert NetworkSpec.from_state(state) == NetworkSpec((4, 5, 3))


def test_float32_and_sparse_fits_drop_too():
    X = np.where(np.abs(X_IRIS) < 0.5, 0.0, X_IRIS)
    kwargs = dict(dropout=0.4, batch_size=25, max_iter=3, random_state=0)
    with quiet():
        dense = sgd_classifier((6,), **kwargs).fit(X, Y_IRIS)
        csr = sgd_classifier((6,), **kwargs).fit(sp.csr_matrix(X), Y_IRIS)
        num = sgd_classifier((6,), gradient="numerical", **kwargs)
        num.fit(sp.csr_matrix(X), Y_IRIS)
        single = sgd_classifier((6,), **kwargs).fit(X.astype(np.float32), Y_IRIS)
    np.testing.assert_allclose(flat_params(csr), flat_params(dense), rtol=1e-10)
    np.testing.assert_allclose(flat_params(num), flat_params(dense), atol=1e-7)
    assert flat_params(single).dtype == np.float32
    np.testing.assert_allclose(flat_params(single), flat_params(dense), atol=1e-4)
