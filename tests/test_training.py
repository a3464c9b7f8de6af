"""Training options of ``BPClassifier``, each checked against an independent oracle.

The oracles: ``MLPClassifier`` configured identically (same initial draws,
same shuffles, same update rules and stopping rules); steps worked out by hand
from gradients of :func:`skbp.gradients.backprop_gradient`; duplicated and
dropped rows for sample weights; scikit-learn's ``compute_class_weight``;
replaying the epochs one by one for early stopping; central differences
(``gradient="numerical"``) for every solver; and scikit-learn's estimator
checks.
"""

import re
import warnings
from itertools import pairwise

import numpy as np
import pytest
import scipy.sparse as sp
from _helpers import flat_params, registered_solvers, sgd_classifier
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import recall_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

from skbp.gradients import backprop_gradient, numerical_gradient
from skbp.network import Network

# Never stop on the training loss: runs last exactly max_iter epochs.
NO_STOP = dict(tol=0.0, n_iter_no_change=10**6)
GRADIENTS = ("backprop", "numerical")


# ----------------------------------------------------------------- helpers ---


@pytest.fixture(autouse=True)
def one_blas_thread():
    """Single-threaded BLAS for every test here."""
    # These products are small; two BLAS threads on a busy 2-core machine
    # made this module four times slower.
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def blobs():
    """120 x 6, three classes: the MLPClassifier comparisons and chunked fits."""
    X, y = make_classification(
        120,
        6,
        n_informative=4,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=1,
        random_state=0,
    )
    return X, y


def glorot(rng, layer_units, activation="logistic"):
    """MLPClassifier's initial draws by hand: per layer uniform W, then uniform b."""
    factor = 2.0 if activation == "logistic" else 6.0
    chunks = []
    for fan_in, fan_out in pairwise(layer_units):
        bound = np.sqrt(factor / (fan_in + fan_out))
        chunks.append(rng.uniform(-bound, bound, (fan_in, fan_out)).ravel())
        chunks.append(rng.uniform(-bound, bound, fan_out))
    return np.concatenate(chunks)


def gradient_at(params, layer_units, X, T, activation="logistic", alpha=0.0):
    """Backprop gradient of the mean loss at ``params`` (a fresh Network)."""
    network = Network(layer_units, params.copy(), activation)
    backprop_gradient(network, X, T, alpha=alpha)
    return network.grads.copy()


def one_hot(y):
    """One-hot targets for class indices ``y``."""
    return np.eye(int(y.max()) + 1)[y]


def mlp_twin(**params):
    """MLPClassifier with skbp's defaults where they differ, then ``params``."""
    defaults = dict(
        hidden_layer_sizes=(50,),
        activation="logistic",
        solver="sgd",
        alpha=0.0,
        batch_size=100,
        learning_rate_init=0.1,
        momentum=0.0,
        nesterovs_momentum=False,
    )
    return MLPClassifier(**{**defaults, **params})


def assert_same_model(ours, theirs, rtol=1e-9, atol=1e-11, check_dtype=True):
    """Same shapes (and dtypes) and close values of all coefs_ and intercepts_."""
    for a, b in zip(
        ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_, strict=True
    ):
        assert a.shape == b.shape
        assert a.dtype == b.dtype or not check_dtype
        assert_allclose(a, b, rtol=rtol, atol=atol)


# ------------------------------------------------- MLPClassifier as oracle ---

MLP_CASES = {
    "logistic": {},
    "tanh": dict(activation="tanh"),
    "relu": dict(activation="relu"),
    "identity": dict(activation="identity"),
    "momentum": dict(momentum=0.9),
    "nesterov": dict(momentum=0.9, nesterovs_momentum=True),
    "invscaling": dict(learning_rate="invscaling", power_t=0.3, momentum=0.5),
    "adam": dict(
        solver="adam", learning_rate_init=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-6
    ),
    "alpha": dict(alpha=0.5, momentum=0.5),
    "adam-alpha": dict(solver="adam", learning_rate_init=0.02, alpha=0.3),
    "two-layers-tanh": dict(hidden_layer_sizes=(6, 4), activation="tanh"),
    "batch-auto": dict(batch_size="auto", activation="relu", momentum=0.9),
}


@pytest.mark.parametrize("params", MLP_CASES.values(), ids=MLP_CASES.keys())
def test_stochastic_fit_matches_mlpclassifier(blobs, params):
    """Same draws, shuffles and update rule: the same parameters after 5 epochs."""
    X, y = blobs
    common = dict(
        hidden_layer_sizes=(5,), batch_size=32, max_iter=5, random_state=1, **NO_STOP
    )
    common.update(params)
    ours = sgd_classifier(**common).fit(X, y)
    theirs = mlp_twin(**common).fit(X, y)
    assert_same_model(ours, theirs)
    assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), atol=1e-12)
    assert ours.n_iter_ == theirs.n_iter_ == 5 and ours.t_ == theirs.t_
    # The comparison is not vacuous: training moved the initial draws.
    units = [X.shape[1], *np.atleast_1d(common["hidden_layer_sizes"]), 3]
    start = glorot(np.random.RandomState(1), units, ours.activation)
    assert np.abs(flat_params(ours) - start).max() > 1e-2


@pytest.mark.parametrize("solver", registered_solvers(mlp=True))
def test_sample_weighted_fit_matches_mlpclassifier(blobs, solver):
    # Compare parameters only: skbp's loss_curve_ is the weighted mean of the
    # batch losses, MLPClassifier's weighs each batch by its row count.
    X, y = blobs
    sample_weight = np.random.RandomState(0).uniform(0.1, 3.0, len(y))
    common = dict(
        hidden_layer_sizes=(5,),
        solver=solver,
        batch_size=32,
        max_iter=5,
        alpha=0.2,
        momentum=0.9,
        random_state=2,
        **NO_STOP,
    )
    ours = sgd_classifier(**common).fit(X, y, sample_weight=sample_weight)
    theirs = mlp_twin(**common).fit(X, y, sample_weight=sample_weight)
    assert_same_model(ours, theirs, rtol=1e-8, atol=1e-10)
    unweighted = sgd_classifier(**common).fit(X, y)
    assert np.abs(flat_params(unweighted) - flat_params(ours)).max() > 1e-3


