"""Output layers: each a prediction link with its loss and that loss's gradient.

``SoftmaxWithLoss`` (three classes or more) and, through
``_OutputWithLoss`` (an elementwise link with a loss summed over outputs),
``SigmoidWithLoss`` and the regressor's losses. ``skbp.network.OUTPUTS``
registers them by loss.
"""

from contextlib import nullcontext

import numpy as np
from scipy.special import xlogy

from .. import _kernels
from .._array_api import namespace
from .activations import Sigmoid
from .affine import Layer, _assign


def softmax(x, out=None):
    """Row-wise softmax (into ``out`` if given, which may be ``x``), stably.

    Each row is shifted by its own max, so a row's probabilities do not
    depend on the other rows.
    """
    if out is None and not isinstance(x, np.ndarray):
        xp = namespace(x)
        y = xp.exp(x - xp.max(x, axis=-1, keepdims=True))
        return y / xp.sum(y, axis=-1, keepdims=True)
    shifted = _kernels.shifted_logits(x, out)
    y = np.exp(shifted, out=shifted)
    y /= _kernels.row_sum(y)
    return y


def log_softmax(x):
    """Row-wise log-softmax by the log-sum-exp trick; finite for finite ``x``."""
    shifted = _kernels.shifted_logits(x)
    shifted -= np.log(_kernels.row_sum(np.exp(shifted)))
    return shifted


