"""Update rules that work in place on the flat parameter and gradient arrays.

The rules and their schedules are those of scikit-learn's
``sklearn/neural_network/_stochastic_optimizers.py``, rewritten for one flat
array instead of a list of arrays.

Every solver the estimators accept is an entry of ``SOLVERS``: a stochastic
one names an ``Optimizer`` subclass, which gives ``_step`` (the update rule)
and lists its running state in ``state_arrays``; the base class counts the
steps, resumes the state across ``partial_fit`` calls (``state`` /
``load_state``) and stops training. Validation, ``partial_fit``'s
availability and the documentation read the registry, so a new solver is one
class and one entry.
"""

from dataclasses import dataclass

import numpy as np

from ._array_api import copied, is_numpy, namespace


class Optimizer:
    """Base of the stochastic update rules: a step counter and explicit state.

    Subclasses give ``_step(params, grads)``; they list in ``state_arrays``
    the arrays their rule carries from step to step (moments, velocities)
    and in ``estimator_parameters`` which estimator hyperparameters their
    constructor takes, as ``{estimator_name: constructor_keyword}``.

    Parameters
    ----------
    params : ndarray
        Flat parameter array (only its shape and dtype are used here).
    learning_rate_init : float
        Initial step size.

    Attributes
    ----------
    t : int
        Steps taken, over all ``partial_fit`` calls.
    learning_rate : float
        Current step size.
    """

    state_arrays = ()
    estimator_parameters = {}
    t = 0  # (the SGD optimizers of models pickled before the base class had none)

    def __init__(self, params, learning_rate_init=0.001):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self.t = 0

    @classmethod
    def from_estimator(cls, est, params):
        """The optimizer ``est``'s hyperparameters configure, for ``params``."""
        kwargs = {
            kw: getattr(est, name) for name, kw in cls.estimator_parameters.items()
        }
        return cls(params, est.learning_rate_init, **kwargs)

    def update_params(self, params, grads):
        """Take one step in place (``grads`` may be overwritten)."""
        self.t += 1
        self._step(params, grads)

    def _step(self, params, grads):
        raise NotImplementedError

    def iteration_ends(self, time_step):
        """Update the learning rate after an epoch (``time_step``: samples seen)."""

    def trigger_stopping(self, msg, verbose):
        """Return True to stop when training stops improving."""
        if verbose:
            print(msg + " Stopping.")
        return True

    def state(self):
        """What a later ``partial_fit`` resumes: step count, rate, running arrays."""
        state = {"t": self.t, "learning_rate": self.learning_rate}
        state["learning_rate_init"] = self.learning_rate_init
        for name in self.state_arrays:
            value = getattr(self, name)
            state[name] = None if value is None else copied(value)
        return state

    def load_state(self, state):
        """Resume from ``state()`` of an optimizer of the same class.

        The hyperparameters stay this optimizer's (set with ``set_params``
        since, perhaps); the learning rate restarts when ``learning_rate_init``
        changed.
        """
        self.t = state["t"]
        if state["learning_rate_init"] == self.learning_rate_init:
            self.learning_rate = state["learning_rate"]
        for name in self.state_arrays:
            value = state[name]
            setattr(self, name, None if value is None else copied(value))


