"""BPClassifier behaviour against independent oracles."""

import threading
import warnings

import numpy as np
import pytest
from _helpers import flat_params, sgd_classifier
from scipy.special import expit, softmax
from sklearn.datasets import load_digits, load_iris, make_classification
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

import skbp._base
import skbp.gradients
from skbp import BPClassifier


@pytest.fixture(scope="module")
def digits_split():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.2, random_state=0)


def test_defaults_train_as_mlpclassifier_with_logistic_units():
    """BPClassifier's defaults are MLPClassifier's but for the activation."""
    X, y = make_classification(
        150, 8, n_informative=6, n_classes=4, n_clusters_per_class=1, random_state=0
    )
    common = dict(max_iter=6, tol=0.0, n_iter_no_change=1000, random_state=3)
    bp = BPClassifier(**common).fit(X, y)
    mlp = MLPClassifier(activation="logistic", **common)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter reached
        mlp.fit(X, y)
    for ours, theirs in zip(
        bp.coefs_ + bp.intercepts_, mlp.coefs_ + mlp.intercepts_, strict=True
    ):
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(bp.loss_curve_, mlp.loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(bp.predict_proba(X), mlp.predict_proba(X), rtol=1e-9)


@pytest.mark.parametrize("labels", [["a", "b", "a"], ["a", "b", "c"]])
def test_one_sgd_step_worked_by_hand(labels):
    """Two classes: one sigmoid unit and binary cross-entropy; three: softmax."""
    X = np.array([[1.0, 2.0], [0.5, -1.0], [-1.5, 0.0]])
    y = np.array(labels)
    clf = sgd_classifier((3,), batch_size=3, max_iter=1, shuffle=False, random_state=0)
    clf.fit(X, y)  # one step from the initial parameters
    W1, b1, W2, b2 = (
        a.copy()
        for a in (
            *clf.coefs_[:1],
            *clf.intercepts_[:1],
            clf.coefs_[1],
            clf.intercepts_[1],
        )
    )
    clf.set_params(warm_start=True, learning_rate_init=0.5).fit(X, y)

    # Forward by hand.
    z = expit(X @ W1 + b1)
    logits = z @ W2 + b2
    if len(set(labels)) == 2:  # the positive class is classes_[1]
        assert W2.shape == (3, 1)
        t = (y == "b").astype(float)[:, None]
        p = expit(logits)
        loss = np.mean(-t * np.log(p) - (1 - t) * np.log(1 - p))
    else:
        t = (y[:, None] == np.array(["a", "b", "c"])).astype(float)
        p = softmax(logits, axis=1)
        loss = -np.mean(np.log(p[t == 1]))
    # Backward by hand: dlogits = (p - t) / n for both, then the chain rule.
    d2 = (p - t) / 3
    dW2, db2 = z.T @ d2, d2.sum(axis=0)
    d1 = d2 @ W2.T * z * (1 - z)
    dW1, db1 = X.T @ d1, d1.sum(axis=0)

    lr = 0.5
    np.testing.assert_allclose(clf.coefs_[0], W1 - lr * dW1, rtol=1e-13)
    np.testing.assert_allclose(clf.intercepts_[0], b1 - lr * db1, rtol=1e-13)
    np.testing.assert_allclose(clf.coefs_[1], W2 - lr * dW2, rtol=1e-13)
    np.testing.assert_allclose(clf.intercepts_[1], b2 - lr * db2, rtol=1e-13)
    assert clf.loss_curve_[-1] == pytest.approx(loss, rel=1e-13)


@pytest.mark.parametrize("weight_init_std", [None, 0.01])
def test_backprop_and_numerical_fits_agree_from_the_same_seed(weight_init_std):
    X, y = load_iris(return_X_y=True)
    kwargs = dict(
        hidden_layer_sizes=(6,),
        batch_size=30,
        max_iter=4,
        weight_init_std=weight_init_std,
        random_state=7,
    )
    bp = sgd_classifier(gradient="backprop", **kwargs).fit(X, y)
    num = sgd_classifier(gradient="numerical", **kwargs).fit(X, y)
    init = sgd_classifier(**{**kwargs, "max_iter": 1}).fit(X, y)
    assert (
        np.abs(flat_params(bp) - flat_params(init)).max() > 1e-3
    )  # training moved the weights
    np.testing.assert_allclose(flat_params(bp), flat_params(num), rtol=0, atol=1e-7)
    np.testing.assert_allclose(bp.loss_curve_, num.loss_curve_, rtol=1e-9)
    assert bp.n_iter_ == num.n_iter_ == 4
    assert bp.t_ == num.t_ == 4 * 150


def test_fitted_attributes(digits_split):
    X_train, _, y_train, _ = digits_split
    clf = sgd_classifier((20, 10), max_iter=3, batch_size=64, random_state=0)
    clf.fit(X_train, y_train)
    np.testing.assert_array_equal(clf.classes_, np.arange(10))
    assert clf.n_features_in_ == 64
    assert [c.shape for c in clf.coefs_] == [(64, 20), (20, 10), (10, 10)]
    assert [b.shape for b in clf.intercepts_] == [(20,), (10,), (10,)]
    assert clf.n_iter_ == 3 and len(clf.loss_curve_) == 3
    assert clf.t_ == 3 * len(X_train)
    assert clf.loss_ == clf.loss_curve_[-1]
    assert clf.n_layers_ == 4 and clf.n_outputs_ == 10
    assert clf.out_activation_ == "softmax"
    for view in clf.coefs_ + clf.intercepts_:
        assert np.shares_memory(view, clf._params)


def test_default_trains_well_on_digits(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    clf = sgd_classifier(max_iter=50, random_state=0).fit(X_train, y_train)
    assert clf.score(X_test, y_test) > 0.95
    assert clf.loss_curve_[-1] < clf.loss_curve_[0] / 10


def test_reference_configuration_on_digits(digits_split):
    X_train, X_test, y_train, y_test = digits_split
    clf = sgd_classifier(weight_init_std=0.01, max_iter=20, random_state=0)
    clf.fit(X_train, y_train)
    assert clf.score(X_test, y_test) > 0.95


def test_weight_init():
    X, y = make_classification(50, 30, n_informative=5, random_state=0)
    glorot = sgd_classifier((40,), max_iter=1, learning_rate_init=1e-12, random_state=0)
    glorot.fit(X, y)
    bound = np.sqrt(2 / (30 + 40))
    assert np.abs(glorot.coefs_[0]).max() <= bound
    assert np.abs(glorot.coefs_[0]).max() > 0.9 * bound
    assert np.abs(glorot.intercepts_[0]).max() > 0
    gauss = sgd_classifier(
        (40,),
        max_iter=1,
        learning_rate_init=1e-12,
        weight_init_std=0.01,
        random_state=0,
    ).fit(X, y)
    assert gauss.coefs_[0].std() == pytest.approx(0.01, rel=0.1)
    np.testing.assert_allclose(gauss.intercepts_[0], 0, atol=1e-12)


def test_predict_methods_are_consistent(monkeypatch):
    X, y = load_iris(return_X_y=True)
    y = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = sgd_classifier((5,), max_iter=30, random_state=0).fit(X, y)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    # Blockwise prediction gives the same numbers for any block size.
    monkeypatch.setattr(skbp._base, "_PREDICT_CHUNK_ROWS", 7)
    np.testing.assert_array_equal(clf.predict_proba(X), proba)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])


