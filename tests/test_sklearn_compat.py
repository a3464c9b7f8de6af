"""scikit-learn compatibility of ``BPClassifier``.

scikit-learn's own estimator checks are the oracle for the API contract; the
integration tests below cover what those checks do not: meta-estimators,
persistence of the flat parameter vector, parameter validation messages,
untouched inputs, label handling, dtypes and sparse input.
"""

import pickle
import warnings

import joblib
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from _helpers import flat_params, sgd_classifier
from hypothesis import assume, given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone, is_classifier
from sklearn.datasets import load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skbp import BPClassifier, BPRegressor

# Small and fast, yet well above the 0.83 accuracy that check_classifiers_train
# asks for (0.94 on its 3-class blobs, 0.975 on the binary ones, float32 too):
# 33 parameters, so one numerical step costs 66 forward passes of <= 100 rows.
NUMERICAL = dict(
    hidden_layer_sizes=(5,),
    gradient="numerical",
    max_iter=50,
    learning_rate_init=0.5,
    random_state=0,
)


DROPOUT_WEIGHTS = {
    "check_sample_weight_equivalence_on_dense_data": "one mask per row, so a "
    "duplicated row is dropped independently; a weight of 2 is not",
    "check_sample_weight_equivalence_on_sparse_data": "as on dense data",
}


# Every check is meant to pass, but one with dropout, which draws a mask for
# each row: a row given twice gets two masks, a row of weight 2 one. The
# defaults also take the multilabel checks (the tags say they are supported).
@parametrize_with_checks(
    [
        BPClassifier(random_state=0),
        sgd_classifier(**NUMERICAL),
        BPClassifier(dropout=0.2, random_state=0),
    ],
    expected_failed_checks=lambda est: DROPOUT_WEIGHTS if est.dropout else {},
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


# ---------------------------------------------------------------- fixtures ---


@pytest.fixture
def iris_scaled():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _fast(**params):
    """A quickly trained estimator for the integration tests."""
    defaults = dict(
        hidden_layer_sizes=(5,),
        batch_size=10,
        max_iter=20,
        learning_rate_init=0.5,
        random_state=0,
    )
    return sgd_classifier(**{**defaults, **params})


def _fitted_state(estimator):
    """Every value reachable from a fitted estimator's attributes, recursively."""
    seen, stack, found = set(), list(vars(estimator).values()), []
    while stack:
        value = stack.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        found.append(value)
        if isinstance(value, list | tuple):
            stack.extend(value)
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif hasattr(value, "__dict__") and not isinstance(value, type):
            stack.extend(vars(value).values())
    return found


# ------------------------------------------------------------- integration ---


def test_pipeline_fit_score(iris_scaled):
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), _fast(max_iter=50)).fit(X, y)
    assert pipe.score(X, y) > 0.9
    # Oracle: the same two steps by hand.
    manual = _fast(max_iter=50).fit(iris_scaled[0], y)
    assert_allclose(pipe.predict_proba(X), manual.predict_proba(iris_scaled[0]))


def test_grid_search_over_gradient_and_hidden_layer_sizes(iris_scaled):
    X, y = iris_scaled
    grid = {"gradient": ["backprop", "numerical"], "hidden_layer_sizes": [(3,), (5,)]}
    search = GridSearchCV(_fast(), grid, cv=3).fit(X, y)
    results = pd.DataFrame(search.cv_results_["params"]).assign(
        score=search.cv_results_["mean_test_score"]
    )
    assert len(results) == 4
    assert search.best_score_ > 0.85
    assert search.best_params_["hidden_layer_sizes"] in grid["hidden_layer_sizes"]
    # Same batches for both gradients, so both see the same models and scores.
    results["size"] = results["hidden_layer_sizes"].map(lambda s: s[0])
    scores = results.pivot(index="size", columns="gradient", values="score")
    assert_array_equal(scores["backprop"], scores["numerical"])


def test_cross_val_score_matches_manual_folds(iris_scaled):
    X, y = iris_scaled
    scores = cross_val_score(_fast(), X, y, cv=3)
    # Oracle: the folds cross_val_score uses for a classifier, fitted by hand.
    manual = [
        _fast().fit(X[train], y[train]).score(X[test], y[test])
        for train, test in StratifiedKFold(3).split(X, y)
    ]
    assert_allclose(scores, manual)
    assert scores.mean() > 0.85