@pytest.mark.parametrize("solver", registered_solvers(mlp=True))
def test_float32_fit_matches_mlpclassifier(blobs, solver):
    X, y = blobs[0].astype(np.float32), blobs[1]
    common = dict(
        hidden_layer_sizes=(5,),
        solver=solver,
        batch_size=32,
        max_iter=5,
        learning_rate_init=0.05,
        random_state=3,
        **NO_STOP,
    )
    ours = sgd_classifier(**common).fit(X, y)
    theirs = mlp_twin(**common).fit(X, y)
    # MLPClassifier's lbfgs returns float64 parameters (scipy's float64 x);
    # skbp keeps float32 for every solver.
    lbfgs = solver == "lbfgs"
    assert_same_model(ours, theirs, rtol=1e-4, atol=1e-5, check_dtype=not lbfgs)
    assert {a.dtype for a in ours.coefs_ + ours.intercepts_} == {np.dtype("float32")}
    assert ours.predict_proba(X).dtype == np.float32


@pytest.mark.parametrize(
    "params", [{}, dict(alpha=0.1, activation="tanh")], ids=["plain", "alpha-tanh"]
)
def test_lbfgs_matches_mlpclassifier(blobs, params):
    # MLPClassifier packs all weights before all biases, skbp layer by layer:
    # L-BFGS is invariant to that permutation up to rounding in its dot products.
    X, y = blobs
    common = dict(hidden_layer_sizes=(5,), solver="lbfgs", max_iter=8, random_state=4)
    common.update(params)
    ours = sgd_classifier(**common).fit(X, y)
    theirs = mlp_twin(**common).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ == 8
    assert_same_model(ours, theirs, rtol=1e-6, atol=1e-8)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9)
    # Unlike MLPClassifier, lbfgs records one loss per iteration.
    assert len(ours.loss_curve_) == ours.n_iter_
    assert ours.loss_curve_[-1] == pytest.approx(ours.loss_, rel=1e-12)
    assert np.all(np.diff(ours.loss_curve_) <= 0)


# ------------------------------------------------------ momentum by hand ---


@pytest.mark.parametrize("rule", ["momentum", "nesterov", "adam"])
def test_first_two_steps_follow_the_update_formula(tiny, rule):
    """Two full-batch steps computed by hand from backprop gradients."""
    X, y = tiny
    T = one_hot(y)
    units = [3, 4, 3]
    lr, m = 0.3, 0.9
    b1, b2, eps = 0.8, 0.95, 1e-7
    p0 = glorot(np.random.RandomState(0), units)

    def grad(p):
        return gradient_at(p, units, X, T)

    g0 = grad(p0)
    if rule == "adam":
        m1, s1 = (1 - b1) * g0, (1 - b2) * g0**2
        p1 = p0 - lr * np.sqrt(1 - b2) / (1 - b1) * m1 / (np.sqrt(s1) + eps)
        g1 = grad(p1)
        m2, s2 = b1 * m1 + (1 - b1) * g1, b2 * s1 + (1 - b2) * g1**2
        p2 = p1 - lr * np.sqrt(1 - b2**2) / (1 - b1**2) * m2 / (np.sqrt(s2) + eps)
        params = dict(solver="adam", beta_1=b1, beta_2=b2, epsilon=eps)
    else:
        nesterov = rule == "nesterov"
        v1 = -lr * g0
        p1 = p0 + (m * v1 - lr * g0 if nesterov else v1)
        g1 = grad(p1)
        v2 = m * v1 - lr * g1
        p2 = p1 + (m * v2 - lr * g1 if nesterov else v2)
        params = dict(momentum=m, nesterovs_momentum=nesterov)
    for steps, expected in ((1, p1), (2, p2)):
        clf = sgd_classifier(
            (4,),
            learning_rate_init=lr,
            batch_size=len(X),
            shuffle=False,
            max_iter=steps,
            random_state=0,
            **params,
        ).fit(X, y)
        assert_allclose(flat_params(clf), expected, rtol=1e-12, atol=1e-14)
    # The rule matters: plain SGD's second step lands elsewhere.
    plain = p0 - lr * g0
    plain = plain - lr * grad(plain)
    assert np.abs(p2 - plain).max() > 1e-3


# -------------------------------------------------------------- partial_fit ---

CHUNK_CASES = {
    "sgd": {},
    "momentum": dict(momentum=0.9),
    "nesterov": dict(momentum=0.9, nesterovs_momentum=True),
    "adam": dict(solver="adam", learning_rate_init=0.01),
    "alpha-tanh": dict(alpha=0.1, activation="tanh", momentum=0.5),
}


@pytest.mark.parametrize("params", CHUNK_CASES.values(), ids=CHUNK_CASES.keys())
def test_partial_fit_over_chunks_equals_one_epoch_of_fit(blobs, params):
    """Chunks of whole batches: same steps, and the optimizer state carries over."""
    X, y = blobs
    sample_weight = np.random.RandomState(1).uniform(0.5, 2.0, len(y))
    common = dict(hidden_layer_sizes=(5,), batch_size=20, shuffle=False, random_state=0)
    common.update(params)
    whole = sgd_classifier(max_iter=1, **common).fit(X, y, sample_weight=sample_weight)
    chunked = sgd_classifier(**common)
    for i, rows in enumerate([slice(0, 40), slice(40, 100), slice(100, 120)]):
        chunked.partial_fit(
            X[rows],
            y[rows],
            classes=[0, 1, 2] if i == 0 else None,
            sample_weight=sample_weight[rows],
        )
    assert_allclose(flat_params(chunked), flat_params(whole), rtol=1e-12, atol=1e-14)
    assert chunked.t_ == whole.t_ == 120
    assert_array_equal(chunked.classes_, whole.classes_)


def test_partial_fit_calls_match_mlpclassifier(blobs):
    """Shuffled calls with momentum and weights: MLPClassifier.partial_fit agrees."""
    X, y = blobs
    sample_weight = np.random.RandomState(2).uniform(0.5, 2.0, len(y))
    common = dict(hidden_layer_sizes=(5,), batch_size=16, momentum=0.9, random_state=0)
    ours, theirs = sgd_classifier(**common), mlp_twin(**common)
    for rows in [slice(0, 50), slice(50, 120), slice(0, 120)]:
        kwargs = dict(classes=np.arange(3), sample_weight=sample_weight[rows])
        ours.partial_fit(X[rows], y[rows], **kwargs)
        theirs.partial_fit(X[rows], y[rows], **kwargs)
    assert_same_model(ours, theirs)


