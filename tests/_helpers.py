"""Helpers shared by several test modules."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def run_script(path, *args, timeout=120):
    """Run ``python path args`` from the repository root; return its stdout.

    Overflow warnings are errors and matplotlib draws off screen; a non-zero
    exit fails the calling test with the script's output.
    """
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", str(path), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"{path} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def numerical_grad(f, x, h=1e-6):
    """Central-difference gradient of the scalar ``f()`` with respect to ``x``.

    ``x`` is perturbed in place, one element at a time, and restored.
    """
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        orig = x[idx]
        x[idx] = orig + h
        plus = f()
        x[idx] = orig - h
        minus = f()
        x[idx] = orig
        grad[idx] = (plus - minus) / (2 * h)
    return grad


# The reference experiment's optimiser: plain SGD at 0.1 on batches of 100, no
# momentum, no L2 (BPClassifier's defaults before they became MLPClassifier's).
PLAIN_SGD = dict(
    solver="sgd",
    learning_rate_init=0.1,
    batch_size=100,
    momentum=0.0,
    nesterovs_momentum=False,
    alpha=0.0,
)


def sgd_classifier(hidden_layer_sizes=(50,), activation="logistic", **params):
    """``BPClassifier`` with ``PLAIN_SGD`` (and 50 hidden units), then ``params``."""
    from skbp import BPClassifier

    return BPClassifier(hidden_layer_sizes, activation, **{**PLAIN_SGD, **params})


def registered_activations(*, mlp=False, smooth=False):
    """Names in ``skbp.network.ACTIVATIONS``: those MLP has too, or the smooth ones.

    ``mlp=True`` keeps those ``MLPClassifier`` has (for tests that use it as
    the oracle); ``smooth=True`` leaves out those with a kink (relu), where a
    central difference straddling it is not the derivative.
    """
    from sklearn.neural_network._base import ACTIVATIONS as MLP_ACTIVATIONS

    from skbp.network import ACTIVATIONS

    names = list(ACTIVATIONS)
    if mlp:
        names = [name for name in names if name in MLP_ACTIVATIONS]
    if smooth:
        names = [name for name in names if name != "relu"]
    return names


def registered_solvers(*, mlp=False, stochastic=False):
    """Names in ``skbp.optimizers.SOLVERS``.

    ``mlp=True`` keeps those MLP has too (for tests that use it as the
    oracle); ``stochastic=True`` those that train on mini-batches.
    """
    from skbp.optimizers import SOLVERS

    mlp_solvers = ("sgd", "adam", "lbfgs")  # MLPClassifier's `solver` options
    return [
        name
        for name, solver in SOLVERS.items()
        if (not mlp or name in mlp_solvers) and not (stochastic and solver.full_batch)
    ]


def output_targets(name, rng, n_samples, n_outputs):
    """Float targets the output layer ``OUTPUTS[name]`` trains on.

    One-hot rows for the softmax, 0/1 labels for the other classifier
    outputs, positive values (which every regression loss accepts: the
    gamma loss needs ``y > 0``) for the regressor's.
    """
    from skbp.layers import SoftmaxWithLoss
    from skbp.network import OUTPUTS

    entry = OUTPUTS[name]
    if entry.layer is SoftmaxWithLoss or issubclass(entry.layer, SoftmaxWithLoss):
        return np.eye(n_outputs)[rng.integers(0, n_outputs, n_samples)]
    if entry.estimator == "classifier":
        return rng.integers(0, 2, (n_samples, n_outputs)).astype(np.float64)
    return rng.uniform(0.1, 2.0, (n_samples, n_outputs))


def mlp_loss_name(name):
    """The name in MLP's ``LOSS_FUNCTIONS`` of ``OUTPUTS[name]``'s loss, or None."""
    from sklearn.neural_network._base import LOSS_FUNCTIONS

    mlp = {"softmax": "log_loss", "logistic": "binary_log_loss"}.get(name, name)
    return mlp if mlp in LOSS_FUNCTIONS else None


def flat_params(est):
    """A fitted estimator's parameters as one numpy vector: ``W1, b1, W2, b2, ...``.

    Built from the public ``coefs_`` and ``intercepts_`` (a copy), on the
    host whatever their namespace.
    """
    pairs = zip(est.coefs_, est.intercepts_, strict=True)
    return np.concatenate([host(a).ravel() for pair in pairs for a in pair])


def host(array):
    """An array of any namespace (torch, array-api-strict) as a numpy array."""
    if isinstance(array, np.ndarray):
        return array
    from sklearn import config_context
    from sklearn.utils._array_api import move_to

    with config_context(array_api_dispatch=True):
        return move_to(array, xp=np, device="cpu")
