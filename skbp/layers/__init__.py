"""Neural-network layers with an explicit ``forward`` / ``backward`` protocol.

Each layer follows the "Deep Learning from Scratch" convention: ``forward``
computes the output and caches what ``backward`` needs; ``backward(dout)``
takes the upstream gradient and returns the gradient with respect to the
layer's input. Calling a layer (``layer(x)``) computes the same output as
``forward`` without touching the cache, so one fitted network can serve
predictions from several threads at once.

No layer writes into its inputs, unless its caller asks for it by passing
the input itself as ``out``, which a layer allows by ``in_place = True``
(see ``Layer``): ``forward`` and ``backward`` take an optional ``out`` array
to write their result into, which the training loop uses to reuse one set of
arrays per batch size. Each layer lists its caches in ``cached`` and drops
them with ``clear()``.

Arrays of other array-API namespaces (PyTorch, CuPy, array-api-strict: see
``skbp._array_api``) take each method's plain formula, written with the
namespace's functions and never given an ``out``; numpy arrays take the
same formula computed in place, into ``out``. A method given an ``out`` is
on numpy (the check that runs at every training step is ``out is None``);
without one, ``isinstance(x, np.ndarray)`` tells the two apart.

The layers by concern: ``affine`` (the protocol ``Layer`` and ``Affine``),
``activations``, ``dropout`` and ``outputs`` (each output layer with its loss).
"""

from .activations import Identity, ReLU, Sigmoid, Tanh
from .affine import Affine, Layer
from .dropout import Dropout
from .outputs import (
    AbsoluteErrorWithLoss,
    GammaWithLoss,
    IdentityWithLoss,
    PoissonWithLoss,
    QuantileWithLoss,
    SigmoidWithLoss,
    SoftmaxWithLoss,
)

__all__ = [
    "AbsoluteErrorWithLoss",
    "Affine",
    "Dropout",
    "GammaWithLoss",
    "Layer",
    "Identity",
    "IdentityWithLoss",
    "PoissonWithLoss",
    "QuantileWithLoss",
    "ReLU",
    "Sigmoid",
    "SigmoidWithLoss",
    "SoftmaxWithLoss",
    "Tanh",
]