def test_clone_is_unfitted_with_equal_params(iris_scaled):
    fitted = _fast(gradient="numerical", warm_start=True).fit(*iris_scaled)
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "coefs_")
    assert not hasattr(copy, "_params")
    assert not hasattr(copy, "classes_")


@pytest.mark.parametrize("dropout", [0.0, 0.3])
@pytest.mark.parametrize("gradient", ["backprop", "numerical"])
def test_joblib_round_trip(tmp_path, iris_scaled, gradient, dropout):
    X, y = iris_scaled
    clf = _fast(gradient=gradient, max_iter=3, warm_start=True, dropout=dropout)
    clf.fit(X, y)
    path = tmp_path / "clf.joblib"
    joblib.dump(clf, path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. no version-mismatch warning
        loaded = joblib.load(path)

    assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert_array_equal(flat_params(loaded), flat_params(clf))
    # coefs_ and intercepts_ are again views into the one flat vector, in order.
    pairs = zip(loaded.coefs_, loaded.intercepts_, strict=True)
    views = [array for pair in pairs for array in pair]
    for view in views:
        assert np.shares_memory(view, loaded._params)
    assert_array_equal(np.concatenate([v.ravel() for v in views]), loaded._params)
    for view, original in zip(loaded.coefs_, clf.coefs_, strict=True):
        assert_array_equal(view, original)

    # Continuing training is bit-identical with and without the round trip.
    clf.set_params(max_iter=2).fit(X, y)
    loaded.set_params(max_iter=2).fit(X, y)
    assert loaded.n_iter_ == clf.n_iter_ == 2 and len(clf.loss_curve_) == 5
    assert_array_equal(flat_params(loaded), flat_params(clf))
    assert loaded.loss_curve_ == clf.loss_curve_
    for view in loaded.coefs_ + loaded.intercepts_:
        assert np.shares_memory(view, loaded._params)


def test_pickle_holds_parameters_not_activations():
    X, y = load_digits(return_X_y=True)
    # 3810 parameters (30 KB); the last batch's cached activations alone would
    # add about 50 KB (inputs) + 40 KB (hidden outputs).
    clf = sgd_classifier(max_iter=2, random_state=0).fit(X, y)
    size = len(pickle.dumps(clf))
    assert clf._params.nbytes < size < clf._params.nbytes + 4096

    loaded = pickle.loads(pickle.dumps(clf))
    for value in _fitted_state(loaded):
        for cache in ("x", "out", "y", "t"):  # layer caches, if a layer is kept
            if hasattr(value, cache) and hasattr(value, "forward"):
                assert getattr(value, cache) is None
        if isinstance(value, np.ndarray) and value.size > loaded.n_outputs_:
            # The only big arrays are the parameters (and views into them).
            assert np.shares_memory(value, loaded._params)


# ---------------------------------------------------------- param validation ---


@pytest.mark.parametrize(
    "params, name",
    [
        (dict(hidden_layer_sizes=(0,)), "hidden_layer_sizes"),
        (dict(hidden_layer_sizes=(5, -1)), "hidden_layer_sizes"),
        (dict(hidden_layer_sizes=()), "hidden_layer_sizes"),
        (dict(learning_rate_init=-1), "learning_rate_init"),
        (dict(learning_rate_init=0), "learning_rate_init"),
        (dict(batch_size=0), "batch_size"),
        (dict(max_iter=0), "max_iter"),
        (dict(numerical_step=0), "numerical_step"),
        (dict(numerical_step=-1e-4), "numerical_step"),
        (dict(weight_init_std=-1), "weight_init_std"),
        (dict(gradient="magic"), "gradient"),
    ],
)
def test_bad_parameter_raises_value_error_naming_it(tiny_separated, params, name):
    with pytest.raises(ValueError, match=name):
        sgd_classifier(**params).fit(*tiny_separated)


# ------------------------------------------------------------ inputs intact ---


def _assert_untouched(clf, X, y):
    X_before, y_before = np.array(X, copy=True), np.array(y, copy=True)
    clf.fit(X, y)
    for method in ("predict", "predict_proba", "predict_log_proba", "score"):
        args = (X, y) if method == "score" else (X,)
        getattr(clf, method)(*args)
    assert_array_equal(X, X_before)
    assert_array_equal(y, y_before)


@pytest.mark.parametrize("gradient", ["backprop", "numerical"])
def test_inputs_not_mutated(tiny_separated, gradient):
    X, y = (a.copy() for a in tiny_separated)
    _assert_untouched(_fast(gradient=gradient, batch_size=7), X, y)


@pytest.mark.parametrize("gradient", ["backprop", "numerical"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_read_only_inputs(tiny_separated, gradient, dtype):
    X, y = tiny_separated[0].astype(dtype), tiny_separated[1].copy()
    X.setflags(write=False)
    y.setflags(write=False)
    _assert_untouched(_fast(gradient=gradient, batch_size=7), X, y)


@pytest.mark.parametrize("gradient", ["backprop", "numerical"])
def test_memmap_inputs(tmp_path, tiny_separated, gradient):
    arrays = []
    for name, source in zip(("X", "y"), tiny_separated, strict=True):
        path = tmp_path / f"{name}.dat"
        writer = np.memmap(path, dtype=source.dtype, mode="w+", shape=source.shape)
        writer[...] = source
        writer.flush()
        del writer
        arrays.append(np.memmap(path, dtype=source.dtype, mode="r", shape=source.shape))
    X, y = arrays
    _assert_untouched(_fast(gradient=gradient, batch_size=7), X, y)
    assert_array_equal(X, tiny_separated[0])
    # Same model as from ordinary arrays.
    reference = _fast(gradient=gradient, batch_size=7).fit(*tiny_separated)
    assert_array_equal(
        flat_params(_fast(gradient=gradient, batch_size=7).fit(X, y)),
        flat_params(reference),
    )


# ------------------------------------------------------------------ labels ---


@pytest.mark.parametrize(
    "labels", [["setosa", "versicolor", "virginica"], [-3, 7, 42]], ids=["str", "int"]
)
def test_arbitrary_labels_give_the_same_model(iris_scaled, labels):
    X, y = iris_scaled
    reference = _fast().fit(X, y)
    labels = np.array(labels)
    clf = _fast().fit(X, labels[y])
    assert_array_equal(clf.classes_, labels)
    assert_array_equal(clf.predict(X), labels[reference.predict(X)])
    assert_array_equal(clf.predict_proba(X), reference.predict_proba(X))
    assert clf.score(X, labels[y]) == reference.score(X, y)


@pytest.mark.parametrize("gradient", ["backprop", "numerical"])
def test_binary_problem(iris_scaled, gradient):
    X, y = iris_scaled[0][50:], np.where(iris_scaled[1][50:] == 1, "no", "yes")
    clf = _fast(gradient=gradient).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (100, 2)
    assert_allclose(proba.sum(axis=1), 1.0)
    assert_array_equal(clf.classes_, ["no", "yes"])
    assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    assert clf.n_outputs_ == 1 and clf.out_activation_ == "logistic"  # as MLP
    assert clf.score(X, y) > 0.8


def test_dataframe_feature_names(iris_scaled):
    X, y = iris_scaled
    columns = ["sepal length", "sepal width", "petal length", "petal width"]
    frame = pd.DataFrame(X, columns=columns)
    clf = _fast().fit(frame, y)
    assert_array_equal(clf.feature_names_in_, columns)
    assert_array_equal(clf.predict_proba(frame), _fast().fit(X, y).predict_proba(X))

    renamed = frame.rename(columns={"petal width": "petal breadth"})
    with pytest.raises(ValueError, match="feature names should match"):
        clf.predict(renamed)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        clf.predict(X)

    unnamed = _fast().fit(X, y)
    assert not hasattr(unnamed, "feature_names_in_")
    with pytest.warns(UserWarning, match="fitted without feature names"):
        unnamed.predict(frame)


# ------------------------------------------------------------ dtype, sparse ---


@pytest.mark.parametrize("dropout", [0.0, 0.3])
@pytest.mark.parametrize("gradient", ["backprop", "numerical"])
def test_float32_in_float32_out(iris_scaled, gradient, dropout):
    X, y = iris_scaled[0].astype(np.float32), iris_scaled[1]
    clf = _fast(gradient=gradient, max_iter=5, dropout=dropout).fit(X, y)
    assert flat_params(clf).dtype == np.float32
    assert {a.dtype for a in clf.coefs_ + clf.intercepts_} == {np.dtype(np.float32)}
    assert clf.predict_proba(X).dtype == np.float32
    assert clf.predict_proba(X.astype(np.float64)).dtype == np.float32
    assert clf.predict_log_proba(X).dtype == np.float32
    # float32 training follows the float64 one closely.
    reference = _fast(gradient=gradient, max_iter=5, dropout=dropout)
    reference.fit(iris_scaled[0], y)
    assert_allclose(flat_params(clf), flat_params(reference), rtol=1e-3, atol=1e-4)


def test_sparse_csr_gives_the_dense_model_backprop():
    X, y = load_digits(return_X_y=True)  # about half the pixels are zero
    X_csr = sp.csr_matrix(X)
    dense = sgd_classifier(max_iter=3, random_state=0).fit(X, y)
    sparse = sgd_classifier(max_iter=3, random_state=0).fit(X_csr, y)
    assert_allclose(flat_params(sparse), flat_params(dense), rtol=1e-10, atol=1e-12)
    assert_allclose(sparse.predict_proba(X_csr), dense.predict_proba(X), atol=1e-12)
    assert_array_equal(sparse.predict(X_csr), dense.predict(X))


def test_sparse_csr_gives_the_dense_model_numerical(tiny_separated):
    X, y = tiny_separated
    X = np.where(np.abs(X) < 0.5, 0.0, X)  # make it genuinely sparse
    X_csr = sp.csr_matrix(X)
    assert X_csr.nnz < X.size
    params = dict(gradient="numerical", batch_size=7, max_iter=5)
    dense = _fast(**params).fit(X, y)
    sparse = _fast(**params).fit(X_csr, y)
    assert_allclose(flat_params(sparse), flat_params(dense), rtol=1e-8, atol=1e-10)
    assert_allclose(sparse.predict_proba(X_csr), dense.predict_proba(X), atol=1e-10)


def test_fortran_ordered_input_gives_the_c_ordered_model():
    # load_digits' X is Fortran-ordered; batches are gathered differently.
    X, y = load_digits(return_X_y=True)
    assert not X.flags.c_contiguous
    fortran = _fast(max_iter=3).fit(X, y)
    c_order = _fast(max_iter=3).fit(np.ascontiguousarray(X), y)
    assert_array_equal(flat_params(fortran), flat_params(c_order))


# ------------------------------------------------------ order of the checks ---

# Parameter values that are invalid only with the data or together: MLP checks
# hidden_layer_sizes first, then the data (warning for a column-vector y),
# then the rest.

_LATE_ERRORS = [
    {"hidden_layer_sizes": (0,)},
    {"early_stopping": True, "validation_fraction": 0.0},
    {"early_stopping": True},  # with partial_fit
    {"max_iter": True},  # with too short a sample_weight (MLP: max_iter=1)
    {"batch_size": True},
]


def _warnings_and_error(est, method, X, y, sample_weight):
    """The warning categories (not convergence) and the exception type of a call."""
    kwargs = {"sample_weight": sample_weight}
    if method == "partial_fit" and is_classifier(est):
        kwargs["classes"] = np.unique(y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            getattr(est, method)(X, y, **kwargs)
            error = None
        except Exception as exc:  # noqa: BLE001 - compared below
            error = type(exc)
    kinds = {w.category for w in caught} - {ConvergenceWarning}
    return kinds, error


@given(
    regressor=st.booleans(),
    method=st.sampled_from(["fit", "partial_fit"]),
    column=st.booleans(),
    params=st.sampled_from(_LATE_ERRORS),
    short_weights=st.booleans(),
)
def test_checks_come_in_mlps_order(regressor, method, column, params, short_weights):
    X, y = load_iris(return_X_y=True)
    X, y = X[::5], (X[::5, 0] if regressor else y[::5])
    pair = (MLPRegressor, BPRegressor) if regressor else (MLPClassifier, BPClassifier)
    if column:
        y = y.reshape(-1, 1)
    sample_weight = np.ones(len(y) - 1) if short_weights else None
    common = dict(hidden_layer_sizes=(2,), solver="sgd", max_iter=2, random_state=0)
    outcomes = [
        _warnings_and_error(
            E(**common).set_params(**params), method, X, y, sample_weight
        )
        for E in pair
    ]
    assume(outcomes[0][1] is not None)  # MLP raises (bools are ints to it)
    assert outcomes[0] == outcomes[1]
