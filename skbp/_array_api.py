"""Arrays of other libraries than numpy (PyTorch, CuPy, array-api-strict).

With ``sklearn.set_config(array_api_dispatch=True)``, an estimator given an
``X`` of another array-API namespace trains and predicts on that namespace
and device: the flat parameter vector lives there, and the layers, the
optimizers and both gradients compute with the namespace's functions (each
layer's plain formula; numpy keeps its in-place kernels). The data are
validated and the targets encoded on the host, with numpy, once per call
(labels, weights and checks are small beside the training arithmetic);
the arrays training reads are then moved to the device.

``Space`` is the namespace and device of a fit or of a prediction;
``namespace`` gives the functions of one array, whatever its library.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn import get_config
from sklearn.externals import array_api_compat
from sklearn.utils._array_api import move_to

_NUMPY = array_api_compat.array_namespace(np.empty(0))


def is_numpy(x):
    """Whether ``x`` is a numpy array or a scipy sparse matrix (numpy's kernels)."""
    return isinstance(x, np.ndarray) or sp.issparse(x)


# Namespaces by array type: one lookup per type, not one per call (the layers
# ask for every array they compute with).
_NAMESPACES = {np.ndarray: _NUMPY}


def namespace(x):
    """The array-API namespace of ``x`` (numpy's compatible wrapper for numpy)."""
    xp = _NAMESPACES.get(type(x))
    if xp is None:
        xp = _NAMESPACES[type(x)] = array_api_compat.array_namespace(x)
    return xp


def copied(x):
    """A copy of the array ``x``, in its own namespace and on its device."""
    return namespace(x).asarray(x, copy=True)


def to_numpy(x):
    """``x`` as a numpy array on the host (numpy arrays are returned as they are).

    Floats numpy has no dtype for (PyTorch's bfloat16) come as float32,
    which holds them exactly.
    """
    if x is None or is_numpy(x) or not array_api_compat.is_array_api_obj(x):
        return x  # lists, data frames: validation converts them
    if str(x.dtype).endswith("bfloat16"):
        x = namespace(x).astype(x, namespace(x).float32)
    return move_to(x, xp=_NUMPY, device="cpu")


def like(x, ref):
    """``x`` on the namespace and device of ``ref`` (``x`` itself if already there).

    Compared here rather than by ``move_to``, which with dispatch off takes
    every array for a numpy one.
    """
    xp, device = namespace(ref), array_api_compat.device(ref)
    if namespace(x) is xp and array_api_compat.device(x) == device:
        return x
    return move_to(x, xp=xp, device=device)


@dataclass(frozen=True)
class Space:
    """An array namespace and device that training or prediction runs on.

    Attributes
    ----------
    xp : module
        The namespace (``array_api_compat``'s wrapper for torch, numpy).
    device : object
        The device of its arrays (``"cpu"``, ``torch.device("cuda:0")``, ...).
    """

    xp: object
    device: object

    @classmethod
    def of(cls, X):
        """The space of ``X`` when dispatch is on and it is not numpy; else None.

        scikit-learn's ``array_api_dispatch`` config decides, as for its own
        estimators: off, other arrays are converted with ``np.asarray``.
        """
        if is_numpy(X) or not get_config()["array_api_dispatch"]:
            return None
        if not array_api_compat.is_array_api_obj(X):
            return None  # lists, pandas frames: validated into numpy
        return cls(array_api_compat.array_namespace(X), array_api_compat.device(X))

    @classmethod
    def continuing(cls, X, params):
        """Where a fit on ``X`` that continues the model of ``params`` runs.

        With dispatch on, ``X``'s space (None for numpy ``X``), as for a new
        fit: the model then predicts arrays like ``X``, as scikit-learn's
        checks ask. With it off, the model's own space: it trains on there.
        """
        if get_config()["array_api_dispatch"]:
            return cls.of(X)
        return cls.of_array(params)

    @classmethod
    def of_array(cls, x):
        """The space of an array of another namespace than numpy; None for numpy."""
        if is_numpy(x):
            return None
        return cls(namespace(x), array_api_compat.device(x))

    def put(self, x):
        """``x`` (numpy, or None) moved to this namespace and device."""
        if x is None:
            return None
        return move_to(x, xp=self.xp, device=self.device)
