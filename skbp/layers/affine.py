"""The layer protocol (``Layer``) and the fully connected layer ``Affine``."""

import numpy as np

from .. import _kernels
from .._array_api import namespace


class Layer:
    """What every layer declares to the network that runs it.

    ``in_place``: whether ``forward(x, out=x)`` and ``layer(x, out=x)`` are
    allowed, the layer reading ``x`` (for its cache too) before writing
    ``out``; the network then gives an activation its input as output
    instead of a new array. ``cached``: the attributes ``forward`` caches
    for ``backward``, which ``clear()`` drops. ``training_only``: whether
    the layer acts only while training (dropout): predictions skip it.
    """

    in_place = False
    cached = ()
    training_only = False

    def for_rows(self, rows):
        """The layer as it applies to a block of the batch's rows: itself."""
        return self

    @classmethod
    def largest_finite_input(cls, dtype):
        """The largest input whose output is finite in ``dtype`` (inf: any finite)."""
        return np.inf

    def clear(self):
        """Drop what the last ``forward`` cached."""
        for name in self.cached:
            setattr(self, name, None)


class Affine(Layer):
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

    cached = ("x",)

    def __init__(self, W, b, dW=None, db=None):
        self.W = W
        self.b = b
        self.dW = dW
        self.db = db
        self.x = None
        self._ones = None

    def __call__(self, x, out=None):
        """Return ``x @ W + b`` (into ``out`` if given) without caching anything."""
        if out is None or not isinstance(x, np.ndarray):
            out = _assign(out, x @ self.W)
        else:
            np.matmul(x, self.W, out=out)
        out += self.b
        return out

    def forward(self, x, out=None):
        """Compute ``x @ W + b`` (into ``out`` if given); cache ``x``."""
        self.x = x
        return self(x, out)

    def backward(self, dout, out=None):
        """Store ``dW = x.T @ dout`` and ``db = dout.sum(0)``; return ``dout @ W.T``."""
        self.param_backward(dout)
        if out is None and not isinstance(dout, np.ndarray):
            return dout @ self.W.T
        return np.matmul(dout, self.W.T, out=out)

    def param_backward(self, dout):
        """Store ``dW`` and ``db`` only: the input layer needs no ``dX``."""
        if self.dW is None:
            self.dW = np.empty_like(self.W)
            self.db = np.empty_like(self.b)
        if not isinstance(dout, np.ndarray):
            self.dW[...] = self.x.T @ dout
            self.db[...] = namespace(dout).sum(dout, axis=0)
            return
        if isinstance(self.x, np.ndarray):
            np.matmul(self.x.T, dout, out=self.dW)
        else:
            self.dW[...] = self.x.T @ dout
        # db = dout.sum(axis=0)
        self._ones = _kernels.column_sum(dout, self.db, self._ones)


def _assign(out, value):
    """Return ``value``, copied into ``out`` when ``out`` is another array."""
    if out is None or out is value:
        return value
    out[...] = value
    return out