class SoftmaxWithLoss(Layer):
    """Softmax output with mean cross-entropy loss.

    ``forward(x, t)`` returns ``E = -mean_i log softmax(x)_{i, t_i}``,
    computed from the logits by log-sum-exp (never ``log(p + eps)``), and
    ``backward()`` returns ``(y - t) / batch_size``. The targets ``t`` are
    one-hot rows, or the class indices themselves (what the book calls
    "label" targets), which is what training uses: no one-hot matrix of the
    whole training set is ever built.

    Attributes
    ----------
    y : ndarray of shape (n_samples, n_classes)
        Softmax probabilities from the last ``forward``.
    t : ndarray of shape (n_samples, n_classes) or (n_samples,)
        One-hot targets, or class indices, from the last ``forward``.
    loss : float
        Loss from the last ``forward``.
    sample_weight : ndarray of shape (n_samples,) or None
        Weights from the last ``forward``; the loss is then
        ``sum_i w_i E_i / sum_i w_i`` and the gradient scales accordingly.

    Examples
    --------
    >>> import numpy as np
    >>> from skbp.layers import SoftmaxWithLoss
    >>> layer = SoftmaxWithLoss()
    >>> round(layer.forward(np.zeros((2, 2)), np.eye(2)), 6)
    0.693147
    >>> layer.backward()
    array([[-0.25,  0.25],
           [ 0.25, -0.25]])
    >>> round(layer.forward(np.zeros((2, 2)), np.array([0, 1])), 6)
    0.693147
    """

    # The loss is reported as trained on (see ``IdentityWithLoss``).
    reports_mean_over_outputs = False
    in_place = True
    cached = ("y", "t", "sample_weight", "_flat_t")

    def __init__(self):
        self.y = None
        self.t = None
        self.loss = None
        self.sample_weight = None
        self._flat_t = None
        self._starts = None

    def __call__(self, x, out=None):
        """Return the softmax of ``x`` (into ``out`` if given) without caching."""
        return softmax(x, out=out)

    def forward(self, x, t, sample_weight=None, out=None):
        """Cache softmax(x) (into ``out`` if given) and ``t``; return the loss.

        ``E_i = log(sum_k exp(z_ik)) - z_it = -log softmax(z)_it``, where
        ``z`` is ``x`` shifted by a max (``_kernels.shift``), which changes
        neither; for soft rows ``t_i``, ``sum_k t_ik log(...) - z_i . t_i``.
        Other namespaces than numpy take one-hot (or soft) rows.
        """
        if out is None and not isinstance(x, np.ndarray):
            per_sample = self._stacked_per_sample(x, t)
            self.y, self.t, self.sample_weight = softmax(x), t, sample_weight
            self.loss = float(_weighted_mean(per_sample, sample_weight))
            return self.loss
        z, bounded = _kernels.shift(x, out)
        with nullcontext() if bounded else np.errstate(over="ignore"):
            true_logit = self._true_logits(z, t)  # before exp overwrites z
            y = np.exp(z, out=z)
            row_sum = _kernels.row_sum(y)
            per_sample = np.log(row_sum[:, 0])
            if t.ndim != 1:
                per_sample *= t.sum(axis=1)
            per_sample -= true_logit
            loss = _weighted_mean(per_sample, sample_weight)
        y /= row_sum
        self.y = y
        self.t = t
        self.sample_weight = sample_weight
        self.loss = float(loss)
        return self.loss

    def backward(self, dout=1.0, out=None):
        """Return ``dout * (y - t) / batch_size`` (or weighted by ``w / sum(w)``)."""
        scale, row_scale = _row_weights(self.y.shape[0], self.sample_weight, dout)
        if out is None and not isinstance(self.y, np.ndarray):
            # y * scale - scale at t, as the numpy form rounds
            return self.y * row_scale - self.t * row_scale
        if self.t.ndim == 1:
            # (y - t) * scale, with t one-hot: scale y, then subtract at t.
            dx = np.multiply(self.y, row_scale, out=out)
            dx.ravel()[self._flat_t] -= scale
        else:
            dx = np.subtract(self.y, self.t, out=out)
            dx *= row_scale
        return dx

    def stacked_loss(self, z, T, sample_weight=None):
        """Loss of each stacked copy of the logits, as ``forward`` computes it.

        ``z`` of shape (n_samples, n_copies, n_classes) holds ``n_copies``
        sets of logits for the same samples; it is scratch and is
        overwritten. ``T`` holds one-hot (or soft) float rows of shape
        (n_samples, n_classes). Returns the (``sample_weight``-weighted) mean
        cross-entropy of each copy, shape (n_copies,):
        ``loss_i = sum_c T_ic * logsumexp(z_i) - z_i . T_i``, averaged over
        samples. The numerical gradient asks this for its perturbed copies.
        """
        if not isinstance(z, np.ndarray):
            per_sample = self._stacked_per_sample(z, T[:, None, :])
            return _weighted_mean(per_sample, sample_weight)
        target = np.einsum("spc,sc->sp", z, T)
        m = z.max(axis=-1, keepdims=True)
        z -= m
        np.exp(z, out=z)
        per_sample = z.sum(axis=-1)
        np.log(per_sample, out=per_sample)
        per_sample += m[..., 0]
        per_sample *= T.sum(axis=1)[:, None]
        per_sample -= target
        return _weighted_mean(per_sample, sample_weight)

    @staticmethod
    def _stacked_per_sample(z, t):
        """``sum_c t_c * logsumexp(z) - z . t`` over the last axis: the plain form."""
        xp = namespace(z)
        m = xp.max(z, axis=-1, keepdims=True)
        per_sample = xp.log(xp.sum(xp.exp(z - m), axis=-1)) + m[..., 0]
        return per_sample * xp.sum(t, axis=-1) - xp.sum(z * t, axis=-1)

    def _true_logits(self, z, t):
        """``z_it`` for class indices ``t`` (a flat gather), ``z_i . t_i`` for rows."""
        if t.ndim != 1:
            return np.einsum("ij,ij->i", z, t)
        self._flat_t = self._row_starts(*z.shape) + t
        return z.ravel()[self._flat_t]

    def _row_starts(self, n_samples, n_classes):
        """``[0, n_classes, 2 n_classes, ...]``: flat offsets of the rows (cached)."""
        if self._starts is None or self._starts[0] != (n_samples, n_classes):
            starts = np.arange(0, n_samples * n_classes, n_classes)
            self._starts = ((n_samples, n_classes), starts)
        return self._starts[1]


def _weighted_mean(per_sample, sample_weight):
    """Mean over the first axis, or its ``sample_weight``-weighted mean."""
    if not isinstance(per_sample, np.ndarray):
        xp = namespace(per_sample)
        if sample_weight is None:
            return xp.sum(per_sample, axis=0) / per_sample.shape[0]
        return sample_weight @ per_sample / xp.sum(sample_weight)
    if sample_weight is None:
        return np.add.reduce(per_sample, axis=0) / len(per_sample)  # .mean(0)
    return sample_weight @ per_sample / sample_weight.sum()