def test_partial_fit_needs_classes_on_the_first_call(tiny):
    X, y = tiny
    clf = sgd_classifier((3,))
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y)
    assert not hasattr(clf, "classes_")
    clf.partial_fit(X[:5], y[:5], classes=[0, 1, 2])  # y[:5] holds class 0 only
    assert_array_equal(clf.classes_, [0, 1, 2])
    clf.partial_fit(X, y)  # later calls may omit classes


def test_partial_fit_rejects_labels_outside_classes(tiny):
    X, y = tiny
    y_bad = y.copy()
    y_bad[0] = 7
    with pytest.raises(ValueError, match=r"\b7\b"):
        sgd_classifier((3,)).partial_fit(X, y_bad, classes=[0, 1, 2])
    clf = sgd_classifier((3,)).partial_fit(X, y, classes=[0, 1, 2])
    before = flat_params(clf).copy()
    with pytest.raises(ValueError, match=r"\b7\b"):
        clf.partial_fit(X, y_bad)
    assert_array_equal(flat_params(clf), before)


def test_partial_fit_rejects_balanced_class_weight_and_early_stopping(tiny):
    X, y = tiny
    with pytest.raises(ValueError, match="class_weight"):
        sgd_classifier(class_weight="balanced").partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="early_stopping"):
        sgd_classifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])
    # A dict is fine: it does not depend on the data of one call.
    sgd_classifier((3,), class_weight={0: 2.0}).partial_fit(X, y, classes=[0, 1, 2])


def test_partial_fit_only_for_stochastic_solvers():
    assert not hasattr(sgd_classifier(solver="lbfgs"), "partial_fit")
    assert hasattr(sgd_classifier(solver="sgd"), "partial_fit")
    assert hasattr(sgd_classifier(solver="adam"), "partial_fit")
    assert not hasattr(MLPClassifier(solver="lbfgs"), "partial_fit")  # same rule


# ------------------------------------------------------------ sample_weight ---


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
@pytest.mark.parametrize("gradient", ["backprop", "numerical"])
def test_sample_weight_two_equals_a_duplicated_row(tiny, solver, gradient):
    X, y = tiny
    doubled = [3, 17, 25]
    weights = np.ones(len(y))
    weights[doubled] = 2.0
    X_dup, y_dup = np.vstack([X, X[doubled]]), np.concatenate([y, y[doubled]])
    common = dict(
        hidden_layer_sizes=(4,),
        solver=solver,
        gradient=gradient,
        alpha=0.1,  # normalised by sum(w), i.e. by the duplicated row count
        batch_size=100,  # full batch
        shuffle=False,
        max_iter=5,
        random_state=0,
    )
    weighted = sgd_classifier(**common).fit(X, y, sample_weight=weights)
    duplicated = sgd_classifier(**common).fit(X_dup, y_dup)
    assert_allclose(
        flat_params(weighted), flat_params(duplicated), rtol=1e-8, atol=1e-10
    )
    plain = sgd_classifier(**common).fit(X, y)
    assert np.abs(flat_params(plain) - flat_params(duplicated)).max() > 1e-4


@pytest.mark.parametrize("solver", registered_solvers())
def test_zero_sample_weight_equals_dropping_the_rows(tiny, solver):
    X, y = tiny
    dropped = [0, 11, 12, 29]
    weights = np.ones(len(y))
    weights[dropped] = 0.0
    keep = weights > 0
    common = dict(
        hidden_layer_sizes=(4,),
        solver=solver,
        alpha=0.1,
        batch_size=100,
        shuffle=False,
        max_iter=5,
        random_state=0,
    )
    weighted = sgd_classifier(**common).fit(X, y, sample_weight=weights)
    without = sgd_classifier(**common).fit(X[keep], y[keep])
    assert_allclose(flat_params(weighted), flat_params(without), rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize(
    "weights",
    [np.ones(29), -np.ones(30), np.zeros(30)],
    ids=["wrong-length", "negative", "all-zero"],
)
def test_bad_sample_weight_raises(tiny, weights):
    X, y = tiny
    with pytest.raises(ValueError, match=r"(?i)sample.weight"):
        sgd_classifier((3,), max_iter=1).fit(X, y, sample_weight=weights)


def test_class_weight_that_zeroes_every_row_raises(tiny):
    X, y = tiny
    clf = sgd_classifier((3,), class_weight={0: 0.0, 1: 0.0, 2: 0.0})
    with pytest.raises(ValueError, match=r"(?i)sample.weight"):
        clf.fit(X, y)


# ------------------------------------------------------------- class_weight ---


def test_balanced_class_weight_raises_minority_recall():
    X, y = make_classification(
        400,
        5,
        n_informative=3,
        n_redundant=0,
        weights=[0.9, 0.1],
        class_sep=0.6,
        flip_y=0,
        random_state=0,
    )
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.5, stratify=y, random_state=0
    )
    recall = {}
    for class_weight in (None, "balanced"):
        clf = sgd_classifier(
            (8,), class_weight=class_weight, max_iter=60, random_state=0
        )
        clf.fit(X_train, y_train)
        recall[class_weight] = recall_score(y_test, clf.predict(X_test))
    assert recall["balanced"] >= recall[None] + 0.25, recall


@pytest.mark.parametrize("with_sample_weight", [False, True])
def test_class_weight_dict_equals_the_corresponding_sample_weight(
    blobs, with_sample_weight
):
    X, y_index = blobs
    y = np.array(["ant", "bee", "cat"])[y_index]
    class_weight = {"ant": 0.5, "bee": 3.0, "cat": 1.0}
    per_row = np.array([class_weight[label] for label in y])
    sample_weight = np.random.RandomState(0).uniform(0.5, 2, len(y))
    common = dict(hidden_layer_sizes=(5,), batch_size=32, max_iter=3, random_state=0)
    if with_sample_weight:
        ours = sgd_classifier(class_weight=class_weight, **common).fit(
            X, y, sample_weight=sample_weight
        )
        expected = sgd_classifier(**common).fit(
            X, y, sample_weight=per_row * sample_weight
        )
    else:
        ours = sgd_classifier(class_weight=class_weight, **common).fit(X, y)
        expected = sgd_classifier(**common).fit(X, y, sample_weight=per_row)
    assert_allclose(flat_params(ours), flat_params(expected), rtol=1e-12, atol=1e-14)
    assert (
        np.abs(
            flat_params(ours) - flat_params(sgd_classifier(**common).fit(X, y))
        ).max()
        > 1e-3
    )


