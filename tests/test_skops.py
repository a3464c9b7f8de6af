"""Model files: skops round trips that run no code, and version warnings.

skops stores a fitted model as arrays and plain values and refuses, on load,
any type the user has not trusted; ``get_untrusted_types`` must list nothing
but skbp's own classes, so trusting a skbp model file means trusting skbp.
"""

import warnings

import joblib
import numpy as np
import pytest
from _helpers import flat_params, sgd_classifier
from sklearn.datasets import load_iris
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skbp._base
from skbp import BPClassifier
from skbp.optimizers import SOLVERS

sio = pytest.importorskip("skops.io", reason="needs the 'skops' extra")

# The estimator and the optimizer of every registered stochastic solver.
SKBP_TYPES = {"skbp.classifier.BPClassifier"} | {
    f"{solver.optimizer.__module__}.{solver.optimizer.__name__}"
    for solver in SOLVERS.values()
    if not solver.full_batch
}


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def fit_quietly(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning after few epochs
        return estimator.fit(X, y)


def dump_and_load(model, path):
    """skops round trip, trusting exactly the types skops reports."""
    sio.dump(model, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert set(untrusted) <= SKBP_TYPES, untrusted
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no version warning: same skbp
        return sio.load(path, trusted=untrusted), untrusted


@pytest.mark.parametrize(
    "params",
    [dict(solver=solver, momentum=0.9) for solver in SOLVERS]
    + [dict(early_stopping=True), dict(dropout=0.3)],
    ids=[*SOLVERS, "early-stopping", "dropout"],
)
def test_skops_round_trip(tmp_path, iris, params):
    X, y = iris
    clf = fit_quietly(sgd_classifier((5,), max_iter=10, random_state=0, **params), X, y)
    loaded, untrusted = dump_and_load(clf, tmp_path / "model.skops")

    assert "skbp.classifier.BPClassifier" in untrusted
    assert type(loaded) is BPClassifier
    assert loaded.get_params() == clf.get_params()
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    # coefs_/intercepts_ are rebuilt as views of the loaded parameter vector.
    assert all(np.shares_memory(W, loaded._params) for W in loaded.coefs_)
    for a, b in zip(loaded.coefs_, clf.coefs_, strict=True):
        np.testing.assert_array_equal(a, b)
    assert loaded.loss_curve_ == clf.loss_curve_
    assert loaded.validation_scores_ == clf.validation_scores_


def test_skops_round_trip_keeps_training_identical(tmp_path, iris):
    """float32 parameters, string labels and the optimizer's state survive."""
    X, y = iris
    X = X.astype(np.float32)
    labels = np.array(["setosa", "versicolor", "virginica"], dtype=object)[y]
    clf = sgd_classifier((5,), momentum=0.9, max_iter=3, random_state=0)
    fit_quietly(clf, X, labels)
    loaded, _ = dump_and_load(clf, tmp_path / "model.skops")

    assert flat_params(loaded).dtype == np.float32
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    for model in (clf, loaded):
        model.partial_fit(X, labels)
    np.testing.assert_array_equal(flat_params(loaded), flat_params(clf))
    assert loaded.loss_curve_ == clf.loss_curve_


def test_skops_pipeline_round_trip(tmp_path, iris):
    X, y = iris
    pipe = make_pipeline(
        StandardScaler(), sgd_classifier((5,), max_iter=10, random_state=0)
    )
    fit_quietly(pipe, X, y)
    loaded, untrusted = dump_and_load(pipe, tmp_path / "pipe.skops")

    # scikit-learn's own types are trusted by skops already: only skbp's remain.
    assert set(untrusted) == {
        "skbp.classifier.BPClassifier",
        "skbp.optimizers.SGDOptimizer",
    }
    np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), pipe.predict_proba(X))


def test_skops_refuses_untrusted_file(tmp_path, iris):
    X, y = iris
    path = tmp_path / "model.skops"
    sio.dump(fit_quietly(sgd_classifier((3,), max_iter=2), X, y), path)
    with pytest.raises(sio.exceptions.UntrustedTypesFoundException):
        sio.load(path)


def test_skops_unfitted_round_trip(tmp_path):
    clf = sgd_classifier((7, 3), activation="tanh", random_state=0)
    path = tmp_path / "unfitted.skops"
    sio.dump(clf, path)
    loaded = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    assert loaded.get_params() == clf.get_params()
    assert not hasattr(loaded, "coefs_")


@pytest.fixture
def old_version_model(monkeypatch, iris):
    """Dump functions run with skbp pretending to be version 0.0.1."""
    X, y = iris
    clf = fit_quietly(sgd_classifier((3,), max_iter=2, random_state=0), X, y)

    def dump_as_old(dump, path):
        with monkeypatch.context() as patch:
            patch.setattr(skbp._base, "__version__", "0.0.1")
            dump(clf, path)

    return clf, dump_as_old


def test_skops_load_warns_about_other_version(tmp_path, iris, old_version_model):
    clf, dump_as_old = old_version_model
    path = tmp_path / "old.skops"
    dump_as_old(sio.dump, path)
    with pytest.warns(UserWarning, match=r"saved with skbp 0\.0\.1 and is loaded"):
        loaded = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    np.testing.assert_array_equal(loaded.predict(iris[0]), clf.predict(iris[0]))


def test_joblib_load_warns_about_other_version(tmp_path, iris, old_version_model):
    clf, dump_as_old = old_version_model
    path = tmp_path / "old.joblib"
    dump_as_old(joblib.dump, path)
    with pytest.warns(UserWarning, match=r"saved with skbp 0\.0\.1 and is loaded"):
        loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.predict(iris[0]), clf.predict(iris[0]))


def test_skops_round_trip_of_a_binary_model(tmp_path, iris):
    """One logistic unit: the loaded model predicts and goes on training alike."""
    X, y = iris[0][50:], np.array(["versicolor", "virginica"])[iris[1][50:] - 1]
    clf = fit_quietly(sgd_classifier((3,), max_iter=5, random_state=0), X, y)
    loaded, _ = dump_and_load(clf, tmp_path / "binary.skops")
    assert loaded.n_outputs_ == 1 and loaded.out_activation_ == "logistic"
    np.testing.assert_array_equal(loaded.predict(X), clf.predict(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    for model in (clf, loaded):
        model.partial_fit(X, y)
    np.testing.assert_array_equal(flat_params(loaded), flat_params(clf))