def _row_weights(n_samples, sample_weight, dout):
    """Each row's factor in the gradient of the (weighted) mean loss, times ``dout``.

    Return ``(scale, column)``: ``dout / n_samples`` twice, or ``dout * w /
    sum(w)`` (one value per row) and that as a column, to scale a 2-D array.
    """
    if sample_weight is None:
        scale = dout / n_samples
        return scale, scale
    scale = (dout / namespace(sample_weight).sum(sample_weight)) * sample_weight
    return scale, scale[:, None]


# What to do about targets too large for a loss.
SCALE_Y = (
    "Scale y, for example with TransformedTargetRegressor(regressor=..., "
    "transformer=StandardScaler())"
)


# The Attributes section of every _OutputWithLoss subclass's docstring
# (appended by _OutputWithLoss.__init_subclass__): what ``forward`` caches.
_OUTPUT_ATTRIBUTES = """
    Attributes
    ----------
    y : ndarray of shape (n_samples, n_outputs)
        The link's output (predictions, probabilities) from the last
        ``forward``.
    t : ndarray of shape (n_samples, n_outputs)
        Targets from the last ``forward``.
    loss : float
        Loss from the last ``forward``.
    sample_weight : ndarray of shape (n_samples,) or None
        Weights from the last ``forward``; the loss is then
        ``sum_i w_i E_i / sum_i w_i`` and the gradient scales accordingly.
"""


class _OutputWithLoss(Layer):
    """An elementwise output ``y = self(x)`` with a loss summed over outputs.

    Subclasses give ``__call__`` (the prediction link), ``_per_sample`` (the
    loss of each row, summed over the last axis) and ``_derivative`` (its
    derivative with respect to ``x``, row by row); the loss is the
    (weighted) mean of ``_per_sample`` over rows, and its gradient
    ``_derivative`` scaled by each row's weight in that mean. Constructor
    arguments, if any, are the loss's parameters (``OUTPUTS`` says which
    estimator hyperparameters give them).
    """

    # Whether the reported loss (``loss_``, ``tol``) averages the data term
    # over outputs instead of summing it, as trained (see ``IdentityWithLoss``).
    reports_mean_over_outputs = False
    # Whether the loss has kinks (points without a derivative), where the
    # central differences of the numerical gradient average the one-sided
    # slopes within a step of the kink, and so differ from ``backward``.
    has_kinks = False
    in_place = True
    cached = ("y", "t", "sample_weight")

    def __init_subclass__(cls, **kwargs):
        """Give the subclass's docstring the Attributes section all of them share."""
        super().__init_subclass__(**kwargs)
        doc = cls.__doc__
        if doc and "\n    Attributes\n" not in doc and "\n    Examples\n" in doc:
            head, examples = doc.split("\n    Examples\n", 1)
            cls.__doc__ = (
                f"{head.rstrip()}\n{_OUTPUT_ATTRIBUTES}\n    Examples\n{examples}"
            )

    def __init__(self):
        self.y = None
        self.t = None
        self.loss = None
        self.sample_weight = None

    def forward(self, x, t, sample_weight=None, out=None):
        """Cache ``y = self(x)`` (into ``out`` if given) and ``t``; return the loss."""
        self.loss = float(_weighted_mean(self._per_sample(x, t), sample_weight))
        self.y = self(x, out)
        self.t = t
        self.sample_weight = sample_weight
        return self.loss

    def backward(self, dout=1.0, out=None):
        """Return ``dout`` times the gradient of the (weighted) mean loss."""
        dx = self._derivative(out)
        dx *= _row_weights(dx.shape[0], self.sample_weight, dout)[1]
        return dx

    @classmethod
    def check_targets(cls, T):
        """Raise a ValueError if this loss cannot be trained on the targets ``T``."""

    def stacked_loss(self, z, T, sample_weight=None):
        """Loss of each stacked copy of the raw outputs, as ``forward`` computes it.

        ``z`` of shape (n_samples, n_copies, n_outputs); ``T`` of shape
        (n_samples, n_outputs). Returns the loss of each copy, shape (n_copies,).
        """
        return _weighted_mean(self._per_sample(z, T[:, None, :]), sample_weight)


