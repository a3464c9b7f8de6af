"""ONNX export: onnxruntime runs the converted graph, compared with the estimator.

Oracles: the fitted estimator's own ``predict`` and ``predict_proba`` (labels
equal except at float32 ties, probabilities within float32 precision), and,
for the multilabel and regression graphs, scikit-learn's ``MLPClassifier`` and
``MLPRegressor``, whose fitted attributes mean the same, converted by skbp's
converters. Skipped without skl2onnx or onnxruntime (``pip install -e
".[onnx]"``).
"""

import functools
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from _helpers import mlp_loss_name, registered_activations
from sklearn.datasets import (
    load_breast_cancer,
    load_digits,
    load_iris,
    make_multilabel_classification,
    make_regression,
)
from sklearn.exceptions import NotFittedError
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import skbp
from skbp import BPClassifier
from skbp.network import ACTIVATIONS as ACTIVATION_REGISTRY
from skbp.network import OUTPUTS, Activation, Network, losses

skl2onnx = pytest.importorskip("skl2onnx")
rt = pytest.importorskip("onnxruntime")
skbp_onnx = pytest.importorskip("skbp.onnx")

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning"  # short fits on purpose
)

# The registered activations that have an ONNX operator (the others raise).
ACTIVATIONS = [name for name, a in ACTIVATION_REGISTRY.items() if a.onnx_op]
# Those MLPClassifier has too, for the tests that export an MLP.
MLP_ACTIVATIONS = [a for a in ACTIVATIONS if a in registered_activations(mlp=True)]
# The registered regression losses that have an ONNX operator.
REGRESSION_LOSSES = [n for n in losses("regressor") if OUTPUTS[n].onnx_op]
ATOL = 1e-5  # float32 precision of probabilities in [0, 1]
ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
EXAMPLE = ROOT / "examples" / "onnx_export.py"


def _iris_strings():
    X, y = load_iris(return_X_y=True)
    return X, np.array(["setosa", "versicolor", "virginica"])[y]


def _breast_cancer_scaled():
    # The raw features reach 4 000: float32 sums of such terms move the
    # probabilities by ~2e-5 (test_pipeline feeds them raw, scaled in the graph).
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


DATASETS = {
    "digits": lambda: load_digits(return_X_y=True),
    "iris": lambda: load_iris(return_X_y=True),
    "breast_cancer": _breast_cancer_scaled,
    "iris_strings": _iris_strings,
}


@functools.cache
def dataset(name):
    X, y = DATASETS[name]()
    return float32_exact(X), y


def float32_exact(X):
    """``X`` in float64, rounded to float32 values: the graph sees the same input.

    Otherwise rounding the input alone moves a logit by up to 1e-4 on breast
    cancer's raw features (up to 4 000).
    """
    return X.astype(np.float32).astype(np.float64)


def fit_classifier(X, y, activation="logistic", max_iter=30):
    """A short L-BFGS fit: fast and stable on raw features."""
    clf = BPClassifier((8,), activation, solver="lbfgs", max_iter=max_iter)
    return clf.set_params(random_state=0).fit(X, y)


def session(model, X_sample, options=None):
    """Convert ``model`` for inputs like ``X_sample``; return an onnxruntime session."""
    onx = skl2onnx.to_onnx(model, X_sample[:1], options=options)
    return rt.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )


def run(model, X, options=None):
    """Outputs of ``model``'s graph on ``X``, fed as float32 as usual."""
    X = X.astype(np.float32)
    sess = session(model, X, options)
    return sess.run(None, {sess.get_inputs()[0].name: X})


def assert_labels_match(labels, model, X):
    """Labels equal ``predict`` wherever the top two probabilities are not tied."""
    expected = model.predict(X)
    differ = labels != expected
    if differ.any():
        top2 = np.sort(model.predict_proba(X[differ]), axis=1)[:, -2:]
        assert np.all(top2[:, 1] - top2[:, 0] <= ATOL), (
            f"{differ.sum()} labels differ beyond float32 ties"
        )