@pytest.mark.parametrize("with_sample_weight", [False, True])
def test_balanced_class_weight_equals_compute_class_weight(with_sample_weight):
    """Balanced weights as scikit-learn computes them, from weighted class totals.

    With sample weights, scikit-learn (``compute_class_weight``, used so by
    LogisticRegression and the forests) balances the weighted class totals,
    which keeps a weight of 2 equal to a duplicated row.
    """
    X, y = make_classification(
        90,
        4,
        n_classes=3,
        n_informative=3,
        n_redundant=0,
        weights=[0.6, 0.3, 0.1],
        random_state=0,
    )
    classes = np.unique(y)
    sw = np.random.RandomState(0).randint(1, 4, len(y)).astype(float)
    sw = sw if with_sample_weight else None
    per_class = compute_class_weight("balanced", classes=classes, y=y, sample_weight=sw)
    expected_weights = per_class[y] * (1.0 if sw is None else sw)
    common = dict(hidden_layer_sizes=(4,), batch_size=30, max_iter=3, random_state=0)
    ours = sgd_classifier(class_weight="balanced", **common).fit(X, y, sample_weight=sw)
    expected = sgd_classifier(**common).fit(X, y, sample_weight=expected_weights)
    assert_allclose(flat_params(ours), flat_params(expected), rtol=1e-12, atol=1e-14)


def test_class_weight_unknown_label_raises_naming_class_weight(tiny):
    X, y = tiny
    with pytest.raises(ValueError, match=r"class_weight.*\b9\b"):
        sgd_classifier((3,), class_weight={0: 1.0, 9: 2.0}).fit(X, y)


# ----------------------------------------------------------- early stopping ---


def _replay_epochs(X, y, train, n_epochs, sample_weight=None, **params):
    """Train on ``X[train]`` one epoch at a time; parameters after each epoch."""
    clf = sgd_classifier(
        warm_start=True, max_iter=1, shuffle=False, n_iter_no_change=np.inf, **params
    )
    sw = None if sample_weight is None else sample_weight[train]
    history = []
    for _ in range(n_epochs):
        clf.fit(X[train], y[train], sample_weight=sw)
        history.append((flat_params(clf).copy(), clf.loss_))
    return history


def _stop_epoch(scores, tol, n_iter_no_change):
    """MLPClassifier's rule, by hand: the epoch (1-based) at which it stops."""
    best, count = -np.inf, 0
    for epoch, score in enumerate(scores, start=1):
        count = count + 1 if score < best + tol else 0
        best = max(best, score)
        if count > n_iter_no_change:
            return epoch
    return None


@pytest.mark.parametrize("weighting", ["none", "class_weight", "sample_weight"])
def test_early_stopping_stops_and_restores_the_best_epoch(weighting):
    """Replay the held-out split and every epoch; check scores, stop and restore."""
    X, y = make_classification(
        300, 8, n_informative=4, n_classes=3, flip_y=0.15, random_state=1
    )
    X = StandardScaler().fit_transform(X)
    seed, fraction, patience = 0, 0.2, 3
    params = dict(hidden_layer_sizes=(10,), batch_size=20, learning_rate_init=0.5)
    class_weight = {0: 1.0, 1: 5.0, 2: 0.2}
    sample_weight = None
    if weighting == "class_weight":
        params["class_weight"] = class_weight
    elif weighting == "sample_weight":
        sample_weight = np.random.RandomState(3).uniform(0.1, 3.0, len(y))
    clf = sgd_classifier(
        early_stopping=True,
        validation_fraction=fraction,
        n_iter_no_change=patience,
        shuffle=False,
        max_iter=100,
        random_state=seed,
        **params,
    ).fit(X, y, sample_weight=sample_weight)

    # The split, reproduced: the initial draws come first from the same stream.
    rng = np.random.RandomState(seed)
    glorot(rng, [8, 10, 3])
    train, val = train_test_split(
        np.arange(len(y)), random_state=rng, test_size=fraction, stratify=y
    )
    val_weights = np.ones(len(val))
    if weighting == "class_weight":
        val_weights = np.array([class_weight[label] for label in y[val]])
    elif weighting == "sample_weight":
        val_weights = sample_weight[val]

    history = _replay_epochs(
        X, y, train, clf.n_iter_, sample_weight, random_state=seed, **params
    )
    scores, plain_scores = [], []
    for params_k, _ in history:
        network = Network([8, 10, 3], params_k)
        correct = network.logits(X[val]).argmax(axis=1) == y[val]
        scores.append(np.average(correct, weights=val_weights))
        plain_scores.append(correct.mean())

    assert 1 < clf.n_iter_ < 100
    assert clf.n_iter_ == _stop_epoch(scores, clf.tol, patience)
    assert len(clf.validation_scores_) == len(clf.loss_curve_) == clf.n_iter_
    assert_allclose(clf.validation_scores_, scores, rtol=1e-12)
    assert_allclose(clf.loss_curve_, [loss for _, loss in history], rtol=1e-10)
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None
    best = int(np.argmax(scores))
    assert best < clf.n_iter_ - 1  # restoring matters here
    assert_allclose(flat_params(clf), history[best][0], rtol=1e-12, atol=1e-14)
    final_correct = clf.predict(X[val]) == y[val]
    assert np.average(final_correct, weights=val_weights) == pytest.approx(
        clf.best_validation_score_, rel=1e-12
    )
    if weighting != "none":  # the weights changed the recorded scores
        assert not np.allclose(scores, plain_scores)


@pytest.mark.parametrize("fraction", [0.0, 1.0])
def test_early_stopping_rejects_validation_fraction_outside_open_interval(
    tiny, fraction
):
    X, y = tiny
    clf = sgd_classifier(early_stopping=True, validation_fraction=fraction)
    with pytest.raises(ValueError, match="validation_fraction"):
        clf.fit(X, y)


def test_early_stopping_too_small_validation_set_raises_naming_the_fraction():
    # 10 rows, fraction 0.1: one validation row. skbp's own message asks to
    # "Increase validation_fraction"; the stratified split must not pre-empt it.
    X = np.random.RandomState(0).standard_normal((10, 2))
    y = np.arange(10) % 2
    clf = sgd_classifier(early_stopping=True, validation_fraction=0.1)
    with pytest.raises(ValueError, match="validation_fraction"):
        clf.fit(X, y)


