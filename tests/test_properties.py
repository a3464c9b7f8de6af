"""Property-based tests: any valid input fits and predicts sanely.

Run longer with ``pytest tests/test_properties.py --hypothesis-profile=long``.
"""

import warnings

import numpy as np
from _helpers import registered_activations, registered_solvers, sgd_classifier
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from skbp import BPClassifier, gradient_check
from skbp.gradients import backprop_gradient, numerical_gradient

LABEL_SETS = st.sampled_from(
    [
        np.array([0, 1]),
        np.array([-3, 7, 100]),
        np.array(["cat", "dog"]),
        np.array(["a", "b", "c", "d"]),
        np.array([1.0, 2.0, 3.0]),
        np.array([True, False]),
    ]
)


@st.composite
def problems(draw):
    """A small labelled data set with 2+ classes, any dtype, optional weights."""
    labels = draw(LABEL_SETS)
    n_features = draw(st.integers(1, 5))
    n_samples = draw(st.integers(len(labels), 30))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    elements = st.floats(-1e3, 1e3, allow_nan=False, width=32)
    X = draw(arrays(dtype, (n_samples, n_features), elements=elements))
    # Every class appears at least once, then any (possibly unbalanced) mix.
    rest = draw(
        st.lists(
            st.integers(0, len(labels) - 1),
            min_size=n_samples - len(labels),
            max_size=n_samples - len(labels),
        )
    )
    y = labels[np.concatenate([np.arange(len(labels)), rest]).astype(int)]
    weights = draw(
        st.none()
        | arrays(np.float64, n_samples, elements=st.floats(0.1, 10, allow_nan=False))
    )
    return X, y, weights


ESTIMATORS = st.builds(
    BPClassifier,
    hidden_layer_sizes=st.lists(st.integers(1, 6), min_size=1, max_size=3).map(tuple),
    activation=st.sampled_from(registered_activations()),
    solver=st.sampled_from(registered_solvers()),
    gradient=st.sampled_from(["backprop", "numerical"]),
    alpha=st.sampled_from([0.0, 1e-3, 0.5]),
    batch_size=st.integers(1, 40),
    learning_rate_init=st.sampled_from([1e-3, 0.01, 0.1]),
    momentum=st.sampled_from([0.0, 0.9]),
    max_iter=st.integers(1, 4),
    class_weight=st.sampled_from([None, "balanced"]),
    random_state=st.integers(0, 2**31 - 1),
)


@given(problem=problems(), clf=ESTIMATORS)
def test_fit_predict_never_crash_on_valid_input(problem, clf):
    X, y, weights = problem
    X_before, y_before = X.copy(), y.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # convergence
        try:
            clf.fit(X, y, sample_weight=weights)
        except ValueError as exc:
            # The one legitimate failure on valid input: a diverging fit.
            assert "diverged" in str(exc)
            return
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), len(np.unique(y)))
    assert proba.dtype == X.dtype
    assert np.all(np.isfinite(proba))
    np.testing.assert_allclose(
        proba.sum(axis=1), 1, rtol=1e-4 if X.dtype == np.float32 else 1e-10
    )
    np.testing.assert_array_equal(
        clf.predict(X), clf.classes_[np.argmax(proba, axis=1)]
    )
    assert set(clf.predict(X)) <= set(y)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)


BAD_VALUES = st.sampled_from(
    [
        ("X", np.nan),
        ("X", np.inf),
        ("X", -np.inf),
        ("X", "text"),
        ("X", 1 + 2j),
        ("y", np.nan),
        ("shape", "3d"),
        ("shape", "short_y"),
        ("shape", "empty"),
        ("weights", -1.0),
        ("weights", "short"),
    ]
)


@given(problem=problems(), bad=BAD_VALUES, where=st.integers(0, 10_000))
def test_invalid_input_only_raises_value_or_type_error(problem, bad, where):
    X, y, _ = problem
    X = (
        X.astype(object)
        if bad == ("X", "text")
        else X.astype(np.complex128)
        if (bad == ("X", 1 + 2j))
        else X.astype(np.float64)
    )
    y = y.astype(object) if bad[0] == "y" else y
    weights = None
    kind, value = bad
    if kind == "X":
        X.flat[where % X.size] = value
    elif kind == "y":
        y[where % len(y)] = value
    elif value == "3d":
        X = X[:, :, None]
    elif value == "short_y":
        y = y[:-1]
    elif value == "empty":
        X, y = X[:0], y[:0]
    elif value == "short":
        weights = np.ones(len(y) - 1)
    else:
        weights = np.ones(len(y))
        weights[where % len(y)] = value
    clf = sgd_classifier((2,), max_iter=1)
    try:
        clf.fit(X, y, sample_weight=weights)
    except (ValueError, TypeError):
        assert not hasattr(clf, "coefs_")
    else:
        raise AssertionError(f"fit accepted {bad}")


@given(
    problem=problems(),
    hidden=st.lists(st.integers(1, 5), min_size=1, max_size=2).map(tuple),
    activation=st.sampled_from(registered_activations(smooth=True)),
    alpha=st.sampled_from([0.0, 0.1]),
    random_state=st.integers(0, 1000),
)
def test_backprop_agrees_with_numerical_gradient(
    problem, hidden, activation, alpha, random_state
):
    X, y, _ = problem
    X = X / 1e3  # keep the truncation error of the central difference small
    clf = sgd_classifier(
        hidden, activation=activation, alpha=alpha, random_state=random_state
    )
    errors = gradient_check(clf, X, y)
    assert list(errors) == [f"{p}{k}" for k in range(1, len(hidden) + 2) for p in "Wb"]
    network, X64, T, _ = clf._gradient_problem(X, y)
    backprop_gradient(network, X64, T, alpha=alpha)
    g_bp = network.grads.copy()
    numerical_gradient(network, X64, T, alpha=alpha)
    # Absolute agreement everywhere: the central difference's rounding floor
    # is about eps * loss / h ~ 1e-11 per component.
    np.testing.assert_allclose(network.grads, g_bp, rtol=1e-5, atol=1e-8)
    # Relative agreement wherever a gradient is not itself near that floor.
    for name, sl, _ in network.param_slices():
        if np.linalg.norm(g_bp[sl]) > 1e-4:
            assert errors[name] < 1e-5, (name, errors[name])
