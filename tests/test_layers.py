"""Each layer's backward against central differences of its forward."""

import numpy as np
import pytest
from _helpers import mlp_loss_name, numerical_grad, output_targets

from skbp.layers import Affine, Sigmoid, SoftmaxWithLoss
from skbp.network import OUTPUTS


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_affine_bias_gradient_sums_over_batch():
    layer = Affine(np.zeros((2, 3)), np.zeros(3))
    layer.forward(np.ones((2, 2)))
    layer.backward(np.array([[1.0, 2, 3], [100, 200, 300]]))
    np.testing.assert_array_equal(layer.db, [101, 202, 303])


def test_affine_backward_matches_finite_differences(rng):
    x, W, b = rng.normal(size=(4, 3)), rng.normal(size=(3, 5)), rng.normal(size=5)
    dout = rng.normal(size=(4, 5))
    layer = Affine(W, b)

    def f():
        return np.sum(layer.forward(x) * dout)

    layer.forward(x)
    dx = layer.backward(dout)
    np.testing.assert_allclose(dx, numerical_grad(f, x), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(layer.dW, numerical_grad(f, W), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(layer.db, numerical_grad(f, b), rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(layer.forward(x), x @ W + b)


def test_affine_writes_gradients_into_given_arrays(rng):
    flat = np.zeros(3 * 2 + 2)
    dW, db = flat[:6].reshape(3, 2), flat[6:]
    layer = Affine(rng.normal(size=(3, 2)), np.zeros(2), dW, db)
    x = rng.normal(size=(4, 3))
    layer.forward(x)
    layer.backward(np.ones((4, 2)))
    np.testing.assert_allclose(flat[:6].reshape(3, 2), x.T @ np.ones((4, 2)))
    np.testing.assert_allclose(flat[6:], [4, 4])


def test_sigmoid_backward_matches_finite_differences(rng):
    x = rng.normal(size=(3, 4)) * 3
    dout = rng.normal(size=(3, 4))
    layer = Sigmoid()

    def f():
        return np.sum(layer.forward(x) * dout)

    layer.forward(x)
    dx = layer.backward(dout)
    np.testing.assert_allclose(dx, numerical_grad(f, x), rtol=1e-7, atol=1e-10)


def test_softmax_with_loss_matches_definition_and_finite_differences(rng):
    x = rng.normal(size=(5, 4)) * 2
    t = np.eye(4)[rng.integers(0, 4, size=5)]
    layer = SoftmaxWithLoss()
    loss = layer.forward(x, t)
    p = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.sum(t * np.log(p), axis=1)), rel=1e-12)
    np.testing.assert_allclose(layer.y, p, rtol=1e-12)
    dx = layer.backward()
    np.testing.assert_allclose(dx, (p - t) / 5, rtol=1e-12)
    num = numerical_grad(lambda: SoftmaxWithLoss().forward(x, t), x)
    np.testing.assert_allclose(dx, num, rtol=1e-6, atol=1e-10)


def test_softmax_with_loss_sample_weight(rng):
    x = rng.normal(size=(3, 2))
    t = np.eye(2)[[0, 1, 1]]
    w = np.array([1.0, 2.0, 0.0])
    layer = SoftmaxWithLoss()
    weighted = layer.forward(x, t, w)
    dx = layer.backward()
    # Weight 2 equals a duplicated row; weight 0 equals a dropped row.
    x_dup, t_dup = x[[0, 1, 1]], t[[0, 1, 1]]
    assert weighted == pytest.approx(SoftmaxWithLoss().forward(x_dup, t_dup))
    num = numerical_grad(lambda: SoftmaxWithLoss().forward(x, t, w), x)
    np.testing.assert_allclose(dx, num, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("scale", [1e2, 1e10, 1e300, 1.7e308])
def test_layers_stay_finite_and_silent_on_huge_finite_input(scale):
    # pytest turns RuntimeWarning (overflow) into errors for the whole suite.
    x = np.array([[scale, -scale, 0.0], [-scale, -scale, scale]])
    t = np.eye(3)[[0, 2]]
    s = Sigmoid()
    assert np.all(np.isfinite(s.forward(x)))
    assert np.all(np.isfinite(s.backward(np.ones_like(x))))
    layer = SoftmaxWithLoss()
    loss = layer.forward(x, t)
    assert np.isfinite(loss) and loss == pytest.approx(0.0)
    assert np.all(np.isfinite(layer.backward()))
    np.testing.assert_allclose(layer.y.sum(axis=1), 1.0)
    wrong = SoftmaxWithLoss().forward(x, t[::-1])
    assert wrong > 0 and not np.isnan(wrong)


def test_layers_never_write_into_inputs_and_call_keeps_cache(rng):
    x = rng.normal(size=(3, 2))
    dout = rng.normal(size=(3, 2))
    x0, dout0 = x.copy(), dout.copy()
    for layer in (Affine(rng.normal(size=(2, 2)), np.zeros(2)), Sigmoid()):
        layer.forward(x)
        cached = dict(vars(layer))
        layer(x + 1.0)  # the pure call must not touch the cache
        assert all(vars(layer)[k] is v for k, v in cached.items())
        layer.backward(dout)
    t = np.eye(2)[[0, 1, 0]]
    sm = SoftmaxWithLoss()
    sm.forward(x, t)
    sm.backward(2.0)
    np.testing.assert_array_equal(x, x0)
    np.testing.assert_array_equal(dout, dout0)
    np.testing.assert_array_equal(t, np.eye(2)[[0, 1, 0]])


@pytest.mark.parametrize("sample_weight", [None, np.array([1.0, 3.0, 0.5, 2.0, 0.0])])
@pytest.mark.parametrize("span", [1.0, 5e3])  # one shift per batch / per row
def test_softmax_with_loss_class_indices_match_one_hot(rng, sample_weight, span):
    x = rng.normal(size=(5, 4)) * span
    t = rng.integers(0, 4, size=5)
    one_hot = SoftmaxWithLoss()
    loss = one_hot.forward(x, np.eye(4)[t], sample_weight)
    dx = one_hot.backward(2.0)
    indices = SoftmaxWithLoss()
    out = np.full_like(x, np.nan)
    grad_out = np.full_like(x, np.nan)
    assert indices.forward(x, t, sample_weight, out=out) == pytest.approx(
        loss, rel=1e-13
    )
    assert indices.y is out
    np.testing.assert_allclose(indices.y, one_hot.y, rtol=1e-13)
    assert indices.backward(2.0, out=grad_out) is grad_out
    np.testing.assert_allclose(grad_out, dx, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(indices.y, one_hot.y, rtol=1e-13)  # y kept


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("offset", [0.0, 8.0, 1e3])  # offset 1e3: a shift per row
def test_softmax_with_loss_shift_keeps_full_precision(rng, dtype, offset):
    # Rows apart by `offset`: whether the batch is shifted by one max (small
    # span) or each row by its own, the probabilities and the loss agree with
    # a row-wise log-sum-exp in float64 to
    # within span * eps.
    x = (rng.normal(size=(6, 5)) + np.arange(6)[:, None] * offset).astype(dtype)
    t = rng.integers(0, 5, size=6)
    layer = SoftmaxWithLoss()
    loss = layer.forward(x, t)
    assert layer.y.dtype == dtype
    x64 = x.astype(np.float64)
    shifted = x64 - x64.max(axis=1, keepdims=True)
    log_y = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    eps = np.finfo(dtype).eps
    span = min(np.ptp(x64), {np.float64: 64, np.float32: 16}[dtype])
    rtol = float(4 * (span + 1) * eps)
    np.testing.assert_allclose(layer.y, np.exp(log_y), rtol=rtol)
    assert loss == pytest.approx(-log_y[np.arange(6), t].mean(), rel=rtol, abs=rtol)


@pytest.mark.parametrize("name", ["Sigmoid", "Tanh", "ReLU", "Identity"])
def test_activation_out_arrays_give_the_allocating_results(rng, name):
    import skbp.layers

    x, dout = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    plain, buffered = getattr(skbp.layers, name)(), getattr(skbp.layers, name)()
    y, dx = plain.forward(x), plain.backward(dout)
    out, grad_out = np.empty_like(x), np.empty_like(x)
    x_copy, dout_copy = x.copy(), dout.copy()
    assert buffered.forward(x, out) is out
    assert buffered.backward(dout, grad_out) is grad_out
    np.testing.assert_array_equal(out, y)
    np.testing.assert_array_equal(grad_out, dx)
    np.testing.assert_array_equal(x, x_copy)  # inputs untouched
    np.testing.assert_array_equal(dout, dout_copy)


@pytest.mark.parametrize("shape", [(3, 4), (300, 10), (300, 40), (2, 5, 4)])
def test_softmax_and_log_softmax_match_scipy_row_by_row(rng, shape):
    # Many short rows take the column-by-column max and the matrix-vector sum.
    from scipy.special import log_softmax as scipy_log_softmax
    from scipy.special import softmax as scipy_softmax

    from skbp.layers.outputs import log_softmax, softmax

    x = rng.normal(size=shape) * 30
    x.flat[::7] += 500  # rows of very different scales
    np.testing.assert_allclose(softmax(x), scipy_softmax(x, axis=-1), rtol=1e-13)
    np.testing.assert_allclose(
        log_softmax(x), scipy_log_softmax(x, axis=-1), rtol=1e-13, atol=1e-13
    )
    # A row's probabilities do not depend on the other rows; NaN stays in its row.
    rows = x.reshape(-1, x.shape[-1])
    np.testing.assert_array_equal(softmax(rows[:1]), softmax(rows)[:1])
    scratch = rows.copy()
    assert softmax(scratch, out=scratch) is scratch
    rows[1, 0] = np.nan
    assert np.isnan(softmax(rows)[1]).all() and np.isfinite(softmax(rows)[0]).all()


@pytest.mark.parametrize("output", sorted(OUTPUTS))
@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize("alpha", [0.0, 0.7])
@pytest.mark.parametrize("weighted", [False, True])
def test_reported_loss_is_scikit_learns_and_the_objective_is_differentiated(
    rng, output, n_outputs, alpha, weighted
):
    """Network.reported_loss turns the objective (what forward returns and the
    gradients differentiate) into the loss scikit-learn's MLPs report:
    LOSS_FUNCTIONS plus 0.5 * alpha * sum(W**2) / sum(w)."""
    from sklearn.neural_network._base import LOSS_FUNCTIONS

    from skbp.gradients import backprop_gradient
    from skbp.network import Network

    mlp_loss = mlp_loss_name(output)
    if mlp_loss is None:
        pytest.skip(f"MLP has no {output!r} loss")
    if OUTPUTS[output].layer is SoftmaxWithLoss and n_outputs == 1:
        pytest.skip("a softmax needs two classes or more")
    units = [4, 5, n_outputs]
    params = rng.normal(size=4 * 5 + 5 + 5 * n_outputs + n_outputs)
    network = Network(units, params, "tanh", output)
    X = rng.normal(size=(9, 4))
    T = output_targets(output, rng, 9, n_outputs)
    sw = rng.uniform(0.5, 2.0, 9) if weighted else None
    objective = network.forward(X, T, sw, alpha)
    reported = network.reported_loss(objective, 9, sw, alpha)
    prediction = network.loss_layer(network.logits(X))
    l2 = 0.5 * alpha * sum((W**2).sum() for W in network.coefs)
    l2 /= 9 if sw is None else sw.sum()
    expected = LOSS_FUNCTIONS[mlp_loss](T, prediction, sw) + l2
    np.testing.assert_allclose(reported, expected, rtol=1e-12)
    # The objective's data term is the reported one times the divisor.
    divisor = n_outputs if network.loss_layer.reports_mean_over_outputs else 1
    np.testing.assert_allclose(objective - l2, (reported - l2) * divisor, rtol=1e-12)
    # ... and backprop differentiates the objective.
    backprop_gradient(network, X, T, sw, alpha=alpha)
    copy = Network(units, params.copy(), "tanh", output)
    expected_grads = numerical_grad(lambda: copy.forward(X, T, sw, alpha), copy.params)
    np.testing.assert_allclose(network.grads, expected_grads, rtol=1e-6, atol=1e-9)
