"""Inverted dropout, the one layer that acts only while training."""

from .._array_api import namespace
from .affine import Layer, _assign


class Dropout(Layer):
    """Inverted dropout ``y = x * mask``; ``dx = dout * mask``.

    ``mask`` holds, for each sample and unit, 0 (dropped, with probability
    ``rate``) or ``1 / (1 - rate)`` (kept), so that the expected output is
    ``x`` and predictions, which skip this layer (``training_only``), need
    no rescaling. The training step sets the mask (``draw_mask``) and keeps
    it for every forward pass of the step, so that both gradients
    differentiate the same function.

    Parameters
    ----------
    rate : float
        Probability of dropping each unit, in [0, 1).

    Attributes
    ----------
    mask : ndarray of shape (n_samples, n_units) or None
        The mask of the current training step.

    Examples
    --------
    >>> import numpy as np
    >>> from skbp.layers import Dropout
    >>> layer = Dropout(0.5)
    >>> layer.mask = np.array([[2.0, 0.0, 2.0]])
    >>> layer.forward(np.array([[1.0, 2.0, 3.0]]))
    array([[2., 0., 6.]])
    >>> layer.backward(np.ones((1, 3)))
    array([[2., 0., 2.]])
    """

    # Not in place: its input is the activation's output, which that caches.
    cached = ("mask",)
    training_only = True

    def __init__(self, rate):
        self.rate = rate
        self.mask = None

    def draw_mask(self, rng, shape, dtype):
        """Set a new ``mask`` of ``shape``, keeping each unit with ``1 - rate``."""
        keep = rng.random_sample(shape) >= self.rate
        self.mask = keep.astype(dtype) / dtype.type(1 - self.rate)

    def for_rows(self, rows):
        """A dropout layer holding the mask of these rows of the batch only."""
        block = Dropout(self.rate)
        block.mask = self.mask[rows, ...]
        return block

    def __call__(self, x, out=None):
        """Return ``x * mask`` (into ``out`` if given) without caching anything.

        ``x`` may also hold stacked copies of the mask's rows, copy by copy
        within each row (the numerical gradient's perturbed forward passes):
        every copy of a row gets that row's mask.
        """
        n_rows, n_units = self.mask.shape
        if x.shape[0] == n_rows:
            return _assign(out, x * self.mask)
        reshape = namespace(x).reshape
        copies = reshape(x, (n_rows, -1, n_units))
        return _assign(out, reshape(copies * self.mask[:, None, :], x.shape))

    def forward(self, x, out=None):
        """Return ``x * mask`` (into ``out`` if given); the mask is the step's."""
        return self(x, out)

    def backward(self, dout, out=None):
        """Return ``dout * mask`` (into ``out`` if given, not ``dout``)."""
        return _assign(out, dout * self.mask)
