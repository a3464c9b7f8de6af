"""Multilabel classification: ``SigmoidWithLoss`` outputs, checked against oracles.

The oracles: ``MLPClassifier(activation="logistic")`` configured identically
(same draws, batches and updates) on an indicator matrix, the numerical
gradient for every solver, and subset accuracy computed by scikit-learn.
"""

import pickle
import warnings

import numpy as np
import pytest
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


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
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


@pytest.mark.parametrize("solver", ["sgd", "adam", "lbfgs"])
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


def test_binary_problems_keep_two_softmax_units():
    clf = fit_quietly(BPClassifier((3,), max_iter=3, random_state=0), X, Y[:, 0])
    assert clf.out_activation_ == "softmax" and clf.n_outputs_ == 2


def test_tags_say_multilabel_unless_class_weight():
    # check_estimator(BPClassifier()) in test_sklearn_compat.py therefore runs
    # scikit-learn's multilabel checks too.
    assert BPClassifier().__sklearn_tags__().classifier_tags.multi_label
    tags = BPClassifier(class_weight="balanced").__sklearn_tags__()
    assert not tags.classifier_tags.multi_label