def test_binary_problem_uses_one_logistic_unit():
    X, y = make_classification(80, 5, random_state=0)
    clf = sgd_classifier((4,), max_iter=100, random_state=0).fit(X, y == 1)
    assert clf.n_outputs_ == 1 and clf.out_activation_ == "logistic"
    assert clf.coefs_[-1].shape == (4, 1) and clf.intercepts_[-1].shape == (1,)
    hidden = expit(X @ clf.coefs_[0] + clf.intercepts_[0])
    z = (hidden @ clf.coefs_[1] + clf.intercepts_[1])[:, 0]
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba, np.column_stack([expit(-z), expit(z)]))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[(z > 0) * 1])
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-12)
    assert clf.score(X, y == 1) > 0.8


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_binary_log_proba_is_exact_where_proba_saturates(dtype):
    """log P from the logit: -z where 1 - p rounds to 0, -inf only where P is 0."""
    X, y = make_classification(40, 4, random_state=0)
    clf = sgd_classifier((2,), max_iter=2, random_state=0).fit(X.astype(dtype), y)
    logits = np.array([-1e4, -800.0, -50.0, -1.0, 0.0, 1.0, 50.0, 800.0, 1e4])
    clf.coefs_[-1][...] = 0.0  # the logit is the output bias alone
    log_proba = np.empty((len(logits), 2), dtype)
    proba = np.empty_like(log_proba)
    for row, z in enumerate(logits):
        clf.intercepts_[-1][...] = z
        log_proba[row] = clf.predict_log_proba(X[:1])[0]
        proba[row] = clf.predict_proba(X[:1])[0]
    expected = -np.logaddexp(0.0, np.column_stack([logits, -logits]))
    finite = proba > 0
    np.testing.assert_allclose(
        log_proba[finite], expected[finite], rtol=1e-6, atol=1e-12
    )  # 0 where P rounds to 1
    assert np.isneginf(log_proba[~finite]).all()
    assert log_proba[6, 0] == pytest.approx(-50.0)  # log(1 - p) from 1 - p = 0
    np.testing.assert_allclose(np.exp(log_proba), proba, rtol=1e-6, atol=0)


