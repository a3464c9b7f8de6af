"""``BPRegressor`` and its output layers, checked against independent oracles.

The oracles: central differences of each output layer's loss;
scikit-learn's ``squared_loss`` and ``poisson_loss``; ``MLPRegressor(
activation="logistic")`` configured identically (same draws, batches and
updates), which must end at the same weights; the numerical gradient, whose
same-seed fits must agree with backprop's; ``r2_score``; and scikit-learn's
estimator checks.
"""

import pickle
import re
import threading
import warnings

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
from _helpers import flat_params, mlp_loss_name, registered_solvers
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning, DataConversionWarning
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neural_network import MLPRegressor
from sklearn.neural_network._base import poisson_loss, squared_loss
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skbp import BPRegressor, gradient_check
from skbp.layers import IdentityWithLoss, PoissonWithLoss
from skbp.network import OUTPUTS, losses

X, Y3 = make_regression(120, 5, n_targets=3, noise=1.0, random_state=0)
Y3 = Y3 / np.abs(Y3).max()  # targets of order 1, as a scaled problem has
SW = np.random.default_rng(0).uniform(0.2, 2.0, len(X))
COMMON = dict(
    hidden_layer_sizes=(7,),
    max_iter=20,
    learning_rate_init=0.01,
    alpha=1e-3,
    random_state=0,
)


# The registered regression losses, and those MLPRegressor has too (its oracles).
LOSSES = losses("regressor")
MLP_LOSSES = [loss for loss in LOSSES if mlp_loss_name(loss)]


def targets(loss, n_targets):
    """``Y3``, or ``exp(Y3)`` for a loss that needs non-negative targets."""
    try:
        OUTPUTS[loss].layer.check_targets(Y3)
        y = Y3
    except ValueError:
        y = np.exp(Y3)
    return y[:, 0] if n_targets == 1 else y


