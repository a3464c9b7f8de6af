"""Output layers' stacked loss: equal, copy by copy, to the loss ``forward`` returns.

The numerical gradient asks ``Network.loss_layer.stacked_loss`` for the loss of
thousands of perturbed copies at once; the oracle is the same layer's
``forward`` run on each copy alone (for every registered output layer).
"""

import numpy as np
import pytest
from _helpers import numerical_grad, output_targets

from skbp.network import OUTPUTS, Network, Output


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_stacked_loss_equals_forward_loss_per_copy(name, weighted):
    rng = np.random.default_rng(0)
    n_samples, n_copies, n_out = 9, 7, 4
    z = rng.normal(scale=3.0, size=(n_samples, n_copies, n_out))
    z[:, 0] *= 100  # one copy with widely spread logits
    T = output_targets(name, rng, n_samples, n_out)
    sw = rng.uniform(0.1, 2.0, n_samples) if weighted else None
    layer_class = OUTPUTS[name].layer
    expected = [layer_class().forward(z[:, p].copy(), T, sw) for p in range(n_copies)]
    layer = layer_class()
    losses = layer.stacked_loss(z.copy(), T, sw)
    assert losses.shape == (n_copies,)
    np.testing.assert_allclose(losses, expected, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_network_builds_its_output_layer_by_name(name):
    network = Network([3, 2, 4], output=name)
    assert network.output == name
    assert isinstance(network.loss_layer, OUTPUTS[name].layer)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_backward_is_the_gradient_of_forward(name, weighted):
    """Each output layer's backward against central differences of its forward."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 3))
    T = output_targets(name, rng, 6, 3)
    sw = rng.uniform(0.1, 2.0, 6) if weighted else None
    layer = OUTPUTS[name].layer()
    layer.forward(x.copy(), T, sw)
    dx = layer.backward(0.7)
    expected = numerical_grad(
        lambda: 0.7 * OUTPUTS[name].layer().forward(x.copy(), T, sw), x
    )
    np.testing.assert_allclose(dx, expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", sorted(OUTPUTS))
def test_prediction_link_is_the_forward_output_and_clear_drops_the_cache(name):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 3))
    layer = OUTPUTS[name].layer()
    layer.forward(x.copy(), output_targets(name, rng, 5, 3))
    np.testing.assert_allclose(layer.y, layer(x), rtol=1e-14)
    layer.clear()
    assert all(getattr(layer, attr) is None for attr in layer.cached)


class _DoubledSoftmax(OUTPUTS["softmax"].layer):
    """Twice the softmax loss: a new output layer numerical_gradient has never seen."""

    def forward(self, x, t, sample_weight=None, out=None):
        return 2 * super().forward(x, t, sample_weight, out)

    def backward(self, dout=1.0, out=None):
        return super().backward(2 * dout, out)

    def stacked_loss(self, z, T, sample_weight=None):
        return 2 * super().stacked_loss(z, T, sample_weight)


def test_both_gradients_use_the_networks_output_layer(monkeypatch):
    from skbp.gradients import backprop_gradient, numerical_gradient

    monkeypatch.setitem(
        OUTPUTS, "doubled", Output(_DoubledSoftmax, "classifier", "softmax", None, "")
    )
    rng = np.random.default_rng(1)
    X = rng.normal(size=(8, 3))
    T = np.eye(3)[rng.integers(0, 3, 8)]
    params = rng.normal(scale=0.5, size=Network([3, 4, 3]).params.size)
    grads = {}
    for name in ("softmax", "doubled"):
        network = Network([3, 4, 3], params.copy(), output=name)
        loss_bp = backprop_gradient(network, X, T, alpha=0.1)
        g_bp = network.grads.copy()
        loss_num = numerical_gradient(network, X, T, alpha=0.1)
        assert loss_num == pytest.approx(loss_bp, rel=1e-13)
        np.testing.assert_allclose(network.grads, g_bp, rtol=1e-6, atol=1e-9)
        grads[name] = network.grads.copy()
    l2 = (
        0.1
        / 8
        * np.concatenate(
            [params[:12], 0 * params[12:16], params[16:28], 0 * params[28:]]
        )
    )
    np.testing.assert_allclose(
        grads["doubled"] - l2, 2 * (grads["softmax"] - l2), rtol=1e-6, atol=1e-9
    )
