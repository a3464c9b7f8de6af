"""Multilabel classification: ``SigmoidWithLoss`` outputs, checked against oracles.

The oracles: ``MLPClassifier(activation="logistic")`` configured identically
(same draws, batches and updates) on an indicator matrix, the numerical
gradient for every solver, and subset accuracy computed by scikit-learn.
"""

import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from _helpers import registered_solvers
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import make_multilabel_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score
from sklearn.neural_network import MLPClassifier

from skbp import BPClassifier, gradient_check

X, Y = make_multilabel_classification(120, 6, n_classes=4, random_state=0)
COMMON = dict(
    hidden_layer_sizes=(5,),
    max_iter=5,
    batch_size=32,
    learning_rate_init=0.01,
    tol=0.0,
    n_iter_no_change=1000,
    random_state=1,
)


def params(clf):
    return np.concatenate([a.ravel() for a in clf.coefs_ + clf.intercepts_])


def fit_quietly(clf, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(*args, **kwargs)


@pytest.mark.parametrize("solver", registered_solvers(mlp=True))
def test_multilabel_fit_matches_mlpclassifier(solver):
    ours = fit_quietly(BPClassifier(solver=solver, **COMMON), X, Y)
    theirs = fit_quietly(
        MLPClassifier(activation="logistic", solver=solver, **COMMON), X, Y
    )
    assert_allclose(params(ours), params(theirs), rtol=1e-10, atol=1e-12)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-10)
    assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-12)
    assert_array_equal(ours.predict(X), theirs.predict(X))
    assert ours.predict(X).dtype == theirs.predict(X).dtype
    assert_array_equal(ours.classes_, theirs.classes_)
    assert ours.out_activation_ == theirs.out_activation_ == "logistic"
    assert ours.n_outputs_ == theirs.n_outputs_ == 4


def test_multilabel_sample_weight_and_partial_fit_match_mlpclassifier():
    weights = np.random.RandomState(0).uniform(0, 2, len(X))
    kw = dict(hidden_layer_sizes=(5,), max_iter=3, random_state=0)
    ours = fit_quietly(BPClassifier(**kw), X, Y, sample_weight=weights)
    theirs = fit_quietly(
        MLPClassifier(activation="logistic", **kw), X, Y, sample_weight=weights
    )
    assert_allclose(params(ours), params(theirs), rtol=1e-10, atol=1e-12)

    ours, theirs = BPClassifier(**kw), MLPClassifier(activation="logistic", **kw)
    for clf in (ours, theirs):
        clf.partial_fit(X[:60], Y[:60], classes=np.arange(4))
        clf.partial_fit(X[60:], Y[60:])
    assert_allclose(params(ours), params(theirs), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("solver", registered_solvers())
def test_multilabel_backprop_and_numerical_fits_agree(solver):
    bp = fit_quietly(BPClassifier(solver=solver, **COMMON), X, Y)
    num = fit_quietly(BPClassifier(solver=solver, gradient="numerical", **COMMON), X, Y)
    assert_allclose(params(bp), params(num), atol=1e-6)
    assert_allclose(bp.loss_curve_, num.loss_curve_, rtol=1e-7)


def test_multilabel_gradient_check_and_predict_methods():
    errors = gradient_check(BPClassifier((5,), alpha=0.1, random_state=0), X / 10, Y)
    assert max(errors.values()) < 1e-7
    clf = fit_quietly(BPClassifier((8,), max_iter=50, random_state=0), X, Y)
    proba = clf.predict_proba(X)
    assert proba.shape == Y.shape and ((proba > 0) & (proba < 1)).all()
    assert_array_equal(clf.predict(X), (proba > 0.5).astype(int))
    assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-12)
    assert clf.score(X, Y) == accuracy_score(Y, clf.predict(X))  # subset accuracy
    loaded = pickle.loads(pickle.dumps(clf))
    assert_array_equal(loaded.predict_proba(X), proba)
    with pytest.raises(ValueError, match="labels"):
        clf.set_params(warm_start=True).fit(X, Y[:, :3])
    with pytest.raises(ValueError, match="multilabel"):
        clf.fit(X, Y.argmax(axis=1))