class SigmoidWithLoss(_OutputWithLoss):
    """Sigmoid outputs with binary cross-entropy, for multilabel targets.

    Each output unit is an independent yes/no label: ``y = sigmoid(x)`` and
    ``E = mean_i sum_j [log(1 + exp(x_ij)) - t_ij x_ij]``, the binary
    cross-entropy summed over labels and averaged over samples, computed from
    the logits (``np.logaddexp(0, x)``: never ``log(y + eps)``).
    ``backward()`` returns ``(y - t) / batch_size``. ``t`` is the 0/1
    indicator matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from skbp.layers import SigmoidWithLoss
    >>> layer = SigmoidWithLoss()
    >>> round(layer.forward(np.zeros((2, 3)), np.eye(2, 3)), 6)  # 3 log 2
    2.079442
    >>> layer.backward()
    array([[-0.25,  0.25,  0.25],
           [ 0.25, -0.25,  0.25]])
    """

    def __init__(self):
        super().__init__()
        self._sigmoid = Sigmoid()

    def __call__(self, x, out=None):
        """Return the label probabilities ``sigmoid(x)`` without caching anything."""
        return self._sigmoid(x, out)

    def _derivative(self, out=None):
        """``y - t``: the canonical link's derivative of each row's loss."""
        return _subtract(self.y, self.t, out)

    @staticmethod
    def _per_sample(x, t):
        """``sum_j log(1 + exp(x_j)) - t_j x_j`` over the last axis."""
        xp = namespace(x)
        return xp.sum(xp.logaddexp(xp.zeros_like(x), x) - x * t, axis=-1)


class IdentityWithLoss(_OutputWithLoss):
    """Identity output with half squared error, for regression.

    ``y = x`` and ``E = sum_j mean_i (y_ij - t_ij)**2 / 2``: half the squared
    error, averaged over samples and summed over outputs, whose gradient
    ``backward()`` returns, ``(y - t) / batch_size``. This is the gradient
    ``MLPRegressor`` trains with, and what ``forward`` returns and both
    gradients differentiate. The loss ``MLPRegressor`` reports (``loss_``,
    and what ``tol`` compares) averages it over outputs instead, the L2 term
    unchanged: ``reports_mean_over_outputs`` says so to
    :meth:`skbp.network.Network.report`.

    Examples
    --------
    >>> import numpy as np
    >>> from skbp.layers import IdentityWithLoss
    >>> layer = IdentityWithLoss()
    >>> layer.forward(np.array([[1.0, 2.0], [3.0, 4.0]]), np.ones((2, 2)))
    3.5
    >>> layer.backward()
    array([[0. , 0.5],
           [1. , 1.5]])
    """

    reports_mean_over_outputs = True

    def __call__(self, x, out=None):
        """Return the predictions: ``x`` itself (copied into ``out`` if given)."""
        return _assign(out, x)

    @classmethod
    def check_targets(cls, T):
        """Raise if a squared error of ``T``'s size and magnitude may overflow.

        Beyond ``|t| = sqrt(largest float / (4 * T.size))``, the squared
        error of a prediction off by ``|t|`` may.
        """
        finfo = np.finfo(T.dtype)
        largest = float(np.abs(T).max()) if T.size else 0.0
        limit = float(np.sqrt(float(finfo.max) / (4 * max(T.size, 1))))
        if largest >= limit:
            raise ValueError(
                f"y is too large for the squared error in {finfo.dtype}: the "
                f"largest |y| is {largest:.3g}, and the squared errors of {T.size} "
                f"targets may overflow beyond |y| = {limit:.3g}. {SCALE_Y}."
            )

    def _derivative(self, out=None):
        """``y - t``: the canonical link's derivative of each row's loss."""
        return _subtract(self.y, self.t, out)

    @staticmethod
    def _per_sample(x, t):
        """``sum_j (x_j - t_j)**2 / 2`` over the last axis."""
        residual = x - t
        return 0.5 * namespace(residual).sum(residual * residual, axis=-1)


