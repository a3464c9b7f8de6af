"""The regression losses of gradient boosting: absolute error, quantile, gamma.

What the registry-parametrised tests (``test_output_layers.py``,
``test_regressor.py``, ``test_onnx.py``, ``test_gradients.py``) do not
cover: scikit-learn's metrics as oracles of the reported loss, the
``quantile`` parameter, gamma's targets, and the kinks.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_regression
from sklearn.metrics import (
    mean_absolute_error,
    mean_gamma_deviance,
    mean_pinball_loss,
)

from skbp import BPRegressor, gradient_check
from skbp.layers import AbsoluteErrorWithLoss, GammaWithLoss, QuantileWithLoss

X, Y3 = make_regression(80, 4, n_targets=3, noise=1.0, random_state=1)
Y3 = Y3 / np.abs(Y3).max()
SW = np.random.default_rng(1).uniform(0.2, 2.0, len(X))


def metric(loss, quantile, y, prediction, sample_weight):
    """scikit-learn's metric of ``loss``, summed over outputs."""
    y, prediction = y.reshape(len(y), -1), prediction.reshape(len(y), -1)
    if loss == "absolute_error":
        one = mean_absolute_error
    elif loss == "quantile":
        one = lambda *a, **k: mean_pinball_loss(*a, alpha=quantile, **k)  # noqa: E731
    else:
        one = lambda *a, **k: mean_gamma_deviance(*a, **k) / 2  # noqa: E731
    return sum(
        one(y[:, j], prediction[:, j], sample_weight=sample_weight)
        for j in range(y.shape[1])
    )


def fitted(loss, quantile, n_outputs, weighted, alpha):
    y = np.exp(Y3) if loss == "gamma" else Y3
    y = y[:, 0] if n_outputs == 1 else y
    reg = BPRegressor(
        (5,),
        loss=loss,
        quantile=quantile,
        solver="lbfgs",
        alpha=alpha,
        max_iter=30,
        random_state=0,
    )
    with _quiet():  # ConvergenceWarning
        reg.fit(X, y, sample_weight=SW if weighted else None)
    return reg, y


def _quiet():
    """Ignore warnings (the ConvergenceWarning of a short fit)."""
    return warnings.catch_warnings(action="ignore")