class SGDOptimizer(Optimizer):
    """Mini-batch SGD with optional (Nesterov) momentum and learning-rate schedules.

    ``v <- momentum * v - lr * g``; then ``params += v``, or with Nesterov
    momentum ``params += momentum * v - lr * g``. With ``momentum=0`` this is
    plain ``params -= lr * g``.

    Parameters
    ----------
    params : ndarray
        Flat parameter array (only its shape and dtype are used here).
    learning_rate_init : float
        Initial step size.
    lr_schedule : {"constant", "invscaling", "adaptive"}
        ``"invscaling"`` sets ``lr = learning_rate_init / (t + 1) ** power_t``
        after each epoch (``t``: samples seen); ``"adaptive"`` divides the rate
        by 5 whenever training stops improving, until it falls below 1e-6.
    momentum : float
        Momentum, in [0, 1].
    nesterov : bool
        Whether to use Nesterov's momentum.
    power_t : float
        Exponent of ``"invscaling"``.
    """

    state_arrays = ("velocities",)
    estimator_parameters = {
        "learning_rate": "lr_schedule",
        "momentum": "momentum",
        "nesterovs_momentum": "nesterov",
        "power_t": "power_t",
    }

    def __init__(
        self,
        params,
        learning_rate_init=0.1,
        lr_schedule="constant",
        momentum=0.0,
        nesterov=False,
        power_t=0.5,
    ):
        super().__init__(params, learning_rate_init)
        self.lr_schedule = lr_schedule
        self.momentum = momentum
        self.nesterov = nesterov
        self.power_t = power_t
        self.velocities = _zeros_like(params) if momentum else None

    def _step(self, params, grads):
        lr = self.learning_rate
        if not self.momentum:
            grads *= lr  # grads is recomputed every step: scale it in place
            params -= grads
            return
        if self.velocities is None:  # momentum switched on by set_params
            self.velocities = _zeros_like(params)
        v = self.velocities
        v *= self.momentum
        v -= lr * grads
        if self.nesterov:
            params += self.momentum * v - lr * grads
        else:
            params += v

    def iteration_ends(self, time_step):
        """Update the learning rate after an epoch (``time_step``: samples seen)."""
        if self.lr_schedule == "invscaling":
            # A float power: a huge power_t underflows to 0 instead of raising.
            self.learning_rate = self.learning_rate_init * float(time_step + 1) ** (
                -self.power_t
            )

    def trigger_stopping(self, msg, verbose):
        """Return True to stop; under ``"adaptive"``, first shrink the rate."""
        if self.lr_schedule != "adaptive":
            return super().trigger_stopping(msg, verbose)
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + f" Setting learning rate to {self.learning_rate:f}")
        return False


class AdamOptimizer(Optimizer):
    """Adam (Kingma and Ba, 2014) on flat arrays.

    Parameters
    ----------
    params : ndarray
        Flat parameter array (only its shape and dtype are used here).
    learning_rate_init : float
        Step size.
    beta_1, beta_2 : float
        Decay rates of the first and second moment estimates, in [0, 1).
    epsilon : float
        Added to the denominator for numerical stability.
    """

    state_arrays = ("ms", "vs")
    estimator_parameters = {
        "beta_1": "beta_1",
        "beta_2": "beta_2",
        "epsilon": "epsilon",
    }

    def __init__(
        self, params, learning_rate_init=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8
    ):
        super().__init__(params, learning_rate_init)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.ms = _zeros_like(params)
        self.vs = _zeros_like(params)

    def _step(self, params, grads):
        # self.t counts this step already: the bias correction of step t.
        self.ms *= self.beta_1
        self.ms += (1 - self.beta_1) * grads
        self.vs *= self.beta_2
        self.vs += (1 - self.beta_2) * grads**2
        # A numpy float64, as MLPClassifier's: float32 steps are computed in
        # float64 and rounded (other namespaces take it as a Python float).
        self.learning_rate = (
            self.learning_rate_init
            * np.sqrt(1 - self.beta_2**self.t)
            / (1 - self.beta_1**self.t)
        )
        if is_numpy(params):
            params -= self.learning_rate * self.ms / (np.sqrt(self.vs) + self.epsilon)
        else:
            sqrt = namespace(self.vs).sqrt
            step = float(self.learning_rate) * self.ms / (sqrt(self.vs) + self.epsilon)
            params -= step


def _zeros_like(params):
    """Zeros of ``params``' shape, dtype, namespace and device."""
    return namespace(params).zeros_like(params)


@dataclass(frozen=True)
class Solver:
    """An entry of ``SOLVERS``.

    Attributes
    ----------
    optimizer : type or None
        The ``Optimizer`` subclass of a stochastic solver; None for a
        full-batch one, which ``skbp._training`` runs by its name.
    doc : str
        What it does, for the estimators' docstrings (one sentence).
    """

    optimizer: type | None
    doc: str

    @property
    def full_batch(self):
        """Whether the solver minimises the full-batch loss (no ``partial_fit``)."""
        return self.optimizer is None


SOLVERS = {
    "sgd": Solver(
        SGDOptimizer,
        "mini-batch SGD, with (Nesterov) momentum and a learning-rate schedule",
    ),
    "adam": Solver(AdamOptimizer, "mini-batch Adam"),
    "lbfgs": Solver(
        None,
        "minimises the full-batch loss with :func:`scipy.optimize.minimize` "
        "(L-BFGS-B) on the flat parameter vector",
    ),
}


def stochastic_solvers():
    """Names of the solvers that train on mini-batches (and offer ``partial_fit``)."""
    return [name for name, solver in SOLVERS.items() if not solver.full_batch]