class PoissonWithLoss(_OutputWithLoss):
    """Exponential output with half Poisson deviance, for counts and rates.

    ``y = exp(x)`` (the log link) and
    ``E = sum_j mean_i [t_ij log(t_ij / y_ij) - t_ij + y_ij]``, the half
    Poisson deviance of ``MLPRegressor(loss="poisson")``, computed from the
    raw output as ``exp(x) - t x + t log(t) - t`` (no ``log(exp(x))``, and
    ``0 log 0 = 0``). ``backward()`` returns ``(y - t) / batch_size``. The
    targets must be non-negative. An output beyond ``log`` of the largest
    float makes the loss infinite, which training reports as divergence.

    Examples
    --------
    >>> import numpy as np
    >>> from skbp.layers import PoissonWithLoss
    >>> layer = PoissonWithLoss()
    >>> layer.forward(np.zeros((2, 1)), np.array([[0.0], [1.0]]))  # mean of 1 and 0
    0.5
    >>> layer.backward()
    array([[0.5],
           [0. ]])
    """

    def __call__(self, x, out=None):
        """Return the predictions ``exp(x)`` (into ``out`` if given), uncached."""
        if out is None and not isinstance(x, np.ndarray):
            return namespace(x).exp(x)
        with np.errstate(over="ignore"):
            return np.exp(x, out=out)

    @classmethod
    def largest_finite_input(cls, dtype):
        """``log`` of the largest float: ``exp`` of more overflows."""
        return float(np.log(np.finfo(dtype).max))

    @classmethod
    def check_targets(cls, T):
        """Raise unless every target is non-negative."""
        if (T < 0).any():
            raise ValueError(
                "loss='poisson' needs non-negative targets (counts or rates), but y "
                f"has negative values (the smallest is {T.min()!r}). Use "
                "loss='squared_error', or shift y."
            )

    def _derivative(self, out=None):
        """``y - t``: the canonical link's derivative of each row's loss."""
        return _subtract(self.y, self.t, out)

    @staticmethod
    def _per_sample(x, t):
        """``sum_j exp(x_j) - t_j x_j + t_j log(t_j) - t_j`` over the last axis."""
        xp = namespace(x)
        with np.errstate(over="ignore", invalid="ignore"):
            per_element = xp.exp(x) - x * t
            per_element += _xlogx(t) - t
        return xp.sum(per_element, axis=-1)


class AbsoluteErrorWithLoss(_OutputWithLoss):
    """Identity output with the absolute error, for the conditional median.

    ``y = x`` and ``E = sum_j mean_i |y_ij - t_ij|``: the absolute error
    summed over outputs and averaged over samples (for one output,
    ``sklearn.metrics.mean_absolute_error``; for several, the sum of its
    ``multioutput="raw_values"``). ``backward()`` returns
    ``sign(y - t) / batch_size``, 0 where ``y == t``.

    At the kink ``y == t`` the loss has no derivative: ``backward`` gives 0,
    the average of the one-sided slopes -1 and 1, and the central difference
    ``gradient_check`` takes averages the two one-sided slopes as soon as
    ``|y - t| < h`` (its step), so it agrees there only when ``y == t``
    exactly; compare gradients away from the kinks.

    Examples
    --------
    >>> import numpy as np
    >>> from skbp.layers import AbsoluteErrorWithLoss
    >>> layer = AbsoluteErrorWithLoss()
    >>> layer.forward(np.array([[1.0, 2.0], [3.0, 4.0]]), np.ones((2, 2)))
    3.0
    >>> layer.backward()
    array([[0. , 0.5],
           [0.5, 0.5]])
    """

    has_kinks = True

    def __call__(self, x, out=None):
        """Return the predictions: ``x`` itself (copied into ``out`` if given)."""
        return _assign(out, x)

    def _derivative(self, out=None):
        """``sign(y - t)``: each row's loss's derivative, 0 at the kink."""
        if out is None and not isinstance(self.y, np.ndarray):
            return namespace(self.y).sign(self.y - self.t)
        return np.sign(np.subtract(self.y, self.t, out=out), out=out)

    @staticmethod
    def _per_sample(x, t):
        """``sum_j |x_j - t_j|`` over the last axis."""
        xp = namespace(x)
        return xp.sum(xp.abs(x - t), axis=-1)


