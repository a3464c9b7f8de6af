"""Bad input gets a clear error, training faults lose nothing (issue: reliability)."""

import _thread
import pickle
import subprocess
import sys
import threading
import time
import warnings

import joblib
import numpy as np
import pytest
from _helpers import flat_params, registered_solvers, sgd_classifier
from hypothesis import given
from hypothesis import strategies as st
from sklearn.datasets import load_diabetes, load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV

import skbp.gradients

X_IRIS, Y_IRIS = load_iris(return_X_y=True)


def small(**kwargs):
    return sgd_classifier((3,), **{"max_iter": 2, "n_iter_no_change": np.inf, **kwargs})


def with_nan():
    X = X_IRIS.copy()
    X[3, 1] = np.nan
    return X


def with_inf(sign):
    X = X_IRIS.copy()
    X[3, 1] = sign * np.inf
    return X


BAD_FIT_INPUTS = {
    "nan in X": (with_nan, lambda: Y_IRIS, None, ValueError, "NaN"),
    "+inf in X": (lambda: with_inf(1), lambda: Y_IRIS, None, ValueError, "infinity"),
    "-inf in X": (lambda: with_inf(-1), lambda: Y_IRIS, None, ValueError, "infinity"),
    "empty X": (lambda: np.empty((0, 4)), lambda: [], None, ValueError, "0 sample"),
    "0 features": (
        lambda: np.empty((6, 0)),
        lambda: [0, 1] * 3,
        None,
        ValueError,
        "0 feature",
    ),
    "single sample": (
        lambda: X_IRIS[:1],
        lambda: Y_IRIS[:1],
        None,
        ValueError,
        "only one class",
    ),
    "one class": (
        lambda: X_IRIS[:50],
        lambda: Y_IRIS[:50],
        None,
        ValueError,
        "one class",
    ),
    "X and y lengths differ": (
        lambda: X_IRIS,
        lambda: Y_IRIS[:-1],
        None,
        ValueError,
        "inconsistent numbers of samples",
    ),
    "nan in y": (
        lambda: X_IRIS,
        lambda: np.where(Y_IRIS == 0, np.nan, Y_IRIS),
        None,
        ValueError,
        "NaN",
    ),
    "continuous y": (
        lambda: X_IRIS,
        lambda: X_IRIS[:, 0],
        None,
        ValueError,
        "continuous",
    ),
    "3-D X": (lambda: X_IRIS[:, :, None], lambda: Y_IRIS, None, ValueError, "dim 3"),
    "string X": (
        lambda: np.full((150, 2), "a"),
        lambda: Y_IRIS,
        None,
        ValueError,
        "convert string to float",
    ),
    "complex X": (lambda: X_IRIS + 1j, lambda: Y_IRIS, None, ValueError, "Complex"),
    "sample_weight wrong length": (
        lambda: X_IRIS,
        lambda: Y_IRIS,
        np.ones(3),
        ValueError,
        "sample_weight",
    ),
    "negative sample_weight": (
        lambda: X_IRIS,
        lambda: Y_IRIS,
        -np.ones(150),
        ValueError,
        "Negative",
    ),
    "all-zero sample_weight": (
        lambda: X_IRIS,
        lambda: Y_IRIS,
        np.zeros(150),
        ValueError,
        "non-zero|sum to zero",
    ),
}


@pytest.mark.parametrize("gradient", ["backprop", "numerical"])
@pytest.mark.parametrize("case", list(BAD_FIT_INPUTS))
def test_bad_fit_input_raises_clearly_and_fits_nothing(case, gradient):
    make_X, make_y, sample_weight, error, match = BAD_FIT_INPUTS[case]
    X, y = make_X(), make_y()
    X_before = np.array(X, copy=True)
    clf = small(gradient=gradient)
    with pytest.raises(error, match=match):
        clf.fit(X, y, sample_weight=sample_weight)
    with pytest.raises(NotFittedError):
        clf.predict(X_IRIS)
    np.testing.assert_array_equal(np.asarray(X), X_before)


def test_bad_input_to_a_fitted_model_keeps_it_intact():
    clf = small(random_state=0).fit(X_IRIS, Y_IRIS)
    params, proba = flat_params(clf).copy(), clf.predict_proba(X_IRIS)
    for case, (make_X, make_y, sw, error, match) in BAD_FIT_INPUTS.items():
        with pytest.raises(error, match=match):
            clf.fit(make_X(), make_y(), sample_weight=sw)
        assert clf.n_features_in_ == 4, case
    np.testing.assert_array_equal(flat_params(clf), params)
    np.testing.assert_array_equal(clf.predict_proba(X_IRIS), proba)