def test_batch_size_is_clipped_to_n_samples():
    X, y = load_iris(return_X_y=True)
    clf = sgd_classifier((3,), batch_size=10_000, max_iter=2, random_state=0).fit(X, y)
    full = sgd_classifier((3,), batch_size=150, max_iter=2, random_state=0).fit(X, y)
    np.testing.assert_array_equal(flat_params(clf), flat_params(full))


def test_random_state_reproducible_and_none_varies():
    X, y = load_iris(return_X_y=True)
    a = sgd_classifier((4,), max_iter=3, random_state=1).fit(X, y)
    b = sgd_classifier((4,), max_iter=3, random_state=1).fit(X, y)
    np.testing.assert_array_equal(flat_params(a), flat_params(b))
    c = sgd_classifier((4,), max_iter=3).fit(X, y)
    d = sgd_classifier((4,), max_iter=3).fit(X, y)
    assert not np.array_equal(flat_params(c), flat_params(d))


def test_warm_start_continues_training():
    X, y = load_iris(return_X_y=True)
    clf = sgd_classifier((4,), max_iter=2, random_state=0, warm_start=True)
    clf.fit(X, y)
    first = flat_params(clf).copy()
    clf.fit(X, y)
    # MLPClassifier's contract: n_iter_ counts the latest call, the curve grows.
    assert clf.n_iter_ == 2 and len(clf.loss_curve_) == 4 and clf.t_ == 4 * len(X)
    cold = sgd_classifier((4,), max_iter=2, random_state=0).fit(X, y)
    np.testing.assert_array_equal(flat_params(cold), first)
    assert not np.array_equal(flat_params(clf), first)
    with pytest.raises(ValueError, match="warm_start"):
        clf.set_params(hidden_layer_sizes=(5,)).fit(X, y)


def test_divergence_raises_and_keeps_previous_model():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="diverged.*learning_rate_init"):
        sgd_classifier((4,), learning_rate_init=1e308, random_state=0).fit(X, y)
    bad = sgd_classifier((4,), learning_rate_init=1e308, random_state=0)
    with pytest.raises(ValueError):
        bad.fit(X, y)
    with pytest.raises(NotFittedError):
        bad.predict(X)
    clf = sgd_classifier((4,), max_iter=2, random_state=0, warm_start=True).fit(X, y)
    params, curve = flat_params(clf).copy(), list(clf.loss_curve_)
    with pytest.raises(ValueError, match="diverged"):
        clf.set_params(learning_rate_init=1e308).fit(X, y)
    np.testing.assert_array_equal(flat_params(clf), params)
    assert clf.loss_curve_ == curve and clf.n_iter_ == 2