class QuantileWithLoss(AbsoluteErrorWithLoss):
    """Identity output with the pinball loss, for the conditional ``quantile``.

    ``y = x`` and ``E = sum_j mean_i rho(t_ij - y_ij)`` with
    ``rho(r) = quantile * r`` for ``r >= 0`` and ``(quantile - 1) * r``
    below: ``sklearn.metrics.mean_pinball_loss(alpha=quantile)`` for one
    output, the sum of its ``multioutput="raw_values"`` for several. It is
    computed as ``|y - t| / 2 + (1/2 - quantile) (y - t)``, whose derivative
    ``backward()`` returns divided by the batch size:
    ``1 - quantile`` where ``y > t``, ``-quantile`` where ``y < t``, and
    ``1/2 - quantile`` (the average of the two) where ``y == t``. At
    ``quantile=0.5`` this is half the absolute error.

    At the kink ``y == t`` the central difference ``gradient_check`` takes
    averages the two one-sided slopes as soon as ``|y - t| < h`` (its step):
    it agrees with ``backward`` there only when ``y == t`` exactly; compare
    gradients away from the kinks.

    Parameters
    ----------
    quantile : float in (0, 1), default=0.5
        The quantile predicted (``BPRegressor(quantile=...)``).

    Examples
    --------
    >>> import numpy as np
    >>> from skbp.layers import QuantileWithLoss
    >>> layer = QuantileWithLoss(quantile=0.9)
    >>> x, t = np.array([[0.0], [2.0]]), np.ones((2, 1))
    >>> round(layer.forward(x, t), 12)  # (0.9 + 0.1) / 2
    0.5
    >>> layer.backward()
    array([[-0.45],
           [ 0.05]])
    """

    def __init__(self, quantile=0.5):
        super().__init__()
        self.quantile = quantile

    def _derivative(self, out=None):
        """``sign(y - t) / 2 + 1/2 - quantile``: 1/2 - quantile at the kink."""
        dx = super()._derivative(out)
        dx *= 0.5
        dx += 0.5 - self.quantile
        return dx

    def _per_sample(self, x, t):
        """``sum_j |x_j - t_j| / 2 + (1/2 - quantile) (x_j - t_j)``."""
        xp = namespace(x)
        residual = x - t
        per_element = 0.5 * xp.abs(residual) + (0.5 - self.quantile) * residual
        return xp.sum(per_element, axis=-1)


class GammaWithLoss(PoissonWithLoss):
    """Exponential output with half the gamma deviance, for positive targets.

    ``y = exp(x)`` (the log link, as ``PoissonWithLoss``, whose prediction
    and overflow bound it shares) and
    ``E = sum_j mean_i [log(y_ij / t_ij) + t_ij / y_ij - 1]``, half
    ``sklearn.metrics.mean_gamma_deviance`` for one output (the sum of the
    per-output halves for several), computed from the raw output as
    ``x - log(t) + t exp(-x) - 1``. ``backward()`` returns
    ``(1 - t / y) / batch_size``. The targets must be strictly positive.

    Examples
    --------
    >>> import numpy as np
    >>> from skbp.layers import GammaWithLoss
    >>> layer = GammaWithLoss()
    >>> layer.forward(np.zeros((2, 1)), np.ones((2, 1)))  # exact predictions
    0.0
    >>> layer.backward()
    array([[0.],
           [0.]])
    """

    @classmethod
    def check_targets(cls, T):
        """Raise unless every target is strictly positive."""
        if (T <= 0).any():
            raise ValueError(
                "loss='gamma' needs strictly positive targets, but y has values "
                f"<= 0 (the smallest is {T.min()!r}). Use loss='poisson' for "
                "targets that may be 0, or loss='squared_error'."
            )

    def _derivative(self, out=None):
        """``1 - t / y``: each row's loss's derivative with respect to ``x``."""
        if out is None and not isinstance(self.y, np.ndarray):
            return 1.0 - self.t / self.y
        with np.errstate(over="ignore", divide="ignore"):
            dx = np.divide(self.t, self.y, out=out)
        np.subtract(1.0, dx, out=dx)
        return dx

    @staticmethod
    def _per_sample(x, t):
        """``sum_j x_j - log(t_j) + t_j exp(-x_j) - 1`` over the last axis."""
        xp = namespace(x)
        with np.errstate(over="ignore", invalid="ignore"):
            per_element = t * xp.exp(-x) + x
            per_element -= xp.log(t) + 1.0
        return xp.sum(per_element, axis=-1)


def _subtract(a, b, out=None):
    """``a - b``, into ``out`` for numpy arrays."""
    return a - b if out is None else np.subtract(a, b, out=out)


def _xlogx(t):
    """``t * log(t)``, 0 where ``t`` is 0 (scipy's ``xlogy(t, t)``)."""
    if isinstance(t, np.ndarray):
        return xlogy(t, t)
    xp = namespace(t)
    positive = t > 0
    return xp.where(positive, t * xp.log(xp.where(positive, t, 1.0)), 0.0)
