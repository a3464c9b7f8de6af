"""Faults that used to lose work or state, each pinned by a test that failed before.

Interrupts are injected at chosen points through the gradient functions the
training loops look up by name; memory is measured with ``tracemalloc``
(numpy reports its allocations to it); thread safety with real threads.
"""

import pickle
import sys
import threading
import time
import tracemalloc
import warnings

import numpy as np
import pytest
from _helpers import flat_params, sgd_classifier
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning

import skbp._base
import skbp.gradients
from skbp import BPClassifier, BPRegressor, gradient_check

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_DIGITS, Y_DIGITS = load_digits(return_X_y=True)


def interrupt_at_call(monkeypatch, gradient, n):
    """Make the ``n``-th gradient evaluation raise KeyboardInterrupt; record params."""
    real = skbp.gradients.GRADIENTS[gradient]
    seen = []

    def wrapper(network, *args, **kwargs):
        seen.append(network.params.copy())
        if len(seen) == n:
            raise KeyboardInterrupt
        return real(network, *args, **kwargs)

    monkeypatch.setitem(skbp.gradients.GRADIENTS, gradient, wrapper)
    return seen


def quiet_fit(clf, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(*args, **kwargs)


# ------------------------------------------------------------- interrupts ---


@pytest.mark.parametrize("gradient", ["backprop", "numerical"])
def test_interrupt_before_the_first_epoch_with_early_stopping(monkeypatch, gradient):
    seen = interrupt_at_call(monkeypatch, gradient, 2)
    clf = sgd_classifier((4,), gradient=gradient, early_stopping=True, random_state=0)
    with pytest.warns(UserWarning, match="interrupted"):
        clf.fit(X_IRIS, Y_IRIS)
    assert clf.n_iter_ == 0 and clf.loss_curve_ == [] and clf.validation_scores_ == []
    assert_array_equal(flat_params(clf), seen[1])  # after the one completed step
    assert clf.predict(X_IRIS).shape == Y_IRIS.shape


def test_lbfgs_interrupt_before_an_iteration_keeps_the_initial_model(monkeypatch):
    interrupt_at_call(monkeypatch, "backprop", 2)
    clf = sgd_classifier((4,), solver="lbfgs", random_state=0)
    with pytest.warns(UserWarning, match="interrupted"):
        clf.fit(X_IRIS, Y_IRIS)
    unfitted = sgd_classifier((4,), solver="lbfgs", random_state=0)
    initial, *_ = unfitted._gradient_problem(X_IRIS, Y_IRIS)
    assert_array_equal(flat_params(clf), initial.params)
    assert clf.n_iter_ == 0 and clf.loss_curve_ == []
    assert clf.loss_ == pytest.approx(_loss_at(clf, X_IRIS, Y_IRIS), rel=1e-12)
    assert clf.predict(X_IRIS).shape == Y_IRIS.shape


@pytest.mark.parametrize("at_call", [9, 14, 23])
def test_lbfgs_interrupt_keeps_the_last_completed_iterate(monkeypatch, at_call):
    interrupt_at_call(monkeypatch, "backprop", at_call)
    clf = sgd_classifier((4,), solver="lbfgs", random_state=0)
    with pytest.warns(UserWarning, match="interrupted"):
        clf.fit(X_IRIS, Y_IRIS)
    assert clf.n_iter_ == len(clf.loss_curve_) > 0
    assert clf.loss_ == clf.loss_curve_[-1]
    # The kept parameters are those whose loss the history reports.
    assert clf.loss_ == pytest.approx(_loss_at(clf, X_IRIS, Y_IRIS), rel=1e-12)
    # And they are the iterate an uninterrupted fit reaches after n_iter_ steps.
    monkeypatch.undo()
    same = quiet_fit(
        sgd_classifier((4,), solver="lbfgs", max_iter=clf.n_iter_, random_state=0),
        X_IRIS,
        Y_IRIS,
    )
    assert_allclose(flat_params(clf), flat_params(same), rtol=1e-12, atol=1e-14)


def _loss_at(clf, X, y):
    """The training loss (cross-entropy plus L2) at the estimator's parameters."""
    network, X64, T, sw = clf._gradient_problem(X, y)
    return network.forward(X64, T, sw, clf.alpha)


# --------------------------------------------------------- thread safety ---


def test_predict_while_another_thread_refits_a_new_shape():
    """Each prediction comes from the old model or the new one, never a mix."""
    small = sgd_classifier((3,), max_iter=2, random_state=0).fit(X_DIGITS, Y_DIGITS)
    large = sgd_classifier((30,), max_iter=2, random_state=0).fit(X_DIGITS, Y_DIGITS)
    X = X_DIGITS[:50]
    allowed = [small.predict_proba(X), large.predict_proba(X)]
    clf = sgd_classifier((3,), max_iter=2, random_state=0).fit(X_DIGITS, Y_DIGITS)
    stop, errors, results = threading.Event(), [], []

    def refit():
        sizes = [(30,), (3,)] * 6
        for size in sizes:
            clf.set_params(hidden_layer_sizes=size).fit(X_DIGITS, Y_DIGITS)
        stop.set()

    def predict():
        while not stop.is_set():
            try:
                results.append(clf.predict_proba(X))
            except Exception as error:  # noqa: BLE001 - any error fails the test
                errors.append(error)
            # A pause as between requests: a thread that never lets go of the
            # GIL starves the fitting thread (CPython's convoy effect).
            time.sleep(0.0005)

    threads = [threading.Thread(target=refit), threading.Thread(target=predict)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[:3]
    assert results
    seen = [[np.array_equal(proba, a) for a in allowed] for proba in results]
    assert all(any(row) for row in seen)
    assert all(any(column) for column in zip(*seen, strict=True))  # both models


# ----------------------------------------------------------------- memory ---


def _peak_bytes(fn):
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_predict_proba_converts_block_by_block(dtype):
    clf = sgd_classifier((10,), max_iter=2, random_state=0).fit(X_DIGITS, Y_DIGITS)
    peaks = {}
    for n in (20_000, 200_000):
        X = np.resize(X_DIGITS.astype(dtype), (n, 64))
        peaks[n] = _peak_bytes(lambda X=X: clf.predict_proba(X)) - n * 10 * 8
    # Beyond the output, working memory is bounded: converting the whole X
    # would take 64 * 8 bytes a row (100 MB at 200 000 rows).
    assert peaks[200_000] < 8 * 2**20, peaks
    assert peaks[200_000] < 2 * peaks[20_000] + 2**20, peaks


# --------------------------------------------------- weights and warm starts ---


def test_assigning_coefs_and_intercepts_changes_the_model():
    clf = sgd_classifier((4,), max_iter=3, random_state=0).fit(X_IRIS, Y_IRIS)
    zeros_w = [np.zeros_like(W) for W in clf.coefs_]
    clf.coefs_ = zeros_w
    bias = np.array([0.0, 5.0, 0.0])
    clf.intercepts_[1] = bias  # item assignment writes through too
    assert_array_equal(clf.predict(X_IRIS), np.ones(len(X_IRIS)))
    assert_allclose(clf.predict_proba(X_IRIS)[0], np.exp(bias) / np.exp(bias).sum())
    loaded = pickle.loads(pickle.dumps(clf))
    assert_array_equal(loaded.intercepts_[1], bias)
    assert_array_equal(loaded.predict(X_IRIS), clf.predict(X_IRIS))
    for W in loaded.coefs_:  # still views into the one flat vector
        assert np.shares_memory(W, loaded._params)
    with pytest.raises(ValueError, match=r"shape: expected \(4, 4\)"):
        clf.coefs_ = [np.zeros((5, 4)), np.zeros((4, 3))]
    with pytest.raises(ValueError, match="needs 2 arrays"):
        clf.coefs_ = [np.zeros((4, 4))]
    with pytest.raises(ValueError, match="finite"):
        clf.coefs_[0] = np.full((4, 4), np.nan)
    assert_array_equal(clf.coefs_[0], 0)  # a refused assignment changes nothing


def test_non_finite_parameters_are_named_at_predict():
    clf = sgd_classifier((4,), max_iter=3, random_state=0).fit(X_IRIS, Y_IRIS)
    clf.coefs_[0][0, 0] = np.nan  # in place, past the assignment check
    with pytest.raises(ValueError, match="parameters contain NaN"):
        clf.predict(X_IRIS)


@pytest.mark.parametrize("held_out_zero", [True, False])
def test_early_stopping_split_with_zero_weight_side_raises(held_out_zero):
    clf = sgd_classifier(
        (5,), early_stopping=True, validation_fraction=0.2, max_iter=3, random_state=0
    )
    # Find which rows this seed holds out, then zero one side of the split.
    held_out = _held_out_rows(clf)
    sw = np.zeros(len(Y_IRIS))
    if held_out_zero:
        sw[np.setdiff1d(np.arange(len(Y_IRIS)), held_out)] = 1.0
    else:
        sw[held_out] = 1.0
    side = "validation" if held_out_zero else "training"
    with pytest.raises(ValueError, match=f"early-stopping {side} split"):
        clf.fit(X_IRIS, Y_IRIS, sample_weight=sw)
    assert not hasattr(clf, "classes_")


def _held_out_rows(clf):
    from sklearn.model_selection import train_test_split

    rng = np.random.RandomState(clf.random_state)
    # fit draws the initial weights first, then the split, from one stream.
    n_params = 4 * 5 + 5 + 5 * 3 + 3
    rng.uniform(size=n_params)
    _, val = train_test_split(
        np.arange(len(Y_IRIS)), random_state=rng, test_size=0.2, stratify=Y_IRIS
    )
    return val


def test_warm_start_with_early_stopping_starts_its_own_stopping_state():
    X, y = X_DIGITS, Y_DIGITS
    first, second = np.arange(len(y)) < 900, np.arange(len(y)) >= 900
    kw = dict(early_stopping=True, max_iter=30, random_state=0)
    clf = quiet_fit(sgd_classifier((20,), warm_start=True, **kw), X[first], y[first])
    n_first = len(clf.validation_scores_)
    quiet_fit(clf, X[second], y[second])
    scores = clf.validation_scores_[n_first:]
    assert clf.n_iter_ == len(scores) > 1
    assert clf.best_validation_score_ == max(scores)
    fresh = quiet_fit(sgd_classifier((20,), **kw), X[second], y[second])
    assert clf.score(X[second], y[second]) > fresh.score(X[second], y[second]) - 0.1


def test_toggling_early_stopping_between_calls():
    clf = sgd_classifier((5,), max_iter=3, warm_start=True, random_state=0)
    quiet_fit(clf, X_IRIS, Y_IRIS)
    quiet_fit(clf.set_params(early_stopping=True), X_IRIS, Y_IRIS)
    assert len(clf.validation_scores_) == clf.n_iter_ == 3 and clf.best_loss_ is None
    quiet_fit(clf.set_params(early_stopping=False), X_IRIS, Y_IRIS)
    assert clf.validation_scores_ is None and clf.best_loss_ == min(
        clf.loss_curve_[-3:]
    )
    clf.set_params(early_stopping=True)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping"):
        clf.partial_fit(X_IRIS, Y_IRIS)
    clf.set_params(early_stopping=False).partial_fit(X_IRIS, Y_IRIS)
    assert clf.n_iter_ == 1


@pytest.mark.parametrize("Estimator", [BPClassifier, BPRegressor])
def test_lbfgs_ignores_early_stopping_as_scikit_learn(Estimator):
    est = Estimator((4,), solver="lbfgs", early_stopping=True, max_iter=20)
    quiet_fit(est, X_IRIS, Y_IRIS)
    assert est.n_iter_ == len(est.loss_curve_) > 0 and est.best_loss_ is None
    assert est.validation_scores_ == []


def test_lbfgs_warm_start_counts_the_latest_call():
    clf = sgd_classifier((4,), solver="lbfgs", max_iter=5, warm_start=True)
    quiet_fit(clf, X_IRIS, Y_IRIS)
    quiet_fit(clf, X_IRIS, Y_IRIS)
    assert clf.n_iter_ == 5 and len(clf.loss_curve_) == 10 and clf.t_ == 10 * 150


# ------------------------------------------------- weights of any scale ---


@pytest.mark.parametrize("scale", [1e307, 1e-320, 1e-30, 3.0])
def test_sample_weights_of_any_finite_scale_are_relative(scale):
    sw = np.full(len(Y_IRIS), scale)
    weighted = sgd_classifier((4,), max_iter=3, random_state=0)
    weighted.fit(X_IRIS, Y_IRIS, sample_weight=sw)
    plain = sgd_classifier((4,), max_iter=3, random_state=0).fit(X_IRIS, Y_IRIS)
    assert_allclose(flat_params(weighted), flat_params(plain), rtol=1e-10, atol=1e-13)


def test_class_weights_must_be_finite_and_huge_ones_train():
    with pytest.raises(ValueError, match=r"class_weight\[0\] must be a finite"):
        sgd_classifier(class_weight={0: np.inf}).fit(X_IRIS, Y_IRIS)
    clf = sgd_classifier((4,), class_weight={0: 1e308}, max_iter=3, random_state=0)
    clf.fit(X_IRIS, Y_IRIS)  # no "diverged": weights are relative
    assert np.isfinite(clf.loss_)


# ------------------------------------------------------------ raw errors ---


def test_gradient_check_validates_as_fit_does():
    fitted = sgd_classifier((4,), max_iter=2, random_state=0).fit(X_IRIS, Y_IRIS)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        gradient_check(fitted, X_IRIS, Y_IRIS[:-1])
    with pytest.raises(ValueError, match="one label per sample"):
        gradient_check(fitted, X_IRIS, np.c_[Y_IRIS, Y_IRIS])
    with pytest.raises(ValueError, match="only one class"):
        gradient_check(BPClassifier((4,)), X_IRIS[:50], Y_IRIS[:50])
    with pytest.raises(ValueError, match="not among the model's classes"):
        gradient_check(fitted, X_IRIS, Y_IRIS + 1)


@pytest.mark.parametrize(
    "classes, match",
    [
        ([0, 1, 2, np.nan], "NaN"),
        ([[0, 1], [2, 3]], "1-D"),
        ([0, 1, 1, 2], "repeated"),
        ([], "non-empty"),
    ],
)
def test_partial_fit_validates_classes(classes, match):
    clf = sgd_classifier((4,))
    with pytest.raises(ValueError, match=match):
        clf.partial_fit(X_IRIS, Y_IRIS, classes=classes)
    assert not hasattr(clf, "classes_")


def test_extreme_power_t_and_bool_sizes():
    clf = sgd_classifier((4,), learning_rate="invscaling", power_t=150, max_iter=3)
    quiet_fit(clf, X_IRIS, Y_IRIS)  # the rate underflows to 0: no OverflowError
    for name in ("batch_size", "max_iter", "hidden_layer_sizes"):
        with pytest.raises(ValueError, match=f"{name} must be an int"):
            sgd_classifier(**{name: True}).fit(X_IRIS, Y_IRIS)
    with pytest.raises(ValueError, match="hidden_layer_sizes must be an int"):
        sgd_classifier(hidden_layer_sizes=(3, True)).fit(X_IRIS, Y_IRIS)


def test_an_interrupted_fit_does_not_also_warn_that_it_learned_nothing(monkeypatch):
    interrupt_at_call(monkeypatch, "backprop", 2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sgd_classifier((4,), random_state=0).fit(X_IRIS, Y_IRIS)
    messages = [str(w.message) for w in caught]
    assert any("interrupted" in m for m in messages)
    assert not any("only one class" in m for m in messages)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("activation", ["identity", "relu"])
def test_outputs_that_overflow_after_the_last_step_raise_divergence(activation):
    # One full-batch step at 1e200: its loss is finite and the weights it
    # leaves are finite (about 3e200), but the outputs on X are not.
    clf = sgd_classifier(
        (4,),
        activation=activation,
        learning_rate_init=1e200,
        batch_size=150,
        max_iter=1,
        random_state=0,
    )
    with pytest.raises(ValueError, match="diverged: the network's output"):
        clf.fit(X_IRIS, Y_IRIS)
    assert not hasattr(clf, "classes_")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_overflow_bound_follows_the_dtype_range(dtype):
    # Network.cannot_overflow(bound): |X| <= bound carried through the layers.
    from skbp.network import Network

    top = float(np.finfo(dtype).max)
    net = Network([3, 2, 2], np.full(14, 1.0, dtype), activation="identity")
    assert net.cannot_overflow(top / 100)  # outputs up to 0.06 * top
    assert not net.cannot_overflow(top / 4)  # |x @ W1 + b1| up to 0.75 * top
    net = Network([3, 2, 2], np.full(14, 1.0, dtype), activation="logistic")
    assert net.cannot_overflow(top / 10)  # the sigmoid caps the hidden layer
    assert not net.cannot_overflow(top / 4)


def _interrupt_at_line(code, n):
    """Trace: raise KeyboardInterrupt at the ``n``-th line run in ``code``'s frames."""
    count = 0

    def local(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
            if count == n:
                raise KeyboardInterrupt
        return local

    def trace(frame, event, arg):
        return local if frame.f_code is code else None

    return trace


@pytest.mark.parametrize(
    "where", ["_publish", "_check_fitted_model", "BPClassifier._check_fitted_model"]
)
def test_an_interrupt_after_the_last_epoch_keeps_the_fit(where):
    if where.startswith("BPClassifier."):
        code = BPClassifier._check_fitted_model.__code__
    else:
        code = getattr(skbp._base.BaseBP, where).__code__
    n_lines = len(list(code.co_lines()))

    def fitted_twice():  # a warm-started second fit, from a first one
        clf = sgd_classifier((3,), max_iter=2, random_state=0)
        clf = quiet_fit(clf, X_IRIS, Y_IRIS)
        return clf.set_params(warm_start=True, max_iter=1)

    expected = quiet_fit(fitted_twice(), X_IRIS, Y_IRIS)
    interrupted = 0
    for n in range(1, n_lines + 1):
        clf = fitted_twice()
        tracer = sys.gettrace()  # a coverage tool's, say: restored below
        sys.settrace(_interrupt_at_line(code, n))
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                clf.fit(X_IRIS, Y_IRIS)
        except KeyboardInterrupt:  # after the publishing: the model is kept
            pass
        finally:
            sys.settrace(tracer)
        interrupted += any("interrupted" in str(w.message) for w in caught)
        assert clf.n_iter_ == 1 and len(clf.loss_curve_) == 3
        assert_array_equal(clf.coefs_[0], expected.coefs_[0])
    assert interrupted  # the interrupts did land


_BAD_PARAMS = [
    {"learning_rate_init": -0.05},
    {"alpha": -1},
    {"momentum": 5},
    {"epsilon": -1},
    {"beta_1": 1},
    {"batch_size": 0},
    {"activation": "bad"},
    {"gradient": "bad"},
    {"loss": "bad"},
]


@pytest.mark.parametrize(
    "Estimator, params",
    [
        (Estimator, params)
        for Estimator in (BPClassifier, BPRegressor)
        for params in _BAD_PARAMS
        if set(params) <= set(Estimator().get_params())
    ],
)
def test_partial_fit_on_a_fitted_estimator_validates_the_parameters(Estimator, params):
    X, y = X_IRIS, Y_IRIS if Estimator is BPClassifier else X_IRIS[:, 0]
    est = Estimator((3,), solver="sgd", random_state=0)
    est.partial_fit(X, y, **({"classes": np.unique(y)} if y is Y_IRIS else {}))
    before = est.coefs_[0].copy()
    with pytest.raises(ValueError) as from_fit:
        Estimator(**params).fit(X, y)
    with pytest.raises(ValueError) as from_partial_fit:
        est.set_params(**params).partial_fit(X, y)
    assert str(from_partial_fit.value) == str(from_fit.value)
    assert_array_equal(est.coefs_[0], before)
