"""The solver registry: every entry is validated, documented and resumed alike.

Each test runs over ``SOLVERS`` (or its stochastic entries), so a solver
added to the registry is tested without a test edit.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning

from skbp import BPClassifier, BPRegressor
from skbp.optimizers import SOLVERS, Optimizer, Solver, stochastic_solvers

X_SMALL, Y_SMALL = make_classification(
    n_samples=30, n_features=4, n_informative=3, n_redundant=0, random_state=0
)


def _stochastic(solver, **params):
    return BPClassifier((5,), solver=solver, batch_size=10, random_state=0, **params)


@pytest.mark.parametrize("solver", stochastic_solvers())
def test_step_counter_keeps_counting_across_partial_fit(solver):
    """3 batches a call: the optimizer's step count is 3, 6, 9, as one long run."""
    clf = _stochastic(solver)
    counts = []
    for _ in range(3):
        clf.partial_fit(X_SMALL, Y_SMALL, classes=[0, 1])
        counts.append(clf._optimizer.t)
    assert counts == [3, 6, 9]


@pytest.mark.parametrize("solver", stochastic_solvers())
def test_partial_fit_calls_equal_fit_epochs(solver):
    """Three partial_fit calls train exactly as three epochs of fit (state resumed)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        whole = _stochastic(solver, max_iter=3, shuffle=False, tol=0).fit(
            X_SMALL, Y_SMALL
        )
    parts = _stochastic(solver, shuffle=False)
    for _ in range(3):
        parts.partial_fit(X_SMALL, Y_SMALL, classes=[0, 1])
    for ours, theirs in zip(parts.coefs_, whole.coefs_, strict=True):
        assert_array_equal(ours, theirs)


@pytest.mark.parametrize("solver", stochastic_solvers())
def test_state_round_trip_continues_the_same_steps(solver):
    """``load_state(state())`` on a fresh optimizer takes the same next steps."""
    rng = np.random.default_rng(0)
    cls = SOLVERS[solver].optimizer
    params = rng.standard_normal(7)
    first = cls(params, 0.01)
    for _ in range(3):
        first.update_params(params, rng.standard_normal(7))
    second = cls(params, 0.01)
    second.load_state(first.state())
    grads = rng.standard_normal(7)
    a, b = params.copy(), params.copy()
    first.update_params(a, grads.copy())
    second.update_params(b, grads.copy())
    assert_array_equal(a, b)
    assert first.t == second.t == 4


@pytest.mark.parametrize("solver", stochastic_solvers())
def test_partial_fit_follows_hyperparameters_set_since(solver):
    clf = _stochastic(solver, learning_rate_init=0.01)
    clf.partial_fit(X_SMALL, Y_SMALL, classes=[0, 1])
    clf.set_params(learning_rate_init=0.5, momentum=0.5, beta_1=0.5)
    clf.partial_fit(X_SMALL, Y_SMALL)
    optimizer = clf._optimizer
    assert optimizer.learning_rate_init == 0.5
    for name, keyword in type(optimizer).estimator_parameters.items():
        assert getattr(optimizer, keyword) == getattr(clf, name)


@pytest.mark.parametrize("solver", list(SOLVERS))
@pytest.mark.parametrize("Estimator", [BPClassifier, BPRegressor])
def test_partial_fit_is_offered_by_the_stochastic_solvers(Estimator, solver):
    assert hasattr(Estimator(solver=solver), "partial_fit") == (
        not SOLVERS[solver].full_batch
    )


@pytest.mark.parametrize("solver", list(SOLVERS))
def test_every_solver_is_documented(solver):
    assert f'``"{solver}"``: {SOLVERS[solver].doc[:20]}' in " ".join(
        BPClassifier.__doc__.split()
    )


def test_an_unknown_solver_names_the_registered_ones():
    with pytest.raises(ValueError, match=", ".join(repr(n) for n in SOLVERS)):
        BPClassifier(solver="no-such-solver").fit(X_SMALL, Y_SMALL)


class _SignSGD(Optimizer):
    """``params -= lr * sign(grads)``, with a decaying average to resume."""

    state_arrays = ("average",)

    def __init__(self, params, learning_rate_init=0.01):
        super().__init__(params, learning_rate_init)
        self.average = np.zeros_like(params)

    def _step(self, params, grads):
        self.average += (grads - self.average) / self.t
        params -= self.learning_rate * np.sign(grads)


def test_a_new_solver_is_one_class_and_one_entry(monkeypatch):
    monkeypatch.setitem(SOLVERS, "signsgd", Solver(_SignSGD, "sign descent"))
    clf = _stochastic("signsgd", learning_rate_init=0.05)
    for _ in range(10):
        clf.partial_fit(X_SMALL, Y_SMALL, classes=[0, 1])
    assert clf._optimizer.t == 30
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


def test_partial_fit_resumes_an_optimizer_pickled_without_a_step_counter():
    """skbp 0.1.0's SGDOptimizer counted no steps: its models still resume."""
    clf = _stochastic("sgd", momentum=0.9)
    clf.partial_fit(X_SMALL, Y_SMALL, classes=[0, 1])
    del clf._optimizer.__dict__["t"]
    velocities = clf._optimizer.velocities.copy()
    clf.partial_fit(X_SMALL, Y_SMALL)
    assert clf._optimizer.t == 3
    assert not np.array_equal(clf._optimizer.velocities, velocities)
