"""Neural-network layers with an explicit ``forward`` / ``backward`` protocol.

Each layer follows the "Deep Learning from Scratch" convention: ``forward``
computes the output and caches what ``backward`` needs; ``backward(dout)``
takes the upstream gradient and returns the gradient with respect to the
layer's input. Calling a layer (``layer(x)``) computes the same output as
``forward`` without touching the cache, so one fitted network can serve
predictions from several threads at once.

No layer ever writes into its inputs.
"""

import numpy as np
from scipy.special import expit

__all__ = ["Affine", "Identity", "ReLU", "Sigmoid", "SoftmaxWithLoss", "Tanh"]


class Affine:
    """Fully connected layer ``Y = X @ W + b``.

    Parameters
    ----------
    W : ndarray of shape (n_in, n_out)
        Weights. Kept by reference: updating ``W`` in place updates the layer.
    b : ndarray of shape (n_out,)
        Biases, kept by reference.
    dW, db : ndarray, optional
        Arrays that ``backward`` writes the gradients into (for example
        views into one flat gradient vector). Allocated on first use when
        omitted.

    Attributes
    ----------
    x : ndarray or sparse matrix
        Input cached by the last ``forward``.
    dW : ndarray of shape (n_in, n_out)
        Gradient of the loss with respect to ``W`` from the last ``backward``.
    db : ndarray of shape (n_out,)
        Gradient of the loss with respect to ``b`` from the last ``backward``.

    Examples
    --------
    >>> import numpy as np
    >>> from skbp.layers import Affine
    >>> layer = Affine(np.eye(3), np.zeros(3))
    >>> layer.forward(np.ones((2, 3)))
    array([[1., 1., 1.],
           [1., 1., 1.]])
    >>> dx = layer.backward(np.array([[1.0, 2, 3], [100, 200, 300]]))
    >>> layer.db
    array([101., 202., 303.])
    >>> layer.dW
    array([[101., 202., 303.],
           [101., 202., 303.],
           [101., 202., 303.]])
    """

    def __init__(self, W, b, dW=None, db=None):
        self.W = W
        self.b = b
        self.dW = dW
        self.db = db
        self.x = None

    def __call__(self, x):
        """Return ``x @ W + b`` without caching anything."""
        out = x @ self.W
        out += self.b
        return out

    def forward(self, x):
        """Compute ``x @ W + b`` and cache ``x`` for ``backward``."""
        self.x = x
        return self(x)

    def backward(self, dout):
        """Store ``dW = x.T @ dout`` and ``db = dout.sum(0)``; return ``dout @ W.T``."""
        self.param_backward(dout)
        return dout @ self.W.T

    def param_backward(self, dout):
        """Store ``dW`` and ``db`` only: the input layer needs no ``dX``."""
        if self.dW is None:
            self.dW = np.empty_like(self.W)
            self.db = np.empty_like(self.b)
        if isinstance(self.x, np.ndarray) and self.dW.flags.c_contiguous:
            np.matmul(self.x.T, dout, out=self.dW)
        else:
            self.dW[...] = self.x.T @ dout
        np.sum(dout, axis=0, out=self.db)


class Sigmoid:
    """Logistic activation ``y = 1 / (1 + exp(-x))``.

    Computed with :func:`scipy.special.expit`, so no input overflows.

    Attributes
    ----------
    out : ndarray
        Output cached by the last ``forward``.

    Examples
    --------
    >>> import numpy as np
    >>> from skbp.layers import Sigmoid
    >>> layer = Sigmoid()
    >>> layer.forward(np.array([[-1000.0, 0.0, 1000.0]]))
    array([[0. , 0.5, 1. ]])
    >>> layer.backward(np.ones((1, 3)))
    array([[0.  , 0.25, 0.  ]])
    """

    def __init__(self):
        self.out = None

    def __call__(self, x, out=None):
        """Return ``expit(x)`` (into ``out`` if given) without caching anything."""
        return expit(x, out=out)

    def forward(self, x):
        """Compute the sigmoid and cache its output for ``backward``."""
        self.out = self(x)
        return self.out

    def backward(self, dout):
        """Return ``dout * y * (1 - y)``."""
        return dout * (1.0 - self.out) * self.out


class Tanh:
    """Hyperbolic tangent activation ``y = tanh(x)``; ``dx = dout * (1 - y**2)``.

    Examples
    --------
    >>> import numpy as np
    >>> from skbp.layers import Tanh
    >>> layer = Tanh()
    >>> layer.forward(np.array([[0.0, 1000.0]]))
    array([[0., 1.]])
    >>> layer.backward(np.ones((1, 2)))
    array([[1., 0.]])
    """

    def __init__(self):
        self.out = None

    def __call__(self, x, out=None):
        """Return ``tanh(x)`` (into ``out`` if given) without caching anything."""
        return np.tanh(x, out=out)

    def forward(self, x):
        """Compute ``tanh(x)`` and cache it for ``backward``."""
        self.out = self(x)
        return self.out

    def backward(self, dout):
        """Return ``dout * (1 - y**2)``."""
        return dout * (1.0 - self.out**2)


