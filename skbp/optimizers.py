"""Update rules that work in place on the flat parameter and gradient arrays.

The rules and their schedules are those of scikit-learn's
``sklearn/neural_network/_stochastic_optimizers.py``, rewritten for one flat
array instead of a list of arrays.
"""

import numpy as np


class SGDOptimizer:
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

    def __init__(
        self,
        params,
        learning_rate_init=0.1,
        lr_schedule="constant",
        momentum=0.0,
        nesterov=False,
        power_t=0.5,
    ):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self.lr_schedule = lr_schedule
        self.momentum = momentum
        self.nesterov = nesterov
        self.power_t = power_t
        self.velocities = np.zeros_like(params) if momentum else None

    def update_params(self, params, grads):
        """Take one step in place (``grads`` may be overwritten)."""
        lr = self.learning_rate
        if not self.momentum:
            grads *= lr  # grads is recomputed every step: scale it in place
            params -= grads
            return
        if self.velocities is None:  # momentum switched on by set_params
            self.velocities = np.zeros_like(params)
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
            if verbose:
                print(msg + " Stopping.")
            return True
        if self.learning_rate <= 1e-6:
            if verbose:
                print(msg + " Learning rate too small. Stopping.")
            return True
        self.learning_rate /= 5.0
        if verbose:
            print(msg + f" Setting learning rate to {self.learning_rate:f}")
        return False


class AdamOptimizer:
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

    def __init__(
        self, params, learning_rate_init=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-8
    ):
        self.learning_rate_init = learning_rate_init
        self.learning_rate = float(learning_rate_init)
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.t = 0
        self.ms = np.zeros_like(params)
        self.vs = np.zeros_like(params)

    def update_params(self, params, grads):
        """Take one step in place."""
        self.t += 1
        self.ms *= self.beta_1
        self.ms += (1 - self.beta_1) * grads
        self.vs *= self.beta_2
        self.vs += (1 - self.beta_2) * grads**2
        self.learning_rate = (
            self.learning_rate_init
            * np.sqrt(1 - self.beta_2**self.t)
            / (1 - self.beta_1**self.t)
        )
        params -= self.learning_rate * self.ms / (np.sqrt(self.vs) + self.epsilon)

    def iteration_ends(self, time_step):
        """Nothing to do after an epoch."""

    def trigger_stopping(self, msg, verbose):
        """Always stop when training stops improving."""
        if verbose:
            print(msg + " Stopping.")
        return True