def test_column_vector_y_warns_and_ravels():
    from sklearn.exceptions import DataConversionWarning

    with pytest.warns(DataConversionWarning, match="column-vector") as record:
        col = small(random_state=0).fit(X_IRIS, Y_IRIS[:, None])
    assert record[0].filename == __file__  # points at the caller's fit
    flat = small(random_state=0).fit(X_IRIS, Y_IRIS)
    np.testing.assert_array_equal(flat_params(col), flat_params(flat))


def test_bad_predict_input():
    clf = small(random_state=0).fit(X_IRIS, Y_IRIS)
    with pytest.raises(ValueError, match="3 features"):
        clf.predict(X_IRIS[:, :3])
    with pytest.raises(NotFittedError):
        small().predict(X_IRIS)
    with pytest.raises(NotFittedError):
        small().predict_proba(X_IRIS)
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(with_nan())
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X_IRIS, columns=["a", "b", "c", "d"])
    named = small(random_state=0).fit(df, Y_IRIS)
    with pytest.raises(ValueError, match="feature names"):
        named.predict(df.rename(columns={"a": "z"}))


def test_partial_fit_rejects_labels_outside_classes_and_keeps_model():
    clf = small(random_state=0)
    clf.partial_fit(X_IRIS[:100], Y_IRIS[:100], classes=[0, 1, 2])
    params = flat_params(clf).copy()
    with pytest.raises(ValueError, match=r"\[7\]"):
        clf.partial_fit(X_IRIS[:10], np.full(10, 7))
    np.testing.assert_array_equal(flat_params(clf), params)
    with pytest.raises(ValueError, match="first call"):
        small().partial_fit(X_IRIS, Y_IRIS)


