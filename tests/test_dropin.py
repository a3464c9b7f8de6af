"""``BPClassifier`` as a drop-in for ``MLPClassifier``: defaults, contract, first fit.

The oracle is ``MLPClassifier`` itself: its 5-fold accuracy on raw data, its
warm-start and convergence behaviour, its verbose lines.
"""

import warnings

import numpy as np
import pytest
from _helpers import registered_activations, registered_solvers, sgd_classifier
from hypothesis import given
from hypothesis import strategies as st
from sklearn.datasets import (
    load_breast_cancer,
    load_iris,
    load_wine,
    make_classification,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import cross_val_score
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skbp import BPClassifier

X_IRIS, Y_IRIS = load_iris(return_X_y=True)


def test_defaults_are_mlpclassifiers_but_for_the_activation():
    ours, theirs = BPClassifier().get_params(), MLPClassifier().get_params()
    shared = set(ours) & set(theirs)
    differing = {name for name in shared if ours[name] != theirs[name]}
    assert differing == {"activation"} and ours["activation"] == "logistic"
    assert set(theirs) <= set(ours)


@pytest.mark.parametrize("loader", [load_breast_cancer, load_wine])
def test_defaults_train_on_raw_data_as_well_as_mlpclassifier(loader):
    X, y = loader(return_X_y=True)  # unscaled, as loaded
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = cross_val_score(BPClassifier(random_state=0), X, y, cv=5).mean()
        theirs = cross_val_score(MLPClassifier(random_state=0), X, y, cv=5).mean()
    assert ours > 0.9
    assert ours >= theirs - 0.03


def test_a_fit_that_learned_nothing_says_so():
    X, y = load_breast_cancer(return_X_y=True)
    # The old defaults (plain SGD at 0.1) on raw features: saturated sigmoids,
    # one class predicted everywhere.
    with pytest.warns(UserWarning, match="only one class") as record:
        sgd_classifier(max_iter=5, random_state=0).fit(X, y)
    [warning] = [w for w in record if "only one class" in str(w.message)]
    assert "StandardScaler" in str(warning.message)
    assert "learning_rate_init" in str(warning.message)
    assert warning.filename == __file__  # points at the caller's fit
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        good = make_pipeline(StandardScaler(), BPClassifier(random_state=0))
        good.fit(X, y)
        # Rows sorted by class: the check looks at evenly spaced rows.
        sgd_classifier((5,), max_iter=100, random_state=0).fit(X_IRIS, Y_IRIS)


def test_warm_start_needs_the_same_classes():
    clf = sgd_classifier((4,), max_iter=2, warm_start=True, random_state=0)
    clf.fit(X_IRIS, Y_IRIS)
    fewer = Y_IRIS < 2
    for est in (clf, MLPClassifier(max_iter=2, warm_start=True).fit(X_IRIS, Y_IRIS)):
        with pytest.raises(ValueError, match="warm_start can only be used where `y`"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                est.fit(X_IRIS[fewer], Y_IRIS[fewer])


def test_unstratifiable_early_stopping_split_warns_and_splits_plainly():
    y = Y_IRIS.copy()
    y[0] = 3  # a class of one sample cannot be stratified
    clf = sgd_classifier((4,), early_stopping=True, max_iter=3, random_state=0)
    with pytest.warns(UserWarning, match="cannot be stratified") as record:
        clf.fit(X_IRIS, y)
    assert record[0].filename == __file__  # points at the caller's fit
    assert len(clf.validation_scores_) == 3


@pytest.mark.parametrize("solver", registered_solvers(mlp=True))
def test_verbose_lines_begin_as_mlpclassifiers(solver, capsys):
    kw = dict(hidden_layer_sizes=(3,), solver=solver, max_iter=2, verbose=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        BPClassifier(random_state=0, **kw).fit(X_IRIS, Y_IRIS)
        ours = capsys.readouterr().out.splitlines()
        MLPClassifier(random_state=0, **kw).fit(X_IRIS, Y_IRIS)
        theirs = capsys.readouterr().out.splitlines()
    assert ours and all(line.startswith("Iteration ") for line in ours)
    prefix = [line.split(", loss = ")[0] for line in theirs if "loss = " in line]
    assert [line.split(", loss = ")[0] for line in ours][: len(prefix)] == prefix


def test_n_iter_counts_the_latest_partial_fit_call_as_mlpclassifier():
    ours, theirs = sgd_classifier((3,)), MLPClassifier((3,))
    for clf in (ours, theirs):
        for _ in range(3):
            clf.partial_fit(X_IRIS, Y_IRIS, classes=np.arange(3))
    assert ours.n_iter_ == theirs.n_iter_ == 1
    assert ours.t_ == theirs.t_ == 3 * len(Y_IRIS)
    assert len(ours.loss_curve_) == len(theirs.loss_curve_) == 3


# Binary problems: one logistic unit, as MLPClassifier -----------------------

# Relative tolerance on the fitted weights by solver and dtype: SGD and Adam
# repeat MLPClassifier's arithmetic; L-BFGS follows scipy's line search, whose
# few-ulp differences grow over the iterations.
_BINARY_RTOL = {
    ("sgd", np.float64): 1e-10,
    ("adam", np.float64): 1e-10,
    ("lbfgs", np.float64): 1e-5,
    ("sgd", np.float32): 1e-3,
    ("adam", np.float32): 1e-3,
}


DTYPES = [np.float64, np.float32]


@st.composite
def binary_configurations(draw):
    """A binary problem and one configuration for both estimators."""
    solver = draw(st.sampled_from(registered_solvers(mlp=True)))
    n_samples = draw(st.sampled_from([30, 50]))
    params = dict(
        hidden_layer_sizes=draw(st.sampled_from([(3,), (4, 2)])),
        activation=draw(st.sampled_from(registered_activations(mlp=True))),
        solver=solver,
        alpha=draw(st.sampled_from([0.0, 1e-4, 0.1, 1.0])),
        batch_size=draw(st.sampled_from(["auto", 7, 16, n_samples])),
        learning_rate_init=draw(st.sampled_from([1e-3, 1e-2, 0.1])),
        max_iter=draw(st.integers(1, 12)),
        tol=draw(st.sampled_from([0.0, 1e-4, 1e-2])),
        n_iter_no_change=draw(st.sampled_from([1, 3, 10])),
        random_state=draw(st.integers(0, 2**16)),
    )
    if solver == "lbfgs":
        # L-BFGS-B's line search turns last-digit differences of the loss
        # and gradient (computed in another order) into another step: paths
        # at 1e-14 after two iterations were seen 1.5e-3 apart after the
        # third (random_state=603, data_seed=56135). Two iterations test the
        # model; tests/test_differential.py checks longer runs against MLP
        # re-run under rounding noise.
        params["max_iter"] = min(params["max_iter"], 2)
    mode = "fit"
    if solver == "sgd":
        params["learning_rate"] = draw(st.sampled_from(["constant", "invscaling"]))
        params["momentum"] = draw(st.sampled_from([0.0, 0.9]))
    if solver != "lbfgs":
        mode = draw(st.sampled_from(["fit", "early_stopping", "partial_fit"]))
        params["early_stopping"] = mode == "early_stopping"
    data = dict(
        n_samples=n_samples,
        data_seed=draw(st.integers(0, 2**16)),
        labels=draw(st.sampled_from([(0, 1), (-1, 3), ("no", "yes")])),
        # float32 L-BFGS stays float32 here, not in MLPClassifier (README).
        dtype=np.float64 if solver == "lbfgs" else draw(st.sampled_from(DTYPES)),
        weighted=draw(st.booleans()),
        n_calls=draw(st.integers(1, 3)),
    )
    several_batches = (
        params["batch_size"] != "auto" and params["batch_size"] < n_samples
    )
    if data["weighted"] and several_batches and mode == "fit":
        # The weighted epoch loss differs from MLP's there (README: epoch
        # loss with sample_weight and several batches), and the tol rule
        # reads it: no stopping, so the paths are comparable.
        params["n_iter_no_change"] = 10**6
    return mode, params, data


def _binary_problem(n_samples, data_seed, labels, dtype, weighted, **_):
    X, y = make_classification(
        n_samples, 4, n_informative=3, n_redundant=0, flip_y=0.1,
        random_state=data_seed,
    )  # fmt: skip
    rng = np.random.default_rng(data_seed)
    sample_weight = rng.uniform(0.2, 3.0, n_samples) if weighted else None
    return X.astype(dtype), np.array(labels)[y], sample_weight


def _fit_both(mode, params, data):
    X, y, sample_weight = _binary_problem(**data)
    fitted = []
    for estimator in (BPClassifier, MLPClassifier):
        clf = estimator(**params)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence, batch_size clipped
            if mode == "partial_fit":
                for _ in range(data["n_calls"]):
                    clf.partial_fit(X, y, sample_weight, classes=np.unique(y))
            else:
                clf.fit(X, y, sample_weight)
        fitted.append(clf)
    return X, y, sample_weight, fitted


@given(binary_configurations())
def test_binary_fits_are_mlpclassifiers(configuration):
    mode, params, data = configuration
    X, y, sample_weight, (ours, theirs) = _fit_both(mode, params, data)
    reproduce = f"_fit_both({mode!r}, {params!r}, {data!r})"
    rtol = _BINARY_RTOL[params["solver"], data["dtype"]]
    atol = rtol * 1e-2
    assert ours.n_outputs_ == theirs.n_outputs_ == 1, reproduce
    assert ours.out_activation_ == theirs.out_activation_ == "logistic", reproduce
    for mine, other in zip(
        ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_, strict=True
    ):
        assert mine.shape == other.shape, reproduce
        np.testing.assert_allclose(mine, other, rtol=rtol, atol=atol, err_msg=reproduce)
    assert ours.n_iter_ == theirs.n_iter_, reproduce
    proba = ours.predict_proba(X)
    np.testing.assert_allclose(
        proba, theirs.predict_proba(X), rtol=rtol, atol=atol, err_msg=reproduce
    )
    several_batches = mode != "fit" or params["solver"] != "lbfgs"
    if sample_weight is None or not several_batches:
        # (With weights over several batches the epoch loss is the weighted
        # mean here, MLPClassifier's a mean by row count: a documented difference.)
        assert ours.loss_ == pytest.approx(theirs.loss_, rel=rtol), reproduce
    decided = ours.predict(X)
    clear = np.abs(proba[:, 1] - 0.5) > 1e-6  # ties aside
    np.testing.assert_array_equal(decided[clear], theirs.predict(X)[clear])
    np.testing.assert_array_equal(decided, ours.classes_[(proba[:, 1] > 0.5) * 1])