@pytest.mark.parametrize("counts", [(7, 7, 6), (10, 9, 1)], ids=["2-val-rows", "1"])
def test_early_stopping_fits_small_multiclass_data_like_mlpclassifier(counts):
    """MLPClassifier fits these; a stratified split cannot (too few rows/class)."""
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1, 2], counts)
    X = rng.standard_normal((len(y), 4)) + y[:, None]
    mlp_twin(early_stopping=True, batch_size="auto", max_iter=5, random_state=0).fit(
        X, y
    )
    clf = sgd_classifier(early_stopping=True, max_iter=5, random_state=0).fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_


# ------------------------------------------------------ tol, n_iter_no_change ---


@pytest.mark.parametrize("patience", [1, 3])
def test_large_tol_stops_like_mlpclassifier(blobs, patience):
    # Epoch 1 always improves on +inf, then every epoch counts as no
    # improvement: stop when the count exceeds n_iter_no_change.
    X, y = blobs
    common = dict(
        hidden_layer_sizes=(5,), tol=10.0, n_iter_no_change=patience, random_state=0
    )
    ours = sgd_classifier(**common).fit(X, y)
    theirs = mlp_twin(**common).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_ == patience + 2
    assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-12)
    assert_same_model(ours, theirs)


def test_infinite_n_iter_no_change_runs_every_epoch_and_warns_as_mlpclassifier(blobs):
    X, y = blobs
    params = dict(hidden_layer_sizes=(5,), tol=10.0, n_iter_no_change=np.inf)
    for clf in (sgd_classifier(max_iter=7, **params), mlp_twin(max_iter=7, **params)):
        with pytest.warns(ConvergenceWarning, match=r"Maximum iterations \(7\)"):
            clf.fit(X, y)
        assert clf.n_iter_ == 7


@pytest.mark.parametrize("solver", registered_solvers(mlp=True))
def test_reaching_max_iter_warns(blobs, solver):
    X, y = blobs
    clf = sgd_classifier((5,), solver=solver, max_iter=3, tol=0.0, random_state=0)
    with pytest.warns(ConvergenceWarning):
        clf.fit(X, y)
    # One partial_fit epoch is not a convergence failure (nor in MLPClassifier).
    if solver != "lbfgs":
        with warnings.catch_warnings():
            warnings.simplefilter("error", ConvergenceWarning)
            clf.partial_fit(X, y)


def test_adaptive_learning_rate_divides_by_five_instead_of_stopping(blobs):
    X, y = blobs
    lr, patience, epochs = 0.1, 2, 10
    common = dict(
        hidden_layer_sizes=(5,),
        learning_rate="adaptive",
        learning_rate_init=lr,
        tol=10.0,  # every epoch after the first counts as no improvement
        n_iter_no_change=patience,
        max_iter=epochs,
        momentum=0.9,
        random_state=0,
    )
    ours = sgd_classifier(**common).fit(X, y)
    theirs = mlp_twin(**common).fit(X, y)
    triggers = (epochs - 1) // (patience + 1)  # at epochs 4, 7 and 10
    assert ours.n_iter_ == epochs
    assert ours._optimizer.learning_rate == pytest.approx(lr / 5**triggers)
    assert ours._optimizer.learning_rate == theirs._optimizer.learning_rate
    assert_same_model(ours, theirs)


def test_adaptive_learning_rate_stops_once_below_1e_6(blobs):
    X, y = blobs
    common = dict(
        hidden_layer_sizes=(5,),
        learning_rate="adaptive",
        learning_rate_init=0.1,
        tol=10.0,
        n_iter_no_change=1,
        max_iter=100,
        random_state=0,
    )
    ours = sgd_classifier(**common).fit(X, y)
    theirs = mlp_twin(**common).fit(X, y)
    # 0.1 / 5**8 < 1e-6 after 8 divisions (every 2 epochs from epoch 3); the
    # 9th trigger, at epoch 19, stops.
    assert ours.n_iter_ == theirs.n_iter_ == 19
    assert ours._optimizer.learning_rate == pytest.approx(0.1 / 5**8)


def test_tiny_init_plateau_fools_the_stopping_rule():
    """With N(0, 0.01**2) weights the default rule stops at chance accuracy.

    Pixels scaled to [0, 1], full batches, learning rate 0.5: on the plateau at
    2.30 the loss still falls every epoch, but by less than tol=1e-4 (about
    7e-5), so after n_iter_no_change=10 such epochs training stops (epoch 14)
    predicting one class. Trained a fixed 450 epochs (``n_iter_no_change=
    np.inf``) the same model leaves the plateau near epoch 100 and passes 0.9.
    (With the reference protocol's raw 0-16 pixels and batches of 100 the
    plateau lasts less than an epoch and the rule does not stop early.)
    """
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X / 16.0, y, test_size=0.2, random_state=0
    )
    common = dict(
        weight_init_std=0.01, learning_rate_init=0.5, batch_size=2000, random_state=0
    )
    stopped = sgd_classifier(max_iter=450, **common).fit(X_train, y_train)
    fixed = sgd_classifier(max_iter=450, n_iter_no_change=np.inf, **common)
    fixed.fit(X_train, y_train)
    assert stopped.n_iter_ < 30
    assert stopped.score(X_test, y_test) < 0.2  # chance is 0.1
    steps = np.diff(stopped.loss_curve_)
    assert np.all(steps < 0)  # still improving ...
    assert np.all(steps[-stopped.n_iter_no_change :] > -stopped.tol)  # ... slowly
    assert fixed.n_iter_ == 450
    assert fixed.score(X_test, y_test) > 0.9


# --------------------------------------------------------------- warm_start ---