def test_keyboard_interrupt_keeps_last_completed_step(monkeypatch):
    X, y = load_iris(return_X_y=True)
    real = skbp.gradients.GRADIENTS["backprop"]
    seen = []

    def interrupt_at_step_8(network, *args, **kwargs):
        seen.append(network.params.copy())  # parameters after len(seen) - 1 steps
        if len(seen) == 8:
            raise KeyboardInterrupt
        return real(network, *args, **kwargs)

    monkeypatch.setitem(skbp.gradients.GRADIENTS, "backprop", interrupt_at_step_8)
    clf = sgd_classifier((4,), batch_size=50, max_iter=10, random_state=0)
    with pytest.warns(UserWarning, match="interrupted"):
        clf.fit(X, y)
    assert clf.n_iter_ == 2  # 3 steps per epoch: epochs 1-2 done, step 8 stopped
    assert len(clf.loss_curve_) == 2
    np.testing.assert_array_equal(flat_params(clf), seen[7])
    assert np.all(np.isfinite(clf.predict_proba(X)))


def test_prediction_is_thread_safe():
    X, y = load_digits(return_X_y=True)
    clf = sgd_classifier((30,), max_iter=5, random_state=0).fit(X, y)
    expected = clf.predict_proba(X)
    results = [None] * 8

    def work(i):
        results[i] = clf.predict_proba(X)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for result in results:
        np.testing.assert_array_equal(result, expected)


def test_verbose_prints_one_line_per_epoch(capsys):
    X, y = load_iris(return_X_y=True)
    sgd_classifier((3,), max_iter=3, verbose=1, random_state=0).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("Iteration 1, loss = ")
    sgd_classifier((3,), gradient="numerical", max_iter=1, verbose=1).fit(X, y)
    out = capsys.readouterr().out
    assert "2 x 27 parameters" in out and "54 forward passes per step" in out


def test_single_class_raises():
    X = np.ones((5, 2))
    with pytest.raises(ValueError, match="only one class"):
        sgd_classifier().fit(X, np.zeros(5))


@pytest.mark.parametrize("class_weight", [None, {True: 3.0}])
def test_binary_gradient_check_and_numerical_fit(class_weight):
    """The one logistic unit's gradient: backprop equals central differences."""
    X, y = make_classification(60, 5, random_state=1)
    y = y == 1
    clf = BPClassifier((4,), alpha=0.1, class_weight=class_weight, random_state=0)
    assert max(skbp.gradients.gradient_check(clf, X, y).values()) < 1e-7
    kw = dict(hidden_layer_sizes=(4,), max_iter=3, batch_size=20, random_state=0)
    bp = sgd_classifier(class_weight=class_weight, **kw).fit(X, y)
    num = sgd_classifier(class_weight=class_weight, gradient="numerical", **kw)
    num.fit(X, y)
    assert bp.coefs_[-1].shape == (4, 1)
    np.testing.assert_allclose(flat_params(bp), flat_params(num), rtol=0, atol=1e-8)


def test_binary_class_weight_weights_each_class():
    """class_weight={c: w} equals sample_weight w on the rows of class c."""
    X, y = make_classification(60, 5, random_state=2)
    y = np.array(["neg", "pos"])[y]
    kw = dict(hidden_layer_sizes=(3,), max_iter=3, random_state=0)
    weighted = sgd_classifier(class_weight={"pos": 2.5}, **kw).fit(X, y)
    by_rows = sgd_classifier(**kw).fit(X, y, sample_weight=np.where(y == "pos", 2.5, 1))
    np.testing.assert_allclose(flat_params(weighted), flat_params(by_rows), rtol=1e-12)
    with pytest.raises(ValueError, match="Only one class"):
        sgd_classifier(**kw).fit(X, y, sample_weight=(y == "pos") * 1.0)
