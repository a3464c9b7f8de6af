"""skbp against the book-style reference loop (``reference_loop.py``), an oracle.

The reference loop shares no code with skbp: per-element ``nditer`` central
differences, layers that cache ``self.x``/``self.out``, a ``params`` dict. From
the same Glorot-uniform start and on the same batches, skbp's numerical
gradient must equal the loop's to 1e-9, and skbp's backprop training must end
at the loop's parameters.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference_loop import TwoLayerNet, init_params, one_hot, params_to_flat, train
from sklearn.datasets import load_digits

from skbp import BPClassifier

LEARNING_RATE = 0.1


@pytest.fixture(scope="module")
def digits_rows():
    """Digits as loaded (pixels 0-16), float64, with their labels."""
    return load_digits(return_X_y=True)


def plain_sgd_classifier(gradient, hidden, batch_size, epochs, seed):
    """``BPClassifier`` training as the reference loop does, on unshuffled batches."""
    return BPClassifier(
        (hidden,),
        "logistic",
        solver="sgd",
        gradient=gradient,
        learning_rate_init=LEARNING_RATE,
        batch_size=batch_size,
        max_iter=epochs,
        shuffle=False,
        alpha=0.0,
        momentum=0.0,
        nesterovs_momentum=False,
        tol=0.0,
        n_iter_no_change=np.inf,
        random_state=seed,
    )


def reference_net(n_features, hidden, seed):
    """The loop's network at skbp's Glorot start for ``random_state=seed``."""
    params = init_params(n_features, hidden, 10, np.random.RandomState(seed), "glorot")
    return TwoLayerNet(n_features, hidden, 10, params=params, eps=0.0)


def fitted_params(clf):
    """A fitted two-layer classifier's parameters as the loop's flat array."""
    (W1, W2), (b1, b2) = clf.coefs_, clf.intercepts_
    return params_to_flat({"W1": W1, "b1": b1, "W2": W2, "b2": b2})


@given(
    seed=st.integers(0, 2**31 - 1),
    hidden=st.integers(1, 4),
    n_rows=st.integers(20, 60),
)
def test_numerical_gradient_equals_per_element_loop(digits_rows, seed, hidden, n_rows):
    # One full-batch numerical step from the shared start: its update divided
    # by the learning rate is skbp's numerical gradient.
    X, y = digits_rows[0][:n_rows], digits_rows[1][:n_rows]
    clf = plain_sgd_classifier("numerical", hidden, n_rows, 1, seed).fit(X, y)
    net = reference_net(X.shape[1], hidden, seed)
    start = params_to_flat(net.params)
    g_skbp = (start - fitted_params(clf)) / LEARNING_RATE
    g_loop = params_to_flat(net.numerical_gradient(X, one_hot(y, 10)))
    np.testing.assert_allclose(g_skbp, g_loop, rtol=0, atol=1e-9)


@given(
    seed=st.integers(0, 2**31 - 1),
    hidden=st.integers(1, 20),
    batch_size=st.integers(10, 50),
    epochs=st.integers(1, 3),
)
def test_backprop_training_equals_reference_loop(
    digits_rows, seed, hidden, batch_size, epochs
):
    # Same start, same batches (in order, the last one partial): same end. With
    # batches under about 10 raw digits, SGD at 0.1 amplifies rounding
    # differences (1e-14 after 40 single-row steps, 0.6 after 600): chaos, not
    # a different gradient.
    X, y = digits_rows[0][:200], digits_rows[1][:200]
    clf = plain_sgd_classifier("backprop", hidden, batch_size, epochs, seed).fit(X, y)
    net = reference_net(X.shape[1], hidden, seed)
    batches = [
        np.arange(start, min(start + batch_size, len(X)))
        for _ in range(epochs)
        for start in range(0, len(X), batch_size)
    ]
    train(net, X, one_hot(y, 10), batches, LEARNING_RATE)
    np.testing.assert_allclose(
        fitted_params(clf), params_to_flat(net.params), rtol=0, atol=1e-10
    )


def test_book_loss_constant_changes_the_gradient(digits_rows):
    # The book's log(y + 1e-7) is a different loss: its gradient is about
    # 1e-8 away, which is why the oracle uses the exact cross-entropy (eps=0).
    X, T = digits_rows[0][:30], one_hot(digits_rows[1][:30], 10)
    exact = reference_net(64, 3, 0)
    book = TwoLayerNet(64, 3, 10, params=dict(exact.params))
    diff = np.abs(
        params_to_flat(exact.numerical_gradient(X, T))
        - params_to_flat(book.numerical_gradient(X, T))
    ).max()
    assert 1e-10 < diff < 1e-6