def test_warm_start_continues_from_the_previous_weights_by_hand(tiny):
    X, y = tiny
    T = one_hot(y)
    units, lr, batch = [3, 4, 3], 0.3, 10
    common = dict(
        hidden_layer_sizes=(4,),
        learning_rate_init=lr,
        batch_size=batch,
        shuffle=False,
        random_state=0,
    )
    clf = sgd_classifier(max_iter=2, **common).fit(X, y)
    after_first = flat_params(clf).copy()
    clf.set_params(warm_start=True, max_iter=3).fit(X, y)
    # Three more epochs of mini-batch SGD from where the first fit ended.
    p = after_first.copy()
    for _ in range(3):
        for start in range(0, len(y), batch):
            rows = slice(start, start + batch)
            p = p - lr * gradient_at(p, units, X[rows], T[rows])
    assert_allclose(flat_params(clf), p, rtol=1e-12, atol=1e-14)
    assert clf.n_iter_ == 3 and len(clf.loss_curve_) == 5 and clf.t_ == 5 * len(y)
    cold = sgd_classifier(max_iter=5, **common).fit(X, y)
    assert_allclose(flat_params(clf), flat_params(cold), rtol=1e-12, atol=1e-14)


def test_warm_start_matches_mlpclassifier(blobs):
    """Shuffled, with momentum: each fit starts a fresh optimizer and RNG stream."""
    X, y = blobs
    common = dict(hidden_layer_sizes=(5,), batch_size=32, momentum=0.9, random_state=0)
    ours = sgd_classifier(max_iter=3, warm_start=True, **common, **NO_STOP)
    theirs = mlp_twin(max_iter=3, warm_start=True, **common, **NO_STOP)
    for clf in (ours, theirs):
        clf.fit(X, y)
        clf.set_params(max_iter=2).fit(X, y)
    assert_same_model(ours, theirs)
    assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    # n_iter_ counts the latest call; t_ and loss_curve_ accumulate.
    assert ours.n_iter_ == theirs.n_iter_ == 2
    assert ours.t_ == theirs.t_ and len(ours.loss_curve_) == 5


@given(
    solver=st.sampled_from(registered_solvers(mlp=True, stochastic=True)),
    learning_rate=st.sampled_from(["constant", "adaptive"]),
    tol=st.sampled_from([0.0, 1e-3, 0.05, 10.0]),
    patience=st.integers(1, 3),
    epochs=st.tuples(st.integers(1, 6), st.integers(1, 6)),
)
def test_warm_start_keeps_the_stopping_state_as_mlpclassifier(
    blobs, solver, learning_rate, tol, patience, epochs
):
    """Without early stopping, best_loss_ and the count of epochs without
    improvement carry over into a warm-started fit, as in MLPClassifier."""
    X, y = blobs
    common = dict(
        hidden_layer_sizes=(3,), activation="tanh", solver=solver, batch_size=40,
        learning_rate=learning_rate, learning_rate_init=0.05, tol=tol,
        n_iter_no_change=patience, warm_start=True, random_state=0,
    )  # fmt: skip
    ours, theirs = sgd_classifier(**common), mlp_twin(**common)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for max_iter in epochs:
            for clf in (ours, theirs):
                clf.set_params(max_iter=max_iter).fit(X, y)
            assert ours.n_iter_ == theirs.n_iter_
            assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-10)
            assert ours._no_improvement_count == theirs._no_improvement_count
    assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-10)
    assert_same_model(ours, theirs)


def test_partial_fit_adaptive_rate_counts_epochs_across_calls(blobs):
    """One partial_fit call is one epoch of the adaptive schedule, as in MLP:
    after three calls without improvement beyond tol, the rate is divided by 5."""
    X, y = blobs
    common = dict(
        hidden_layer_sizes=(3,), activation="tanh", tol=10.0, n_iter_no_change=1,
        learning_rate="adaptive", random_state=0,
    )  # fmt: skip
    ours, theirs = sgd_classifier(**common), mlp_twin(**common)
    rates = []
    for _ in range(4):
        for clf in (ours, theirs):
            clf.partial_fit(X, y, classes=[0, 1, 2])
        rates.append(ours._optimizer.learning_rate)
        assert rates[-1] == pytest.approx(theirs._optimizer.learning_rate)
    assert rates == pytest.approx([0.1, 0.1, 0.02, 0.02])
    assert_same_model(ours, theirs)


@pytest.mark.parametrize("solver", registered_solvers(mlp=True, stochastic=True))
def test_batch_size_larger_than_the_data_warns_once_as_mlpclassifier(tiny, solver):
    X, y = tiny
    with pytest.warns(UserWarning, match="batch_size` less than 1 or larger") as got:
        mlp_twin(solver=solver, max_iter=1, batch_size=len(y) + 1).fit(X, y)
    with warnings.catch_warnings(record=True) as ours:
        warnings.simplefilter("always")
        sgd_classifier(solver=solver, max_iter=2, batch_size=len(y) + 1, tol=0).fit(
            X, y
        )
    clipped = [w for w in ours if issubclass(w.category, UserWarning)]
    clipped = [w for w in clipped if str(w.message) == str(got[0].message)]
    assert len(clipped) == 1 and clipped[0].filename == __file__


def test_batch_size_equal_to_the_data_does_not_warn(tiny):
    X, y = tiny
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sgd_classifier(max_iter=1, batch_size=len(y)).fit(X, y)
    assert not [w for w in caught if "batch_size" in str(w.message)]


class _Interrupt:
    """A scorer that raises KeyboardInterrupt on its ``at``-th call (1: the check)."""

    def __init__(self, at):
        self.at, self.calls = at, 0

    def __call__(self, estimator, X, y, sample_weight=None):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return estimator.score(X, y)


@pytest.mark.parametrize("where", ["scorer", "held-out pass"])
@pytest.mark.parametrize("warm", [False, True])
def test_interrupt_while_validating_leaves_the_epoch_out_of_every_curve(
    blobs, monkeypatch, where, warm
):
    X, y = blobs
    clf = sgd_classifier(
        (3,), early_stopping=True, max_iter=6, n_iter_no_change=99, warm_start=warm
    )
    if warm:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)
    if where == "scorer":
        clf.set_params(scoring=_Interrupt(at=4))  # the check, then 2 epochs
    else:
        from skbp import _training

        evaluate, calls = _training._Validation.evaluate, []

        def interrupted(self, est, network):
            calls.append(1)
            if len(calls) == 3:
                raise KeyboardInterrupt
            return evaluate(self, est, network)

        monkeypatch.setattr(_training._Validation, "evaluate", interrupted)
    with pytest.warns(UserWarning, match="interrupted by user after 2 epochs"):
        clf.fit(X, y)
    assert clf.n_iter_ == 2
    n_epochs = 6 * warm + 2
    assert len(clf.loss_curve_) == n_epochs == clf.t_ // (len(y) - 12)
    assert len(clf.validation_scores_) == len(clf.validation_loss_curve_) == n_epochs