def zipmap_to_array(rows, classes):
    return np.array([[row[c] for c in classes] for row in rows])


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("name", list(DATASETS))
def test_round_trip(name, activation):
    X, y = dataset(name)
    clf = fit_classifier(X, y, activation)
    labels, proba = run(clf, X, {"zipmap": False})
    assert labels.dtype == (object if name == "iris_strings" else np.int64)
    assert_labels_match(labels, clf, X)
    np.testing.assert_allclose(proba, clf.predict_proba(X), rtol=0, atol=ATOL)


@pytest.mark.parametrize("name", ["digits", "iris_strings", "breast_cancer"])
def test_zipmap(name):
    X, y = dataset(name)
    clf = fit_classifier(X, y)
    expected = clf.predict_proba(X)
    labels, rows = run(clf, X)  # zipmap=True is skl2onnx's default
    assert_labels_match(labels, clf, X)
    keys = [c.item() for c in clf.classes_]
    np.testing.assert_allclose(zipmap_to_array(rows, keys), expected, atol=ATOL)
    labels, *columns = run(clf, X, {"zipmap": "columns"})
    assert_labels_match(labels, clf, X)
    np.testing.assert_allclose(np.column_stack(columns), expected, atol=ATOL)


@pytest.mark.parametrize("zipmap", [True, False])
def test_pipeline(zipmap):
    X, y = load_breast_cancer(return_X_y=True)
    X = float32_exact(X)
    pipe = make_pipeline(
        StandardScaler(), BPClassifier((8,), "relu", max_iter=10, random_state=0)
    ).fit(X, y)
    labels, proba = run(pipe, X, {BPClassifier: {"zipmap": zipmap}})
    if zipmap:
        proba = zipmap_to_array(proba, [0, 1])
    assert_labels_match(labels, pipe, X)
    np.testing.assert_allclose(proba, pipe.predict_proba(X), atol=ATOL)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_float64(activation):
    """A float64 input computes in float64: equal to float64 rounding."""
    X, y = load_digits(return_X_y=True)
    clf = fit_classifier(X, y, activation)
    sess = session(clf, X, {"zipmap": False})
    assert sess.get_outputs()[1].type == "tensor(double)"
    labels, proba = sess.run(None, {"X": X})
    np.testing.assert_array_equal(labels, clf.predict(X))
    np.testing.assert_allclose(proba, clf.predict_proba(X), rtol=1e-12, atol=1e-14)


def test_float32_model():
    """A model fitted on float32 data (float32 parameters) converts too."""
    X, y = dataset("digits")
    X = X.astype(np.float32)
    clf = fit_classifier(X, y)
    assert clf.coefs_[0].dtype == np.float32
    labels, proba = run(clf, X, {"zipmap": False})
    assert_labels_match(labels, clf, X)
    np.testing.assert_allclose(proba, clf.predict_proba(X), atol=ATOL)


def test_nocl_and_output_class_labels():
    X, y = dataset("iris_strings")
    clf = fit_classifier(X, y)
    index, _ = run(clf, X, {"zipmap": False, "nocl": True})
    assert_labels_match(clf.classes_[index], clf, X)
    _, _, classes = run(clf, X, {"zipmap": False, "output_class_labels": True})
    np.testing.assert_array_equal(classes, clf.classes_)


def test_float_labels():
    """Float labels (integral, or a classifier would reject them) become int64."""
    X, y = dataset("iris")
    clf = fit_classifier(X, y.astype(float))
    labels, _ = run(clf, X, {"zipmap": False})
    assert labels.dtype == np.int64
    assert_labels_match(labels, clf, X)


# Binary: one logistic unit, as MLPClassifier --------------------------------