@pytest.mark.parametrize(
    "params, name",
    [
        ({"hidden_layer_sizes": (0,)}, "hidden_layer_sizes"),
        ({"learning_rate_init": -0.1}, "learning_rate_init"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_iter": 0}, "max_iter"),
        ({"numerical_step": 0.0}, "numerical_step"),
        ({"numerical_step": -1e-4}, "numerical_step"),
    ],
)
def test_absurd_hyperparameters(params, name):
    with pytest.raises(ValueError, match=name):
        sgd_classifier(**params).fit(X_IRIS, Y_IRIS)


@pytest.mark.parametrize("gradient", ["backprop", "numerical"])
def test_huge_finite_inputs_never_give_nan_probabilities(gradient):
    # Either training copes (saturated units) or it stops with a clear error.
    X = X_IRIS * 1e300
    clf = small(gradient=gradient, random_state=0)
    try:
        clf.fit(X, Y_IRIS)
    except ValueError as exc:
        assert "diverged" in str(exc)
        with pytest.raises(NotFittedError):
            clf.predict(X)
        return
    proba = clf.predict_proba(X)
    assert np.all(np.isfinite(proba))
    np.testing.assert_allclose(proba.sum(axis=1), 1)


@pytest.mark.parametrize("solver", registered_solvers(stochastic=True))
def test_divergence_stops_and_keeps_a_warm_started_model(solver):
    clf = small(solver=solver, random_state=0, warm_start=True).fit(X_IRIS, Y_IRIS)
    before = pickle.dumps(clf)
    X = X_IRIS * 1e6  # with a rate of 1e308 the very first step overflows
    clf.set_params(learning_rate_init=1e308)
    with pytest.raises(ValueError, match="diverged.*learning_rate_init"):
        clf.fit(X, Y_IRIS)
    clf.set_params(learning_rate_init=0.1)
    assert pickle.dumps(clf) == before  # nothing changed, bit for bit
    assert np.all(np.isfinite(flat_params(clf)))


def test_a_loss_that_explodes_below_inf_is_divergence():
    """SGD at rate 10 on the diabetes data as loaded: the loss goes 1.7e14,
    3.7e31, ... and would stop at 1e205 without reaching inf."""
    from skbp import BPRegressor

    X, y = load_diabetes(return_X_y=True)
    reg = BPRegressor((5,), solver="sgd", max_iter=3, random_state=0).fit(X, y)
    before = pickle.dumps(reg)
    reg.set_params(hidden_layer_sizes=(100,), learning_rate_init=10.0, max_iter=200)
    with pytest.raises(ValueError, match="diverged: the loss exploded"):
        reg.fit(X, y)
    assert pickle.dumps(reg.set_params(**_FIRST)) == before


_FIRST = dict(hidden_layer_sizes=(5,), learning_rate_init=0.001, max_iter=3)


@pytest.mark.parametrize("solver", registered_solvers(stochastic=True))
def test_the_explosion_rule_spares_the_diabetes_fits_as_loaded(solver):
    """Unscaled y (loss about 1.5e4 at the start) at the default rates."""
    from skbp import BPRegressor

    X, y = load_diabetes(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg = BPRegressor(solver=solver, max_iter=50, random_state=0).fit(X, y)
    assert reg.loss_ < reg.loss_curve_[0] * 10


@given(
    solver=st.sampled_from(registered_solvers(stochastic=True)),
    rate=st.sampled_from([1e-3, 0.01, 0.05]),
    scale=st.sampled_from([1e-6, 1.0, 1e3, 1e60]),
    momentum=st.sampled_from([0.0, 0.9]),
    dtype=st.sampled_from([np.float64, np.float32]),
    seed=st.integers(0, 3),
)
def test_the_explosion_rule_never_fires_on_well_scaled_fits(
    solver, rate, scale, momentum, dtype, seed
):
    """Standardised X, y of any scale the dtype holds, stable rates: every
    fit ends, whatever its loss does on the way."""
    from sklearn.datasets import make_regression

    from skbp import BPRegressor

    if dtype is np.float32:
        scale = min(scale, 1e3)
    X, y = make_regression(80, 4, noise=5.0, random_state=seed)
    X, y = (X - X.mean(0)) / X.std(0), y / y.std() * scale
    reg = BPRegressor(
        (8,), activation="tanh", solver=solver, learning_rate_init=rate,
        momentum=momentum, max_iter=30, batch_size=20, random_state=seed,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X.astype(dtype), y)
    assert np.isfinite(reg.loss_)


def test_lbfgs_divergence_stops_and_keeps_the_model(monkeypatch):
    clf = small(solver="lbfgs", random_state=0, warm_start=True).fit(X_IRIS, Y_IRIS)
    before = pickle.dumps(clf)
    real = skbp.gradients.GRADIENTS["backprop"]
    calls = []

    def nan_at_call_4(network, *args, **kwargs):
        calls.append(1)
        loss = real(network, *args, **kwargs)
        return np.nan if len(calls) == 4 else loss

    monkeypatch.setitem(skbp.gradients.GRADIENTS, "backprop", nan_at_call_4)
    with pytest.raises(ValueError, match="diverged"):
        clf.fit(X_IRIS, Y_IRIS)
    assert len(calls) == 4
    assert pickle.dumps(clf) == before


def test_divergence_in_partial_fit_keeps_previous_model():
    clf = small(solver="sgd", momentum=0.5, random_state=0)
    clf.partial_fit(X_IRIS, Y_IRIS, classes=[0, 1, 2])
    params = flat_params(clf).copy()
    velocities = clf._optimizer.velocities.copy()
    clf.set_params(learning_rate_init=1e308)
    with pytest.raises(ValueError, match="diverged"):
        clf.partial_fit(X_IRIS * 1e6, Y_IRIS)  # steps of 1e308 * 1e6 overflow
    np.testing.assert_array_equal(flat_params(clf), params)
    np.testing.assert_array_equal(clf._optimizer.velocities, velocities)
    assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 1


@pytest.mark.parametrize("gradient", ["backprop", "numerical"])
def test_interrupt_at_a_chosen_step(monkeypatch, gradient):
    real = skbp.gradients.GRADIENTS[gradient]
    seen = []

    def interrupt_at_step_5(network, *args, **kwargs):
        seen.append(network.params.copy())
        if len(seen) == 5:
            raise KeyboardInterrupt
        return real(network, *args, **kwargs)

    monkeypatch.setitem(skbp.gradients.GRADIENTS, gradient, interrupt_at_step_5)
    clf = small(gradient=gradient, batch_size=50, max_iter=10, random_state=0)
    with pytest.warns(UserWarning, match="interrupted"):
        clf.fit(X_IRIS, Y_IRIS)
    assert clf.n_iter_ == 1  # 3 steps per epoch; the 5th step never finished
    np.testing.assert_array_equal(flat_params(clf), seen[4])
    assert np.all(np.isfinite(clf.predict_proba(X_IRIS)))


def test_interrupt_from_a_timer():
    X, y = load_digits(return_X_y=True)
    clf = sgd_classifier(
        (20,), gradient="numerical", max_iter=1000, n_iter_no_change=np.inf
    )
    timer = threading.Timer(1.5, _thread.interrupt_main)
    start = time.perf_counter()
    timer.start()
    try:
        with pytest.warns(UserWarning, match="interrupted"):
            clf.fit(X, y)
    finally:
        timer.cancel()
    assert time.perf_counter() - start < 30  # stopped promptly
    assert clf.n_iter_ < 1000
    assert len(clf.loss_curve_) == clf.n_iter_
    assert np.all(np.isfinite(flat_params(clf)))
    assert clf.predict(X).shape == (len(X),)


def test_concurrent_predictions_match_serial():
    X, y = load_digits(return_X_y=True)
    clf = sgd_classifier((30,), max_iter=5, random_state=0).fit(X, y)
    expected = clf.predict_proba(X), clf.predict(X), clf.predict_log_proba(X)
    results = {}

    def work(i):
        results[i] = clf.predict_proba(X), clf.predict(X), clf.predict_log_proba(X)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got in results.values():
        for a, b in zip(got, expected, strict=True):
            np.testing.assert_array_equal(a, b)


def test_grid_search_n_jobs_2_equals_n_jobs_1():
    grid = {"gradient": ["backprop", "numerical"], "hidden_layer_sizes": [(2,), (4,)]}
    est = sgd_classifier(
        max_iter=3, batch_size=30, random_state=0, n_iter_no_change=np.inf
    )
    serial = GridSearchCV(est, grid, cv=3, n_jobs=1).fit(X_IRIS, Y_IRIS)
    parallel = GridSearchCV(est, grid, cv=3, n_jobs=2).fit(X_IRIS, Y_IRIS)
    np.testing.assert_array_equal(
        serial.cv_results_["mean_test_score"], parallel.cv_results_["mean_test_score"]
    )
    np.testing.assert_array_equal(
        flat_params(serial.best_estimator_), flat_params(parallel.best_estimator_)
    )


_DETERMINISM_SCRIPT = """
import hashlib, numpy as np
from sklearn.datasets import load_iris
from skbp import BPClassifier
X, y = load_iris(return_X_y=True)
for gradient in ("backprop", "numerical"):
    clf = BPClassifier((4,), gradient=gradient, max_iter=3, random_state=42,
                       n_iter_no_change=np.inf).fit(X, y)
    print(hashlib.sha256(clf._params.tobytes()).hexdigest())
"""


def test_same_random_state_is_bit_identical_across_processes():
    runs = [
        subprocess.run(
            [sys.executable, "-c", _DETERMINISM_SCRIPT],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for _ in range(2)
    ]
    assert runs[0] == runs[1] and len(runs[0].split()) == 2
    here = flat_params(small(random_state=7).fit(X_IRIS, Y_IRIS))
    again = flat_params(small(random_state=7).fit(X_IRIS, Y_IRIS))
    np.testing.assert_array_equal(here, again)
    other = flat_params(small().fit(X_IRIS, Y_IRIS))
    assert not np.array_equal(other, flat_params(small().fit(X_IRIS, Y_IRIS)))


@pytest.mark.parametrize("solver", registered_solvers(stochastic=True))
def test_mid_partial_fit_model_survives_round_trips(tmp_path, solver):
    kwargs = dict(solver=solver, momentum=0.9, random_state=0)
    clf = small(**kwargs)
    clf.partial_fit(X_IRIS[:75], Y_IRIS[:75], classes=[0, 1, 2])
    pickled = pickle.loads(pickle.dumps(clf))
    joblib.dump(clf, tmp_path / "m.joblib")
    loaded = joblib.load(tmp_path / "m.joblib")
    for copy in (pickled, loaded):
        np.testing.assert_array_equal(flat_params(copy), flat_params(clf))
    for model in (clf, pickled, loaded):
        model.partial_fit(X_IRIS[75:], Y_IRIS[75:])
        model.partial_fit(X_IRIS, Y_IRIS)
    for copy in (pickled, loaded):
        np.testing.assert_array_equal(flat_params(copy), flat_params(clf))
        assert copy.loss_curve_ == clf.loss_curve_
        for view in copy.coefs_:
            assert np.shares_memory(view, copy._params)


def test_no_warning_noise_on_a_good_fit():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sgd_classifier(max_iter=300, random_state=0).fit(*load_digits(return_X_y=True))


def test_a_poisson_fit_whose_predictions_overflow_is_divergence():
    """exp of finite outputs beyond log(max float) is caught in fit, not predict.

    Found by tests/test_differential.py: the fit returned (loss_ 9.8e39) and
    predict then raised; MLPRegressor returns infinite predictions.
    """
    from skbp import BPRegressor

    rng = np.random.RandomState(0)
    X = rng.standard_normal((20, 2))
    y = rng.poisson(np.exp(X[:, 0])).astype(float)
    reg = BPRegressor(
        loss="poisson", hidden_layer_sizes=(2,), activation="identity",
        solver="sgd", learning_rate_init=1.0, momentum=0.0, max_iter=2,
        random_state=0,
    )  # fmt: skip
    with pytest.raises(ValueError, match="Training diverged"):
        reg.fit(X, y)
    assert "_network" not in reg.__dict__  # left unfitted, as it was