def test_warm_start_with_a_new_class_raises(tiny):
    X, y = tiny
    clf = sgd_classifier((3,), max_iter=1, warm_start=True).fit(X, y)
    before = flat_params(clf).copy()
    with pytest.raises(ValueError, match=r"\b3\b"):
        clf.fit(X, np.where(y == 2, 3, y))
    assert_array_equal(flat_params(clf), before)


# ---------------------------------------------- solver x gradient agreement ---

SOLVER_CASES = {
    "sgd": {},
    "sgd-alpha": dict(alpha=0.3),
    "sgd-momentum-tanh": dict(momentum=0.9, activation="tanh"),
    "sgd-nesterov-relu": dict(momentum=0.9, nesterovs_momentum=True, activation="relu"),
    "sgd-invscaling-identity": dict(learning_rate="invscaling", activation="identity"),
    "adam": dict(solver="adam", learning_rate_init=0.05),
    "adam-alpha-tanh": dict(solver="adam", learning_rate_init=0.05, alpha=0.3),
    "lbfgs": dict(solver="lbfgs", max_iter=6),
    "lbfgs-alpha-relu": dict(solver="lbfgs", alpha=0.3, activation="relu", max_iter=6),
}


@pytest.mark.parametrize("params", SOLVER_CASES.values(), ids=SOLVER_CASES.keys())
def test_backprop_and_numerical_agree_for_every_solver(tiny, params):
    X, y = tiny
    sample_weight = np.random.RandomState(0).uniform(0.5, 2.0, len(y))
    common = dict(
        hidden_layer_sizes=(4,),
        batch_size=10,
        learning_rate_init=0.3,
        max_iter=4,
        random_state=5,
    )
    common.update(params)
    fits = {
        gradient: sgd_classifier(gradient=gradient, **common).fit(
            X, y, sample_weight=sample_weight
        )
        for gradient in ("backprop", "numerical")
    }
    bp, num = fits["backprop"], fits["numerical"]
    assert_allclose(flat_params(num), flat_params(bp), rtol=0, atol=1e-6)
    assert_allclose(num.loss_curve_, bp.loss_curve_, rtol=1e-7)
    assert bp.n_iter_ == num.n_iter_ == common["max_iter"]
    assert bp.loss_curve_[-1] < bp.loss_curve_[0]  # it trains


# -------------------------------------------------------- float32 and sparse ---


@pytest.mark.parametrize("solver", registered_solvers())
def test_float32_in_float32_out_for_every_solver(tiny, solver):
    X, y = tiny[0].astype(np.float32), tiny[1]
    common = dict(
        hidden_layer_sizes=(4,),
        solver=solver,
        batch_size=10,
        learning_rate_init=0.1,
        max_iter=4,
        random_state=0,
    )
    fits = {g: sgd_classifier(gradient=g, **common).fit(X, y) for g in GRADIENTS}
    for clf in fits.values():
        arrays = clf.coefs_ + clf.intercepts_
        assert {a.dtype for a in arrays} == {np.dtype(np.float32)}
        assert clf.predict_proba(X).dtype == np.float32
    # The numerical gradient (computed in float64) still tracks backprop.
    assert_allclose(
        flat_params(fits["numerical"]),
        flat_params(fits["backprop"]),
        rtol=1e-4,
        atol=1e-5,
    )
    reference = sgd_classifier(**common).fit(X.astype(np.float64), y)
    assert_allclose(
        flat_params(fits["backprop"]), flat_params(reference), rtol=1e-4, atol=1e-5
    )