def test_multilabel_log_proba_agrees_with_proba_where_it_saturates():
    clf = fit_quietly(BPClassifier((3,), max_iter=2, random_state=0), X, Y)
    clf.coefs_[-1] = np.zeros((3, 4))
    clf.intercepts_[-1] = [40.0, 50.0, -800.0, 0.0]  # proba 1, 1, 0, 0.5
    proba, log_proba = clf.predict_proba(X[:3]), clf.predict_log_proba(X[:3])
    assert_array_equal(proba[0], [1.0, 1.0, 0.0, 0.5])
    assert_array_equal(log_proba[0], [0.0, 0.0, -np.inf, np.log(0.5)])
    assert_array_equal(proba.argmax(axis=1), log_proba.argmax(axis=1))


def test_multilabel_early_stopping_scores_subset_accuracy():
    clf = BPClassifier((8,), early_stopping=True, max_iter=15, random_state=0)
    fit_quietly(clf, X, Y)
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    # The scores are subset accuracies on 12 held-out rows: multiples of 1/12.
    assert_allclose(np.array(clf.validation_scores_) * 12 % 1, 0, atol=1e-12)


def test_multilabel_class_weight_is_refused():
    with pytest.raises(ValueError, match="class_weight.*multilabel"):
        BPClassifier(class_weight="balanced").fit(X, Y)
    with pytest.raises(ValueError, match="class_weight.*multilabel"):
        BPClassifier(class_weight={0: 2.0}).fit(X, Y)


def test_binary_problems_are_not_multilabel():
    """One column of 0/1 is a binary problem: one logistic unit, labels as given."""
    clf = fit_quietly(BPClassifier((3,), max_iter=3, random_state=0), X, Y[:, 0])
    assert clf.out_activation_ == "logistic" and clf.n_outputs_ == 1
    assert clf.predict(X).shape == (len(X),)
    assert clf.predict_proba(X).shape == (len(X), 2)
    assert_array_equal(clf.classes_, [0, 1])


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize("values", [(0, 2), (-1, 1), (3, 5), (0.0, 2.0)])
def test_multilabel_y_other_than_0_1_is_refused(values, method, sparse):
    """``type_of_target`` calls any two-valued matrix an indicator: 0/1 only here.

    (MLPClassifier would count every non-zero value as 1, marking every label
    present for {-1, 1} or {3, 5}; before, skbp trained on the values as
    they were, with a loss unbounded below.)
    """
    y = np.where(Y == 1, values[1], values[0])
    y = sp.csr_matrix(y) if sparse else y
    clf = BPClassifier((3,), max_iter=3, random_state=0)
    fit = getattr(clf, method)
    kwargs = {"classes": np.arange(4)} if method == "partial_fit" else {}
    with pytest.raises(ValueError, match=r"0/1 indicator.*values \[") as error:
        fit(X, y, **kwargs)
    assert f"(y == {values[1]!r}).astype(int)" in str(error.value)
    assert not hasattr(clf, "classes_")  # nothing changed
    fit(X, (y == values[1]).astype(int), **kwargs)  # what the message says works
    assert clf.loss_ > 0


def test_multilabel_y_of_bools_is_the_0_1_matrix():
    ours = fit_quietly(BPClassifier(**COMMON), X, Y.astype(bool))
    assert_array_equal(params(ours), params(fit_quietly(BPClassifier(**COMMON), X, Y)))


def test_multilabel_partial_fit_refuses_repeated_classes():
    with pytest.raises(ValueError, match="repeated"):
        BPClassifier((3,)).partial_fit(X, Y, classes=[0, 1, 2, 3, 3])


def test_partial_fit_kind_switch_says_what_applies_to_partial_fit():
    """No "warm_start" advice under partial_fit: it has no effect there."""
    clf = BPClassifier((3,), random_state=0).partial_fit(X, Y, classes=np.arange(4))
    with pytest.raises(ValueError, match="single-label") as error:
        clf.partial_fit(X, Y[:, 0])
    assert "warm_start" not in str(error.value) and "new estimator" in str(error.value)
    clf = BPClassifier((3,), random_state=0).partial_fit(X, Y[:, 0], classes=[0, 1])
    with pytest.raises(ValueError, match="multilabel") as error:
        clf.partial_fit(X, Y)
    assert "warm_start" not in str(error.value)
    with pytest.raises(ValueError, match="warm_start=False"):  # fit: it applies
        clf.set_params(warm_start=True, max_iter=1).fit(X, Y)


def test_tags_say_multilabel_unless_class_weight():
    # check_estimator(BPClassifier()) in test_sklearn_compat.py therefore runs
    # scikit-learn's multilabel checks too.
    assert BPClassifier().__sklearn_tags__().classifier_tags.multi_label
    tags = BPClassifier(class_weight="balanced").__sklearn_tags__()
    assert not tags.classifier_tags.multi_label