@pytest.mark.parametrize("alpha", [0.0, 0.3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n_outputs", [1, 3])
@pytest.mark.parametrize(
    "loss, quantile",
    [("absolute_error", 0.5), ("quantile", 0.1), ("quantile", 0.9), ("gamma", 0.5)],
)
def test_reported_loss_is_scikit_learns_metric(
    loss, quantile, n_outputs, weighted, alpha
):
    """``loss_`` (L-BFGS: the loss at the fitted parameters) is the metric,
    summed over outputs, plus ``0.5 * alpha * sum(W**2) / sum(w)``."""
    reg, y = fitted(loss, quantile, n_outputs, weighted, alpha)
    sw = SW if weighted else None
    data = metric(loss, quantile, y, reg.predict(X), sw)
    penalty = 0.5 * alpha * sum((W**2).sum() for W in reg.coefs_)
    penalty /= SW.sum() if weighted else len(X)
    assert abs(reg.loss_ - (data + penalty)) <= 1e-12


@pytest.mark.parametrize("loss", ["absolute_error", "quantile", "gamma"])
@pytest.mark.parametrize("quantile", [0.05, 0.5, 0.95])
def test_gradient_check_away_from_the_kinks(loss, quantile):
    """At parameters where every residual is at least 0.05 from the kink."""
    reg = BPRegressor(
        (4,), loss=loss, quantile=quantile, alpha=0.1, max_iter=1, random_state=0
    )
    y = np.exp(Y3) if loss == "gamma" else Y3
    with _quiet():
        prediction = reg.fit(X, y).predict(X)
    if loss != "gamma":  # move each target at least 0.05 from the prediction
        y = prediction + np.where(Y3 >= 0, 1.0, -1.0) * np.maximum(np.abs(Y3), 0.05)
    assert max(gradient_check(reg, X, y).values()) <= 1e-6


@settings(deadline=None)
@given(
    quantile=st.floats(0.01, 0.99),
    residual=st.floats(-1e-5, 1e-5) | st.just(0.0),
)
def test_central_difference_at_a_kink_averages_the_slopes(quantile, residual):
    """Within the step ``h`` of a kink, the central difference is the average
    of the one-sided slopes weighted by where the kink falls; at the kink
    itself, their plain average, which ``backward`` returns there."""
    h = 1e-4
    t = np.array([[0.3]])
    for layer in (AbsoluteErrorWithLoss(), QuantileWithLoss(quantile)):
        x = t + residual

        def loss_at(z, layer=layer):
            return layer.forward(z, t)

        central = (loss_at(x + h) - loss_at(x - h)) / (2 * h)
        q = getattr(layer, "quantile", 0.5)
        scale = 1.0 if isinstance(layer, QuantileWithLoss) else 2.0
        # slope (1 - q) beyond the kink, -q before it; the kink at t.
        above = (h + residual) / (2 * h)
        expected = scale * ((1 - q) * above - q * (1 - above))
        assert central == pytest.approx(expected, abs=1e-9)
        if residual == 0.0:
            layer.forward(x, t)
            assert layer.backward()[0, 0] == pytest.approx(central, abs=1e-9)


@pytest.mark.parametrize("quantile", [0.0, 1.0, -0.5, 2.0, "0.5", None])
def test_quantile_outside_the_open_interval_is_refused(quantile):
    with pytest.raises(ValueError, match="'quantile' parameter"):
        BPRegressor(loss="quantile", quantile=quantile).fit(X, Y3[:, 0])


def test_other_losses_ignore_quantile():
    fits = [
        BPRegressor((3,), quantile=q, max_iter=5, random_state=0).fit(X, Y3)
        for q in (0.1, 0.9)
    ]
    np.testing.assert_array_equal(fits[0].predict(X), fits[1].predict(X))


def test_quantile_fits_order_their_predictions():
    """A 0.1 and a 0.9 model bracket most training targets."""
    y = Y3[:, 0] + np.random.default_rng(0).normal(scale=0.3, size=len(X))
    low, high = (
        BPRegressor(
            (8,), loss="quantile", quantile=q, solver="lbfgs", random_state=0
        ).fit(X, y)
        for q in (0.1, 0.9)
    )
    inside = np.mean((low.predict(X) <= y) & (y <= high.predict(X)))
    assert 0.7 <= inside <= 0.95
    assert np.mean(low.predict(X) < high.predict(X)) > 0.9


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_gamma_refuses_targets_that_are_not_positive(bad):
    y = np.exp(Y3[:, 0])
    y[3] = bad
    with pytest.raises(ValueError, match="strictly positive targets"):
        BPRegressor(loss="gamma").fit(X, y)


def test_gamma_layer_is_half_the_deviance_from_the_raw_output():
    rng = np.random.default_rng(3)
    x, t = rng.normal(size=(9, 2)), rng.uniform(0.1, 3.0, (9, 2))
    expected = sum(mean_gamma_deviance(t[:, j], np.exp(x[:, j])) / 2 for j in range(2))
    assert GammaWithLoss().forward(x, t) == pytest.approx(expected, rel=1e-13)


@pytest.mark.parametrize("loss", ["absolute_error", "quantile", "gamma"])
def test_early_stopping_on_the_loss_scores_with_that_loss(loss):
    y = np.exp(Y3[:, 0]) if loss == "gamma" else Y3[:, 0]
    reg = BPRegressor(
        (5,),
        loss=loss,
        quantile=0.8,
        early_stopping=True,
        scoring="loss",
        alpha=0.0,
        max_iter=3,
        random_state=0,
    )
    with _quiet():
        reg.fit(X, y)
    assert len(reg.validation_scores_) == reg.n_iter_
    assert reg.best_validation_score_ == min(reg.validation_scores_)


@pytest.mark.parametrize("method", ["warm_start", "partial_fit"])
def test_continuing_needs_the_same_quantile(method):
    reg = BPRegressor((3,), loss="quantile", quantile=0.2, max_iter=2, random_state=0)
    with _quiet():
        reg.fit(X, Y3) if method == "warm_start" else reg.partial_fit(X, Y3)
        reg.set_params(quantile=0.7, warm_start=True)
        with pytest.raises(ValueError, match=r"quantile=0.7 differs .* \(0.2\)"):
            reg.fit(X, Y3) if method == "warm_start" else reg.partial_fit(X, Y3)
        reg.set_params(quantile=0.2)
        reg.fit(X, Y3) if method == "warm_start" else reg.partial_fit(X, Y3)


@pytest.mark.parametrize("loss", ["absolute_error", "quantile", "gamma"])
def test_skops_round_trip_keeps_the_loss_and_its_quantile(tmp_path, loss):
    sio = pytest.importorskip("skops.io", reason="needs the 'skops' extra")
    y = np.exp(Y3) if loss == "gamma" else Y3
    reg = BPRegressor((4,), loss=loss, quantile=0.8, max_iter=3, random_state=0)
    with _quiet():
        reg.fit(X, y)
    path = tmp_path / "reg.skops"
    sio.dump(reg, path)
    loaded = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
    with _quiet():  # continuing trains the same loss, at the same quantile
        for model in (reg, loaded):
            model.partial_fit(X, y)
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
    assert loaded.loss_curve_ == reg.loss_curve_