@pytest.mark.parametrize("activation", MLP_ACTIVATIONS)
def test_binary_graph_on_mlp_and_skl2onnx_converter(activation):
    """MLPClassifier's binary model through skbp's converter gives MLP's outputs,
    with the shapes and types skl2onnx's own MLPClassifier converter gives."""
    register_stand_ins()
    X, y = dataset("breast_cancer")
    params = dict(hidden_layer_sizes=(8,), activation=activation, random_state=0)
    ours = _MLPClassifierStandIn(max_iter=30, **params).fit(X, y)
    labels, proba = run(ours, X, {"zipmap": False})
    np.testing.assert_allclose(proba, ours.predict_proba(X), atol=ATOL)
    assert_labels_match(labels, ours, X)
    theirs = MLPClassifier(max_iter=30, **params).fit(X, y)
    their_labels, their_proba = run(theirs, X, {"zipmap": False})
    assert labels.shape == their_labels.shape == (len(X),)
    assert proba.shape == their_proba.shape == (len(X), 2)
    assert labels.dtype == their_labels.dtype and proba.dtype == their_proba.dtype
    np.testing.assert_allclose(proba, their_proba, atol=ATOL)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_binary_float64(activation):
    """The binary graph in float64: labels classes_[z > 0], [1 - p, p] exactly."""
    X, y = dataset("breast_cancer")
    clf = fit_classifier(X, np.array(["benign", "malignant"])[y], activation)
    assert clf.n_outputs_ == 1
    sess = session(clf, X, {"zipmap": False})
    labels, proba = sess.run(None, {"X": X})
    np.testing.assert_array_equal(labels, clf.predict(X))
    np.testing.assert_allclose(proba, clf.predict_proba(X), rtol=1e-12, atol=1e-14)


def test_export_reads_the_fitted_network_not_the_hyperparameters():
    """set_params without a refit changes neither predict nor the graph."""
    X, y = dataset("iris")
    clf = fit_classifier(X, y, "logistic")
    expected = clf.predict_proba(X)
    clf.set_params(activation="relu", hidden_layer_sizes=(3,))
    labels, proba = run(clf, X, {"zipmap": False})
    np.testing.assert_allclose(proba, expected, atol=ATOL)
    assert_labels_match(labels, clf, X)
    if not hasattr(skbp, "BPRegressor"):
        return
    X, y = regression_data(1, "squared_error")
    reg = skbp.BPRegressor((8,), "tanh", max_iter=15, random_state=0).fit(X, y)
    expected = reg.predict(X)
    reg.set_params(activation="identity", loss="poisson")
    check_regressor(reg, X, 1)
    np.testing.assert_array_equal(reg.predict(X), expected)


@pytest.mark.parametrize(
    "estimator", [BPClassifier, getattr(skbp, "BPRegressor", BPClassifier)]
)
def test_unfitted_model_raises_not_fitted_error(estimator):
    with pytest.raises(NotFittedError):
        skl2onnx.to_onnx(estimator(), np.zeros((1, 3), np.float32))


def test_an_activation_without_onnx_operator_cannot_be_exported(monkeypatch):
    """Every registered activation without an operator, and a stand-in, raise."""
    X, y = dataset("iris")
    tanh = ACTIVATION_REGISTRY["tanh"]
    stand_in = Activation(tanh.layer, tanh.doc, None, tanh.output_bound)
    monkeypatch.setitem(ACTIVATION_REGISTRY, "no_onnx", stand_in)
    for name, entry in ACTIVATION_REGISTRY.items():
        if entry.onnx_op is None:
            clf = fit_classifier(X, y, name, max_iter=2)
            with pytest.raises(ValueError, match=f"activation='{name}' cannot be"):
                session(clf, X.astype(np.float32))