def test_numerical_gradient_of_a_float32_network_is_computed_in_float64(tiny):
    X, y = tiny
    units = [3, 4, 3]
    p32 = glorot(np.random.RandomState(0), units).astype(np.float32)
    X32, T32 = X.astype(np.float32), one_hot(y).astype(np.float32)
    net32 = Network(units, p32.copy())
    loss32 = numerical_gradient(net32, X32, T32, h=1e-4)
    net64 = Network(units, p32.astype(np.float64))
    loss64 = numerical_gradient(net64, X32.astype(np.float64), T32.astype(np.float64))
    assert net32.grads.dtype == np.float32
    assert_array_equal(net32.grads, net64.grads.astype(np.float32))
    assert loss32 == loss64
    bp = gradient_at(p32.astype(np.float64), units, X32.astype(np.float64), one_hot(y))
    assert_allclose(net32.grads, bp, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("fmt", ["csr", "csc"])
@pytest.mark.parametrize("solver", registered_solvers())
def test_sparse_and_dense_give_the_same_model(blobs, fmt, solver):
    X, y = blobs
    X = np.where(np.random.RandomState(0).rand(*X.shape) < 0.5, 0.0, X)
    X_sparse = sp.csr_matrix(X) if fmt == "csr" else sp.csc_matrix(X)
    sample_weight = np.random.RandomState(1).uniform(0.5, 2.0, len(y))
    common = dict(
        hidden_layer_sizes=(5,),
        solver=solver,
        batch_size=32,
        momentum=0.9,
        alpha=0.1,
        max_iter=4,
        random_state=0,
    )
    dense = sgd_classifier(**common).fit(X, y, sample_weight=sample_weight)
    sparse = sgd_classifier(**common).fit(X_sparse, y, sample_weight=sample_weight)
    assert_allclose(flat_params(sparse), flat_params(dense), rtol=1e-9, atol=1e-11)
    assert_allclose(sparse.predict_proba(X_sparse), dense.predict_proba(X), atol=1e-12)


# ------------------------------------------------------------------ verbose ---

_EPOCH_LINE = re.compile(
    r"Iteration (\d+), loss = ([\d.]+)(?:, validation score = ([\d.]+))?, ([\d.]+) s$"
)


@pytest.mark.parametrize("early_stopping", [False, True])
def test_verbose_prints_one_line_per_epoch(blobs, capsys, early_stopping):
    X, y = blobs
    clf = sgd_classifier(
        (5,),
        verbose=1,
        max_iter=4,
        n_iter_no_change=np.inf,
        early_stopping=early_stopping,
        random_state=0,
    ).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    epochs = [_EPOCH_LINE.match(line) for line in lines]
    assert all(epochs), lines
    assert len(epochs) == clf.n_iter_ == 4
    for k, match in enumerate(epochs):
        assert int(match[1]) == k + 1
        assert float(match[2]) == pytest.approx(clf.loss_curve_[k], abs=1e-8)
        assert float(match[4]) >= 0
        if early_stopping:
            score = clf.validation_scores_[k]
            assert float(match[3]) == pytest.approx(score, abs=1e-6)
        else:
            assert match[3] is None


def test_verbose_numerical_announces_the_cost_of_a_step(tiny, capsys):
    X, y = tiny
    clf = sgd_classifier((4,), gradient="numerical", verbose=1, max_iter=2)
    clf.fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    n_params = 3 * 4 + 4 + 4 * 3 + 3
    assert re.search(rf"\b{2 * n_params} forward passes", lines[0]), lines[0]
    assert sum(bool(_EPOCH_LINE.match(line)) for line in lines) == 2


def test_verbose_lbfgs_prints_one_line_per_iteration(tiny, capsys):
    X, y = tiny
    clf = sgd_classifier((4,), solver="lbfgs", verbose=1, max_iter=5).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    iterations = [line for line in lines if line.startswith("Iteration ")]
    assert len(iterations) == clf.n_iter_ == 5
    assert all(re.search(r"loss = [\d.]+, [\d.]+ s$", line) for line in iterations)


# -------------------------------------------------------- bad parameter values ---

BAD_PARAMS = [
    (dict(activation="sigmoid"), "activation", "logistic"),
    (dict(solver="newton"), "solver", "lbfgs"),
    (dict(learning_rate="fast"), "learning_rate", "invscaling"),
    (dict(momentum=1.5), "momentum", r"\[0(\.0)?, 1(\.0)?\]"),
    (dict(beta_1=1), "beta_1", r"\[0(\.0)?, 1(\.0)?\)"),
    (dict(beta_2=1.0), "beta_2", r"\[0(\.0)?, 1(\.0)?\)"),
    (dict(epsilon=0), "epsilon", r"\(0(\.0)?, inf\)"),
    (dict(n_iter_no_change=0), "n_iter_no_change", r"\[1, inf\).*inf"),
    (dict(class_weight="auto"), "class_weight", "balanced"),
    (dict(max_fun=0), "max_fun", r"\[1, inf\)"),
    (dict(batch_size="big"), "batch_size", "auto"),
    (dict(power_t=-1.0), "power_t", r"\[0(\.0)?, inf\)"),
    (
        dict(early_stopping=True, validation_fraction=0.0),
        "validation_fraction",
        r"\(0, 1\)",
    ),
    (dict(class_weight={0: -1.0}), "class_weight", "non-negative"),
]


@pytest.mark.parametrize(
    "params, name, allowed", BAD_PARAMS, ids=[case[1] for case in BAD_PARAMS]
)
def test_bad_value_raises_naming_the_parameter_and_allowed_values(
    tiny, params, name, allowed
):
    with pytest.raises(ValueError) as error:
        sgd_classifier(**params).fit(*tiny)
    message = str(error.value)
    assert name in message
    assert re.search(allowed, message), message


# ------------------------------------------------- scikit-learn's own checks ---

# Only checks that MLPClassifier with the same option fails too (verified by
# running parametrize_with_checks on it), except the "balanced" entries: see
# _BALANCED_FAILURES.
_EARLY_STOPPING_FAILURES = {
    "check_fit_score_takes_y": "partial_fit rejects early_stopping=True, as "
    "MLPClassifier's does",
    "check_n_features_in_after_fitting": "partial_fit rejects early_stopping=True, "
    "as MLPClassifier's does",
    "check_estimators_partial_fit_n_features": "partial_fit rejects "
    "early_stopping=True, as MLPClassifier's does",
    "check_estimators_nan_inf": "10 rows hold out a validation set too small to "
    "score; MLPClassifier raises the same",
    "check_fit2d_1feature": "10 rows hold out a validation set too small to "
    "score; MLPClassifier raises the same",
    "check_sample_weight_equivalence_on_sparse_data": "weighted and repeated rows "
    "give different held-out splits; MLPClassifier fails it too",
    # parametrize_with_checks swaps in solver='lbfgs' for MLPClassifier on the
    # dense variant; run as configured, MLPClassifier fails it for this reason.
    "check_sample_weight_equivalence_on_dense_data": "weighted and repeated rows "
    "give different held-out splits; MLPClassifier fails it too",
}
# MLPClassifier has no class_weight. SGDClassifier(class_weight="balanced"),
# whose partial_fit rejection the issue follows, fails these two the same way.
_BALANCED_FAILURES = {
    "check_n_features_in_after_fitting": "partial_fit rejects "
    "class_weight='balanced' on a first call, as SGDClassifier's does",
    "check_estimators_partial_fit_n_features": "partial_fit rejects "
    "class_weight='balanced' on a first call, as SGDClassifier's does",
}


def _expected_failed_checks(estimator):
    if estimator.early_stopping:
        return _EARLY_STOPPING_FAILURES
    if estimator.class_weight == "balanced":
        return _BALANCED_FAILURES
    return {}


@parametrize_with_checks(
    [
        sgd_classifier(solver="adam", learning_rate_init=0.01, random_state=0),
        sgd_classifier(early_stopping=True, random_state=0),
        sgd_classifier(class_weight="balanced", random_state=0),
        sgd_classifier(solver="lbfgs", random_state=0),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_checks_with_training_options(estimator, check):
    check(estimator)


def test_batch_size_warning_comes_before_the_held_out_rows_errors_as_mlp():
    """The clipping warning precedes an all-zero-weight split's error, as in MLP.

    Found by tests/test_differential.py: MLPRegressor warns, then raises.
    """
    from sklearn.neural_network import MLPRegressor

    from skbp import BPRegressor

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 3)), rng.standard_normal(20)
    sample_weight = np.zeros(20)
    sample_weight[:2] = 1.0  # none of it in the held-out rows below
    params = dict(
        solver="sgd", batch_size=19, early_stopping=True, random_state=20, max_iter=1
    )
    for estimator in (MLPRegressor, BPRegressor):
        with pytest.warns(UserWarning, match="Got `batch_size`"):
            with pytest.raises(ValueError):
                estimator(**params).fit(X, y, sample_weight)