class ReLU:
    """Rectified linear activation ``y = max(x, 0)``; ``dx = dout * (x > 0)``.

    Examples
    --------
    >>> import numpy as np
    >>> from skbp.layers import ReLU
    >>> layer = ReLU()
    >>> layer.forward(np.array([[-2.0, 3.0]]))
    array([[0., 3.]])
    >>> layer.backward(np.array([[5.0, 5.0]]))
    array([[0., 5.]])
    """

    def __init__(self):
        self.mask = None

    def __call__(self, x, out=None):
        """Return ``max(x, 0)`` (into ``out`` if given) without caching anything."""
        return np.maximum(x, 0, out=out)

    def forward(self, x):
        """Compute ``max(x, 0)`` and cache where ``x > 0`` for ``backward``."""
        self.mask = x > 0
        return self(x)

    def backward(self, dout):
        """Return ``dout`` where the input was positive, 0 elsewhere."""
        return dout * self.mask


class Identity:
    """Identity activation ``y = x``; ``dx = dout``.

    Examples
    --------
    >>> import numpy as np
    >>> from skbp.layers import Identity
    >>> Identity().forward(np.array([[1.5]]))
    array([[1.5]])
    """

    def __call__(self, x, out=None):
        """Return ``x`` (copied into ``out`` if given)."""
        if out is None or out is x:
            return x
        out[...] = x
        return out

    def forward(self, x):
        """Return ``x`` (nothing to cache)."""
        return x

    def backward(self, dout):
        """Return ``dout``."""
        return dout


# Lowest finite value per dtype (np.finfo is too slow for the training loop).
_FLOAT_MIN = {
    np.dtype(t): np.finfo(t).min for t in (np.float16, np.float32, np.float64)
}


def log_softmax(x):
    """Row-wise log-softmax by the log-sum-exp trick; finite for finite ``x``."""
    with np.errstate(over="ignore"):
        shifted = x - x.max(axis=-1, keepdims=True)
    # x spanning more than the float range gives -inf: clip so that
    # 0 * log_y stays 0 for the classes a sample does not belong to.
    np.maximum(shifted, _FLOAT_MIN[shifted.dtype], out=shifted)
    shifted -= np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return shifted


def cross_entropy(log_y, t, sample_weight=None):
    """Mean (or ``sample_weight``-weighted mean) cross-entropy of ``t`` under ``log_y``.

    Works on stacks: ``log_y`` of shape (..., n_samples, n_classes) gives
    one loss per leading index.
    """
    with np.errstate(over="ignore"):
        per_sample = np.einsum("...ij,...ij->...i", log_y, t)
        if sample_weight is None:
            return -per_sample.mean(axis=-1)
        return -(per_sample @ sample_weight) / sample_weight.sum()


class SoftmaxWithLoss:
    """Softmax output with mean cross-entropy loss.

    ``forward(x, t)`` returns ``E = -mean_i sum_k t_ik log softmax(x)_ik``,
    computed from the logits by log-sum-exp (never ``log(p + eps)``), and
    ``backward()`` returns ``(y - t) / batch_size``.

    Attributes
    ----------
    y : ndarray of shape (n_samples, n_classes)
        Softmax probabilities from the last ``forward``.
    t : ndarray of shape (n_samples, n_classes)
        One-hot targets from the last ``forward``.
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
    """

    def __init__(self):
        self.y = None
        self.t = None
        self.loss = None
        self.sample_weight = None

    def __call__(self, x):
        """Return the softmax probabilities of ``x`` without caching anything."""
        return np.exp(log_softmax(x))

    def forward(self, x, t, sample_weight=None):
        """Cache softmax(x) and ``t`` and return the (weighted) mean cross-entropy."""
        log_y = log_softmax(x)
        self.y = np.exp(log_y)
        self.t = t
        self.sample_weight = sample_weight
        self.loss = float(cross_entropy(log_y, t, sample_weight))
        return self.loss

    def backward(self, dout=1.0):
        """Return ``dout * (y - t) / batch_size`` (or weighted by ``w / sum(w)``)."""
        dx = self.y - self.t
        if self.sample_weight is None:
            dx *= dout / self.t.shape[0]
        else:
            dx *= (dout / self.sample_weight.sum()) * self.sample_weight[:, None]
        return dx