def test_float32_graph_refuses_weights_beyond_float32():
    """No silent inf weights (nor numpy's cast warning): a float64 sample works."""
    X, y = dataset("iris")
    clf = fit_classifier(X, y)
    clf.coefs_[0][0, 0] = 1e39
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(
            ValueError, match=r"float32.*X\[:1\]\.astype\(np\.float64\)"
        ):
            session(clf, X.astype(np.float32))
        with pytest.raises(ValueError, match="float32"):
            skbp_onnx.float32_input_bound(clf)
        labels, proba = session(clf, X, {"zipmap": False}).run(None, {"X": X})
    np.testing.assert_array_equal(labels, clf.predict(X))
    np.testing.assert_allclose(proba, clf.predict_proba(X), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_float32_graph_is_finite_within_its_input_bound(activation):
    X, y = dataset("iris")
    clf = fit_classifier(X, y, activation)
    bound = skbp_onnx.float32_input_bound(clf)
    assert np.abs(X).max() < bound <= np.finfo(np.float32).max
    rng = np.random.default_rng(0)
    directions = rng.uniform(-1, 1, (500, X.shape[1]))
    directions[:4] = np.sign(clf.coefs_[0].T[:4])  # the largest first-layer sums
    extreme = np.float32(bound) * (directions / np.abs(directions).max(axis=1)[:, None])
    extreme = extreme.astype(np.float32)
    assert np.abs(extreme).max() <= bound
    labels, proba = run(clf, extreme, {"zipmap": False})
    assert np.isfinite(proba).all()
    if ACTIVATION_REGISTRY[activation].output_bound(np.inf) == np.inf:
        # An unbounded activation: the bound is a real limit.
        far = np.float32(np.finfo(np.float32).max) * directions[:4].astype(np.float32)
        _, proba = run(clf, far, {"zipmap": False})
        assert not np.isfinite(proba).all()


# Multilabel and regression ------------------------------------------------


def _mlp_network(mlp):
    """An MLP's fitted weights as the fitted ``Network`` skbp's converters read."""
    layers = zip(mlp.coefs_, mlp.intercepts_, strict=True)
    params = np.concatenate([a.ravel() for W, b in layers for a in (W, b)])
    units = [W.shape[0] for W in mlp.coefs_] + [mlp.coefs_[-1].shape[1]]
    output = mlp.loss if isinstance(mlp, MLPRegressor) else mlp.out_activation_
    return Network(units, params, mlp.activation, output)


class _MLPClassifierStandIn(MLPClassifier):
    """MLPClassifier converted by skbp's converter (its attributes mean the same)."""

    _network = property(_mlp_network)


class _MLPRegressorStandIn(MLPRegressor):
    """MLPRegressor converted by skbp's converter."""

    _network = property(_mlp_network)


@functools.cache
def register_stand_ins():
    skl2onnx.update_registered_converter(
        _MLPClassifierStandIn,
        "SkbpTestMLPClassifier",
        skbp_onnx.bp_classifier_shape_calculator,
        skbp_onnx.convert_bp_classifier,
        options=skbp_onnx.CLASSIFIER_OPTIONS,
    )
    skl2onnx.update_registered_converter(
        _MLPRegressorStandIn,
        "SkbpTestMLPRegressor",
        skbp_onnx.bp_regressor_shape_calculator,
        skbp_onnx.convert_bp_regressor,
    )


def multilabel_data():
    X, Y = make_multilabel_classification(
        200, n_features=10, n_classes=4, random_state=0
    )
    return float32_exact(X), Y


def check_multilabel(clf, X):
    labels, proba = run(clf, X, {"zipmap": False})
    expected = clf.predict_proba(X)
    assert labels.shape == proba.shape == expected.shape
    np.testing.assert_allclose(proba, expected, atol=ATOL)
    differ = labels != clf.predict(X)
    assert np.all(np.abs(expected[differ] - 0.5) <= ATOL)  # float32 ties only
    label_rows, rows = run(clf, X)  # with zipmap: one dict per row
    np.testing.assert_array_equal(label_rows, labels)
    np.testing.assert_allclose(zipmap_to_array(rows, range(4)), expected, atol=ATOL)


@pytest.mark.parametrize("activation", MLP_ACTIVATIONS)
def test_multilabel_graph_on_mlp(activation):
    register_stand_ins()
    X, Y = multilabel_data()
    clf = _MLPClassifierStandIn((8,), activation, max_iter=30, random_state=0)
    clf.fit(X, Y)
    assert clf.out_activation_ == "logistic"
    check_multilabel(clf, X)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_multilabel(activation):
    X, Y = multilabel_data()
    try:
        clf = fit_classifier(X, Y, activation)
    except ValueError as exc:
        pytest.skip(f"BPClassifier does not fit an indicator matrix yet: {exc}")
    assert clf.out_activation_ == "logistic"
    check_multilabel(clf, X)


def regression_data(n_targets, loss):
    X, y = make_regression(
        200, n_features=6, n_targets=n_targets, noise=1.0, random_state=0
    )
    y = y / np.abs(y).max()
    try:
        OUTPUTS[loss].layer.check_targets(y)
    except ValueError:  # a loss for non-negative targets (counts)
        y = np.exp(y)
    return float32_exact(X), y


def check_regressor(reg, X, n_targets):
    (prediction,) = run(reg, X)
    assert prediction.shape == (len(X), n_targets)
    expected = reg.predict(X).reshape(len(X), n_targets)
    np.testing.assert_allclose(prediction, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("loss", [n for n in REGRESSION_LOSSES if mlp_loss_name(n)])
@pytest.mark.parametrize("n_targets", [1, 3])
def test_regressor_graph_on_mlp(n_targets, loss):
    register_stand_ins()
    X, y = regression_data(n_targets, loss)
    reg = _MLPRegressorStandIn(
        loss=loss, hidden_layer_sizes=(8,), activation="tanh", random_state=0
    )
    reg.set_params(max_iter=30).fit(X, y)
    check_regressor(reg, X, n_targets)
    pipe = make_pipeline(StandardScaler(), reg).fit(X, y)
    (prediction,) = run(pipe, X)
    expected = pipe.predict(X).reshape(len(X), n_targets)
    np.testing.assert_allclose(prediction, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("loss", REGRESSION_LOSSES)
@pytest.mark.parametrize("n_targets", [1, 3])
def test_regressor(n_targets, loss, activation):
    if not hasattr(skbp, "BPRegressor"):
        pytest.skip("skbp has no BPRegressor yet")
    X, y = regression_data(n_targets, loss)
    reg = skbp.BPRegressor((8,), activation, max_iter=15, random_state=0)
    if "loss" in reg.get_params():
        reg.set_params(loss=loss)
    elif loss == "poisson":
        pytest.skip("BPRegressor has no loss parameter")
    reg.set_params(learning_rate_init=0.01)
    reg.fit(X, y)
    check_regressor(reg, X, n_targets)
    pipe = make_pipeline(StandardScaler(), reg).fit(X, y)
    (prediction,) = run(pipe, X)
    expected = pipe.predict(X).reshape(len(X), n_targets)
    np.testing.assert_allclose(prediction, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("estimator", ["classifier", "regressor"])
def test_a_model_trained_with_dropout_exports_what_predict_computes(estimator):
    """The graph never drops: it computes ``predict`` of the fitted network."""
    X, y = dataset("iris")
    params = dict(dropout=0.5, solver="sgd", learning_rate_init=0.1, max_iter=20)
    with warnings.catch_warnings(action="ignore"):  # ConvergenceWarning
        if estimator == "classifier":
            model = BPClassifier((8,), random_state=0, **params).fit(X, y)
        else:
            model = skbp.BPRegressor((8,), random_state=0, **params).fit(X, y / 2)
    outputs = run(model, X, {"zipmap": False} if estimator == "classifier" else None)
    if estimator == "classifier":
        assert_labels_match(outputs[0], model, X)
        np.testing.assert_allclose(outputs[1], model.predict_proba(X), atol=ATOL)
    else:
        np.testing.assert_allclose(outputs[0][:, 0], model.predict(X), atol=1e-5)


def test_readme_snippet():
    """The README's "Serving with ONNX" snippet runs as written."""
    section = README.read_text().split("## Serving with ONNX", 1)[1].split("\n## ")[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    exec(compile(code, "README.md", "exec"), {})


def test_example(tmp_path):
    """The example runs at reduced size, exits cleanly and prints no warning."""
    model = tmp_path / "digits.onnx"
    args = ["--epochs", "2", "--hidden", "5", "--rows", "2000", "--repeat", "1"]
    proc = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", EXAMPLE, *args]
        + ["--output", str(model)],
        cwd=tmp_path,
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Warning" not in proc.stderr, proc.stderr
    assert f"ONNX model saved to {model}" in proc.stdout
    assert model.stat().st_size > 0
    assert "labels equal to predict: " in proc.stdout
    assert "predict_proba time / onnxruntime time: " in proc.stdout