def fit_quietly(reg, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return reg.fit(*args, **kwargs)


# ------------------------------------------------------------ output layers ---

LAYERS = [OUTPUTS[loss].layer for loss in LOSSES]
# Each output layer's backward against central differences: test_output_layers.


@pytest.mark.parametrize("weighted", [False, True])
def test_losses_are_scikit_learns(weighted):
    """Half squared error summed over outputs (the loss MLPRegressor's gradient
    is of: it reports the mean over outputs), half Poisson deviance as is."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(8, 3))
    t = rng.uniform(0, 3, size=(8, 3))
    t[0] = 0.0  # 0 log 0 = 0
    sw = rng.uniform(0.1, 2.0, 8) if weighted else None
    assert IdentityWithLoss().forward(x, t, sw) == pytest.approx(
        3 * squared_loss(t, x, sw), rel=1e-14
    )
    assert PoissonWithLoss().forward(x, t, sw) == pytest.approx(
        poisson_loss(t, np.exp(x), sw), rel=1e-14
    )


@pytest.mark.parametrize("layer_class", LAYERS)
def test_forward_writes_only_where_asked(layer_class):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 2))
    t = rng.uniform(0, 2, size=(4, 2))
    x0, t0 = x.copy(), t.copy()
    layer = layer_class()
    loss = layer.forward(x, t)
    assert_array_equal(x, x0)
    assert_array_equal(t, t0)
    assert_allclose(layer.y, layer(x0))
    dx = layer.backward()
    assert_array_equal(x, x0)
    in_place = layer_class()
    assert in_place.forward(x, t, out=x) == loss
    assert in_place.y is x  # written over its input, as the network asks
    assert_allclose(x, layer(x0))
    assert_allclose(in_place.backward(out=np.empty_like(x)), dx)


def test_poisson_loss_is_stable_for_large_outputs():
    x = np.array([[-800.0, 0.0, 700.0]])
    t = np.array([[0.0, 1.0, 3.0]])
    loss = PoissonWithLoss().forward(x, t)  # no overflow, no log(0)
    assert np.isfinite(loss)
    assert loss == pytest.approx(np.exp(700.0) - 3 * 700 + 3 * np.log(3) - 3 + 1)
    with np.errstate(over="raise"):
        assert PoissonWithLoss().forward(np.array([[800.0]]), t[:, :1]) == np.inf


@pytest.mark.parametrize("loss", LOSSES)
def test_every_loss_is_documented(loss):
    words = " ".join(BPRegressor.__doc__.split())
    assert f'``"{loss}"``: {" ".join(OUTPUTS[loss].doc.split())}' in words
    assert f'``"{OUTPUTS[loss].out_activation}"`` for ``loss="{loss}"``' in words


@pytest.mark.parametrize("loss", losses("regressor"))
def test_out_activation_is_the_loss_entrys(loss):
    X, y = np.arange(12.0).reshape(6, 2), np.arange(1.0, 7.0)  # gamma: y > 0
    reg = BPRegressor((2,), loss=loss, solver="lbfgs", max_iter=2).fit(X, y)
    assert reg.out_activation_ == OUTPUTS[loss].out_activation
    if loss in ("squared_error", "poisson"):  # MLPRegressor's
        assert reg.out_activation_ == {"squared_error": "identity"}.get(loss, "exp")


# ------------------------------------------------------------- MLPRegressor ---


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("solver", registered_solvers(mlp=True))
@pytest.mark.parametrize("n_targets", [1, 3])
@pytest.mark.parametrize("loss", MLP_LOSSES)
def test_same_weights_as_mlpregressor(loss, n_targets, solver, weighted):
    if loss == "squared_error" and n_targets > 1 and solver == "lbfgs":
        pytest.skip("see test_multioutput_lbfgs_differs_from_mlpregressor")
    y = targets(loss, n_targets)
    sw = SW if weighted else None
    params = dict(COMMON, loss=loss, solver=solver)
    if solver != "lbfgs":
        params["n_iter_no_change"] = np.inf  # losses differ by n_outputs: no tol
    mlp = fit_quietly(MLPRegressor(activation="logistic", **params), X, y, sw)
    reg = fit_quietly(BPRegressor(**params), X, y, sample_weight=sw)
    assert_allclose(flat_params(reg), flat_params(mlp), rtol=0, atol=1e-10)
    assert reg.n_iter_ == mlp.n_iter_
    if solver != "lbfgs":  # (MLPRegressor's L-BFGS leaves t_ at 0)
        assert reg.t_ == mlp.t_
    assert reg.out_activation_ == mlp.out_activation_
    assert reg.n_outputs_ == mlp.n_outputs_ and reg.n_layers_ == mlp.n_layers_
    prediction = reg.predict(X)
    assert prediction.shape == mlp.predict(X).shape
    assert_allclose(prediction, mlp.predict(X), rtol=1e-9, atol=1e-10)
    if n_targets == 1 or loss == "poisson":
        assert reg.loss_ == pytest.approx(mlp.loss_, rel=1e-9)
        if solver != "lbfgs":  # (MLPRegressor's L-BFGS keeps no curve)
            assert reg.loss_curve_ == pytest.approx(mlp.loss_curve_, rel=1e-9)


@given(
    solver=st.sampled_from(registered_solvers(mlp=True, stochastic=True)),
    n_outputs=st.integers(2, 3),
    alpha=st.sampled_from([0.0, 1e-3, 1.0]),
    tol=st.sampled_from([0.0, 1e-3, 0.01, 0.05]),
    patience=st.integers(1, 3),
    learning_rate=st.sampled_from(["constant", "adaptive"]),
    weighted=st.booleans(),
)
def test_multioutput_squared_error_stops_where_mlpregressor_stops(
    solver, n_outputs, alpha, tol, patience, learning_rate, weighted
):
    """MLPRegressor trains on the gradient of the squared error summed over
    outputs but reports (and compares with tol) its mean over outputs plus the
    L2 term: BPRegressor reports the same, so it stops at the same epoch."""
    params = dict(
        COMMON, solver=solver, alpha=alpha, tol=tol, n_iter_no_change=patience,
        learning_rate=learning_rate, max_iter=60, batch_size=50,
    )  # fmt: skip
    y, sw = Y3[:, :n_outputs], None
    if weighted:  # one batch: MLP weights each batch's loss by its rows (README)
        sw, params["batch_size"] = SW, len(X)
    mlp = fit_quietly(MLPRegressor(activation="logistic", **params), X, y, sw)
    reg = fit_quietly(BPRegressor(**params), X, y, sample_weight=sw)
    assert reg.n_iter_ == mlp.n_iter_
    assert_allclose(reg.loss_curve_, mlp.loss_curve_, rtol=1e-10)
    assert reg.best_loss_ == pytest.approx(mlp.best_loss_, rel=1e-10)
    assert_allclose(flat_params(reg), flat_params(mlp), atol=1e-9)


@pytest.mark.parametrize("alpha", [0.0, 0.5])
def test_multioutput_lbfgs_loss_is_mlpregressors_loss_at_the_fitted_weights(alpha):
    """L-BFGS's loss_ is MLPRegressor's squared_loss plus its L2 term at the
    fitted weights, and gradient_check still holds: both gradients are of the
    objective L-BFGS minimises, the squared error summed over outputs."""
    reg = fit_quietly(BPRegressor(**dict(COMMON, solver="lbfgs", alpha=alpha)), X, Y3)
    l2 = 0.5 * alpha * sum((W**2).sum() for W in reg.coefs_) / len(X)
    assert reg.loss_ == pytest.approx(squared_loss(Y3, reg.predict(X)) + l2, rel=1e-10)
    assert reg.loss_curve_[-1] == reg.loss_
    assert max(gradient_check(reg, X, Y3).values()) < 1e-6


def test_multioutput_lbfgs_differs_from_mlpregressor():
    """MLPRegressor's L-BFGS line search sees the loss averaged over outputs
    and the gradient of their sum, two functions; BPRegressor minimises the
    sum (and reports it as MLPRegressor reports its loss): the paths differ,
    which the README documents. Single-output fits are the same."""
    params = dict(COMMON, solver="lbfgs")
    mlp = fit_quietly(MLPRegressor(activation="logistic", **params), X, Y3)
    reg = fit_quietly(BPRegressor(**params), X, Y3)
    assert np.abs(flat_params(reg) - flat_params(mlp)).max() > 1e-4
    one = dict(params, max_iter=30)
    mlp1 = fit_quietly(MLPRegressor(activation="logistic", **one), X, Y3[:, 0])
    assert_allclose(
        flat_params(fit_quietly(BPRegressor(**one), X, Y3[:, 0])),
        flat_params(mlp1),
        atol=1e-6,
    )
    # Same loss and gradient as MLPRegressor's stochastic updates, though:
    sgd = dict(params, solver="sgd", n_iter_no_change=np.inf)
    mlp = fit_quietly(MLPRegressor(activation="logistic", **sgd), X, Y3)
    assert_allclose(
        flat_params(fit_quietly(BPRegressor(**sgd), X, Y3)),
        flat_params(mlp),
        atol=1e-10,
    )


@pytest.mark.parametrize("loss", MLP_LOSSES)
def test_partial_fit_and_early_stopping_as_mlpregressor(loss):
    y = targets(loss, 3)
    params = dict(COMMON, loss=loss, solver="sgd")
    mlp = MLPRegressor(activation="logistic", **params)
    reg = BPRegressor(**params)
    for rows in (slice(0, 60), slice(60, None), slice(None)):
        mlp.partial_fit(X[rows], y[rows], sample_weight=SW[rows])
        reg.partial_fit(X[rows], y[rows], sample_weight=SW[rows])
    assert_allclose(flat_params(reg), flat_params(mlp), atol=1e-10)
    params.update(early_stopping=True, max_iter=15, tol=0.0, n_iter_no_change=3)
    mlp = fit_quietly(MLPRegressor(activation="logistic", **params), X, y, SW)
    reg = fit_quietly(BPRegressor(**params), X, y, sample_weight=SW)
    assert_allclose(reg.validation_scores_, mlp.validation_scores_, rtol=1e-9)
    assert reg.best_validation_score_ == pytest.approx(mlp.best_validation_score_)
    assert reg.n_iter_ == mlp.n_iter_
    assert_allclose(flat_params(reg), flat_params(mlp), atol=1e-10)


# ---------------------------------------------------- backprop vs numerical ---


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
@pytest.mark.parametrize("loss", LOSSES)
def test_backprop_and_numerical_fits_agree(loss, solver):
    if OUTPUTS[loss].layer.has_kinks:
        pytest.skip("a residual within a step of a kink: the gradients differ there")
    y = targets(loss, 2 if loss == "poisson" else 3)[:60]
    params = dict(COMMON, hidden_layer_sizes=(4,), loss=loss, solver=solver)
    params.update(max_iter=10, batch_size=20, n_iter_no_change=np.inf)
    fits = [
        fit_quietly(BPRegressor(gradient=g, **params), X[:60], y, sample_weight=SW[:60])
        for g in ("backprop", "numerical")
    ]
    # L-BFGS's line search amplifies the 1e-10 differences of each gradient.
    tol = 1e-6 if solver == "lbfgs" else 1e-8
    assert_allclose(flat_params(fits[1]), flat_params(fits[0]), rtol=0, atol=tol)
    assert_allclose(fits[1].loss_curve_, fits[0].loss_curve_, rtol=tol)


@pytest.mark.parametrize("loss", LOSSES)
def test_gradient_check(loss):
    reg = BPRegressor((4,), loss=loss, random_state=0)
    errors = gradient_check(reg, X, targets(loss, 3))
    assert list(errors) == ["W1", "b1", "W2", "b2"]
    assert max(errors.values()) < 1e-7
    assert not hasattr(reg, "coefs_")  # unchanged


# ---------------------------------------------------------- estimator checks ---

NUMERICAL = dict(
    hidden_layer_sizes=(5,),
    gradient="numerical",
    solver="lbfgs",
    max_iter=50,
    random_state=0,
)


# No expected failures: every check passes, the multi-output ones included
# (the tags say multi-output y is supported).
@parametrize_with_checks(
    [
        BPRegressor(random_state=0),
        BPRegressor(**NUMERICAL),
        BPRegressor(dropout=0.1, random_state=0),
    ],
    # A mask per row: a duplicated row is dropped twice, a weight of 2 once.
    expected_failed_checks=lambda est: (
        {
            f"check_sample_weight_equivalence_on_{kind}_data": "one mask per row"
            for kind in ("dense", "sparse")
        }
        if est.dropout
        else {}
    ),
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@parametrize_with_checks(
    [
        BPRegressor(loss="absolute_error", random_state=0),
        BPRegressor(loss="quantile", quantile=0.4, random_state=0),
        BPRegressor(loss="gamma", random_state=0),
    ],
    # scikit-learn's multi-output check ignores the positive_only tag: its
    # negative y is refused by the gamma loss's clear ValueError.
    expected_failed_checks=lambda est: (
        {"check_regressor_multioutput": "negative y; gamma needs y > 0"}
        if est.loss == "gamma"
        else {}
    ),
)
def test_sklearn_estimator_checks_of_the_new_losses(estimator, check):
    check(estimator)


# ------------------------------------------------------------------ targets ---


def test_1d_y_predicts_1d_and_column_y_warns_as_mlpregressor():
    y = Y3[:, 0]
    reg = fit_quietly(BPRegressor((3,), max_iter=2, random_state=0), X, y)
    assert reg.n_outputs_ == 1 and reg.predict(X).shape == (len(X),)
    with pytest.warns(DataConversionWarning):
        column = fit_quietly(
            BPRegressor((3,), max_iter=2, random_state=0), X, y[:, None]
        )
    assert_array_equal(column.predict(X), reg.predict(X))
    assert fit_quietly(BPRegressor((3,), max_iter=2), X, Y3).predict(X).shape == (
        len(X),
        3,
    )


def test_poisson_refuses_negative_targets():
    with pytest.raises(ValueError, match="non-negative targets"):
        BPRegressor(loss="poisson").fit(X, Y3)


def test_continuing_needs_the_same_outputs_and_loss():
    reg = BPRegressor((3,), solver="sgd", random_state=0).partial_fit(X, Y3)
    with pytest.raises(ValueError, match="y has 1 outputs"):
        reg.partial_fit(X, Y3[:, 0])
    with pytest.raises(ValueError, match="differs from the loss") as partial:
        reg.set_params(loss="poisson").partial_fit(X, np.exp(Y3))
    # warm_start means nothing to partial_fit: say what does.
    assert "warm_start" not in str(partial.value)
    assert "loss='squared_error' to continue" in str(partial.value)
    reg.set_params(loss="squared_error").partial_fit(X, Y3)  # still usable
    reg.set_params(warm_start=True, loss="poisson", max_iter=1)
    with pytest.raises(ValueError, match="Set warm_start=False"):
        reg.fit(X, np.exp(Y3))


_BAD_TARGETS = {
    "huge": (X, Y3 * 1e154, "too large for the squared error in float64"),
    "huge-poisson-ok": None,
    "None": (X[:4], np.array([1.0, None, 2.0, 3.0], dtype=object), "NaN"),
    "beyond-float32": (X.astype(np.float32), Y3 * 1e39, "beyond the float32 range"),
    "float32-large": (X.astype(np.float32), Y3 * 1e18, "float32"),
    "datetime": (X[:4], np.arange(4).astype("datetime64[D]"), "dates or durations"),
    "timedelta": (X[:4], np.arange(4).astype("timedelta64[s]"), "dates or durations"),
}
del _BAD_TARGETS["huge-poisson-ok"]


@pytest.mark.parametrize("case", _BAD_TARGETS, ids=list(_BAD_TARGETS))
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_bad_targets_are_blamed_on_y(case, method):
    """Targets the squared error cannot hold, or that are not numbers, are a
    ValueError about y (not a divergence blamed on X), before any training."""
    X_bad, y_bad, reason = _BAD_TARGETS[case]
    reg = BPRegressor((3,), solver="sgd", random_state=0)
    with pytest.raises(ValueError, match=reason) as error:
        getattr(reg, method)(X_bad, y_bad)
    assert re.search(r"\by\b", str(error.value))
    assert "diverged" not in str(error.value)
    assert not hasattr(reg, "n_iter_")


def test_targets_below_the_overflow_bound_train():
    """The bound leaves room: |y| of 1e100 in float64 (and 1e15 in float32)
    is refused by nothing but the fit itself."""
    for X_ok, scale in ((X, 1e100), (X.astype(np.float32), 1e15)):
        reg = BPRegressor((3,), solver="adam", max_iter=2, random_state=0)
        fit_quietly(reg, X_ok, Y3 * scale)
        assert np.isfinite(reg.loss_)


def test_partial_fit_only_for_stochastic_solvers():
    assert not hasattr(BPRegressor(solver="lbfgs"), "partial_fit")


def test_non_numeric_targets_are_refused():
    with pytest.raises(ValueError, match="numeric targets"):
        BPRegressor().fit(X[:3], np.array(["a", "b", "c"], dtype=object))


def test_early_stopping_scores_r2():
    reg = fit_quietly(
        BPRegressor((5,), early_stopping=True, max_iter=5, random_state=0), X, Y3
    )
    assert len(reg.validation_scores_) == reg.n_iter_
    assert reg.best_validation_score_ == max(reg.validation_scores_)
    logits = np.array([[0.0, 1.0], [2.0, 3.0], [1.0, 1.0]])
    T = np.array([[0.5, 1.0], [2.0, 2.0], [1.0, 0.0]])
    w = np.array([1.0, 2.0, 3.0])
    assert reg._validation_score(logits, T, w) == pytest.approx(
        r2_score(T, logits, sample_weight=w)
    )


# ------------------------------------------------------- inputs and predict ---


def test_sparse_and_float32_inputs():
    reg = fit_quietly(BPRegressor((4,), max_iter=3, random_state=0), X, Y3)
    dense = reg.predict(X)
    sparse = fit_quietly(
        BPRegressor((4,), max_iter=3, random_state=0), sp.csr_array(X), Y3
    )
    assert_allclose(sparse.predict(sp.csr_array(X)), dense, rtol=1e-12)
    single = fit_quietly(
        BPRegressor((4,), max_iter=3, random_state=0), X.astype(np.float32), Y3
    )
    assert single.coefs_[0].dtype == np.float32
    assert single.predict(X).dtype == np.float32
    assert_allclose(single.predict(X), dense, rtol=1e-3, atol=1e-4)


def test_chunked_predict_and_threads(monkeypatch):
    import skbp._base

    reg = fit_quietly(
        BPRegressor((4,), loss="poisson", max_iter=3, random_state=0), X, np.exp(Y3)
    )
    whole = reg.predict(X)
    monkeypatch.setattr(skbp._base, "_PREDICT_CHUNK_ROWS", 7)
    results = [None] * 4

    def work(i):
        results[i] = reg.predict(X)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:  # blocks of 7 rows: BLAS may round differently
        assert_allclose(result, whole, rtol=1e-14)
        assert_array_equal(result, results[0])


def test_overflowing_poisson_prediction_is_a_clear_error():
    reg = fit_quietly(
        BPRegressor((3,), loss="poisson", max_iter=2, random_state=0), X, np.exp(Y3)
    )
    reg.intercepts_[-1] = np.full(3, 800.0)  # exp(800) overflows
    with pytest.raises(ValueError, match="outputs overflowed"):
        reg.predict(X)


def test_divergence_is_an_error_that_keeps_the_model():
    reg = BPRegressor((3,), "identity", max_iter=2, random_state=0)
    before = flat_params(fit_quietly(reg, X, Y3))
    with pytest.raises(ValueError, match="Training diverged"):
        reg.set_params(
            warm_start=True, solver="sgd", learning_rate_init=10.0, max_iter=50
        ).fit(X * 1e3, Y3)
    assert_array_equal(flat_params(reg), before)
    with pytest.raises(ValueError, match="y is too large"):
        reg.fit(X, Y3 * 1e200)
    assert_array_equal(flat_params(reg), before)


# -------------------------------------------------------------- persistence ---


@pytest.mark.parametrize("loss", LOSSES)
def test_pickle_and_joblib_round_trips(tmp_path, loss):
    reg = BPRegressor((4,), loss=loss, max_iter=3, random_state=0)
    reg = fit_quietly(reg, X, targets(loss, 3))
    for loaded in (
        pickle.loads(pickle.dumps(reg)),
        joblib.load(joblib.dump(reg, tmp_path / "reg.joblib")[0]),
    ):
        assert_array_equal(loaded.predict(X), reg.predict(X))
        assert loaded.loss_curve_ == reg.loss_curve_


@pytest.mark.parametrize("loss", ["squared_error", "poisson"])
def test_models_saved_with_the_state_tuple_still_load(loss):
    """skbp 0.1.0 pickled ``(layer_units, activation, out_activation_, params)``."""
    reg = fit_quietly(
        BPRegressor((4,), loss=loss, max_iter=3, random_state=0), X, np.exp(Y3)
    )
    state = reg.__getstate__()
    network = state["_network"]
    old = (network["layer_units"], network["activation"], reg.out_activation_)
    state["_network"] = (*old, network["params"])
    loaded = BPRegressor.__new__(BPRegressor)
    loaded.__setstate__(dict(state))  # __setstate__ pops the version
    assert_array_equal(loaded.predict(X), reg.predict(X))
    state["_network"] = ([2, 4, 3], "logistic", "huber?", network["params"])
    with pytest.raises(ValueError, match="skbp version that saved it"):
        BPRegressor.__new__(BPRegressor).__setstate__(state)


def test_skops_round_trip(tmp_path):
    sio = pytest.importorskip("skops.io")
    reg = fit_quietly(
        BPRegressor((4,), loss="poisson", max_iter=3, random_state=0), X, np.exp(Y3)
    )
    path = tmp_path / "reg.skops"
    sio.dump(reg, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert "skbp.regressor.BPRegressor" in untrusted
    assert {t.split(".")[1] for t in untrusted} <= {"regressor", "optimizers"}
    loaded = sio.load(path, trusted=untrusted)
    assert_array_equal(loaded.predict(X), reg.predict(X))


def test_training_curve_display_shows_r2():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from skbp import TrainingCurveDisplay

    reg = fit_quietly(
        BPRegressor((4,), early_stopping=True, max_iter=4, random_state=0), X, Y3
    )
    display = TrainingCurveDisplay.from_estimator(reg)
    assert display.validation_ax_.get_ylabel() == "Validation score (R²)"
    assert display.ax_.get_legend_handles_labels()[1][0].startswith(
        "BPRegressor (backprop)"
    )
    plt.close("all")


def test_grid_search_in_a_pipeline():
    search = GridSearchCV(
        make_pipeline(StandardScaler(), BPRegressor((4,), max_iter=5, random_state=0)),
        {"bpregressor__gradient": ["backprop", "numerical"]},
        cv=KFold(2),
    )
    fit_quietly(search, X[:40], Y3[:40])
    scores = search.cv_results_["mean_test_score"]
    assert_allclose(scores[0], scores[1], rtol=1e-6)
