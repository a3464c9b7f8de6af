"""A stack of layers whose parameters all live in one flat array.

Which layers: the registries ``ACTIVATIONS`` (hidden activations by
scikit-learn's name) and ``OUTPUTS`` (output layers keyed by their loss).
Each entry carries what the rest of skbp needs of the layer (docs text,
ONNX operator, overflow bound, initialisation gain, ``out_activation_``);
validation, the docs, ONNX export and the tests read them, so a new
activation or loss is one layer class in ``skbp.layers`` and one entry here
(see docs/extending.rst). ``NetworkSpec`` and ``Network.from_spec`` rebuild
a network at given parameters.
"""

from collections.abc import Callable, Set
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from ._array_api import Space, is_numpy, namespace, to_numpy
from .layers import (
    AbsoluteErrorWithLoss,
    Affine,
    Dropout,
    GammaWithLoss,
    Identity,
    IdentityWithLoss,
    PoissonWithLoss,
    QuantileWithLoss,
    ReLU,
    Sigmoid,
    SigmoidWithLoss,
    SoftmaxWithLoss,
    Tanh,
)


@dataclass(frozen=True)
class Activation:
    """An entry of ``ACTIVATIONS``: a hidden layer and what the package asks of it.

    Attributes
    ----------
    layer : type
        The layer class (a ``skbp.layers.Layer``), built with no arguments.
    doc : str
        Its formula, for the estimators' docstrings.
    onnx_op : str or None
        The ONNX operator computing it; None if it cannot be exported.
    output_bound : callable
        ``output_bound(b)`` bounds ``|output|`` for inputs with ``|x| <= b``
        (the overflow check, ``Network.cannot_overflow``).
    init_gain : float, default=6.0
        ``k`` of the Glorot-uniform initialisation ``sqrt(k / (fan_in +
        fan_out))``: 2 for logistic units, 6 otherwise, as scikit-learn's MLP.
    """

    layer: type
    doc: str
    onnx_op: str | None
    output_bound: Callable[[float], float]
    init_gain: float = 6.0


# Hidden-layer activations by scikit-learn's name.
ACTIVATIONS = {
    "logistic": Activation(
        Sigmoid,
        "the Sigmoid layer ``1 / (1 + exp(-x))``",
        "Sigmoid",
        lambda b: 1.0,
        2.0,
    ),
    "tanh": Activation(Tanh, "``tanh(x)``", "Tanh", lambda b: min(b, 1.0)),
    "relu": Activation(ReLU, "``max(x, 0)``", "Relu", lambda b: b),
    "identity": Activation(Identity, "``x``", "Identity", lambda b: b),
}


@dataclass(frozen=True)
class Output:
    """An entry of ``OUTPUTS``: an output layer with its loss, keyed by the loss.

    Attributes
    ----------
    layer : type
        The output layer class: its prediction link (``__call__``), its
        per-sample loss and gradient, and ``check_targets``.
    estimator : {"classifier", "regressor"}
        Which estimator trains it (a regressor's ``loss`` names it).
    out_activation : str
        The ``out_activation_`` a model with this output reports (MLP's name).
    onnx_op : str or None
        The ONNX operator of its prediction link; None if it cannot be exported.
    doc : str
        What it is, for the estimators' docstrings.
    parameters : dict, default={}
        ``{estimator hyperparameter: layer constructor keyword}``: the loss's
        own parameters, fixed when the model is first fitted.
    """

    layer: type
    estimator: str
    out_activation: str
    onnx_op: str | None
    doc: str
    parameters: dict = field(default_factory=dict)


OUTPUTS = {
    "softmax": Output(
        SoftmaxWithLoss,
        "classifier",
        "softmax",
        "Softmax",
        "softmax output, cross-entropy loss (three classes or more)",
    ),
    "logistic": Output(
        SigmoidWithLoss,
        "classifier",
        "logistic",
        "Sigmoid",
        "one logistic unit per label, binary cross-entropy (binary, multilabel)",
    ),
    "squared_error": Output(
        IdentityWithLoss,
        "regressor",
        "identity",
        "Identity",
        "identity output, trained on half the squared error averaged over "
        "samples and summed over outputs (its gradient), and reported averaged "
        "over outputs, as ``MLPRegressor`` does",
    ),
    "poisson": Output(
        PoissonWithLoss,
        "regressor",
        "exp",
        "Exp",
        "output ``exp(z)`` (the log link) and half the Poisson deviance summed "
        "over outputs, for non-negative ``y`` such as counts",
    ),
    "absolute_error": Output(
        AbsoluteErrorWithLoss,
        "regressor",
        "identity",
        "Identity",
        "identity output and the absolute error summed over outputs (the "
        "conditional median)",
    ),
    "quantile": Output(
        QuantileWithLoss,
        "regressor",
        "identity",
        "Identity",
        "identity output and the pinball loss of ``quantile`` summed over "
        "outputs (the conditional quantile, for prediction intervals)",
        {"quantile": "quantile"},
    ),
    "gamma": Output(
        GammaWithLoss,
        "regressor",
        "exp",
        "Exp",
        "output ``exp(z)`` (the log link) and half the gamma deviance summed "
        "over outputs, for strictly positive ``y``",
    ),
}


def losses(estimator):
    """The keys of ``OUTPUTS`` that ``estimator`` ("classifier", "regressor") trains."""
    return list(LossNames(estimator))


class LossNames(Set):
    """``losses(estimator)`` as a live set: entries registered later count too.

    scikit-learn's ``StrOptions`` keeps the set it is given; given this one,
    validation follows ``OUTPUTS`` as it is when ``fit`` runs.
    """

    def __init__(self, estimator):
        self.estimator = estimator

    def __contains__(self, name):
        entry = OUTPUTS.get(name)
        return entry is not None and entry.estimator == self.estimator

    def __iter__(self):
        return (name for name in OUTPUTS if name in self)

    def __len__(self):
        return sum(1 for _ in self)


# The output names of models saved before OUTPUTS was keyed by the loss.
_LEGACY_OUTPUTS = {"identity": "squared_error", "exp": "poisson"}


@dataclass(frozen=True)
class NetworkSpec:
    """Everything but the parameters that rebuilds a ``Network``.

    Attributes
    ----------
    layer_units : tuple of int
        ``(n_features, *hidden_layer_sizes, n_outputs)``.
    activation : str
        Key of ``ACTIVATIONS``.
    output : str
        Key of ``OUTPUTS``.
    output_params : tuple of (str, object)
        The output layer's constructor arguments.
    dropout : tuple of float
        The dropout rate after each hidden layer; () when none drops.
    """

    layer_units: tuple
    activation: str = "logistic"
    output: str = "softmax"
    output_params: tuple = ()
    dropout: tuple = ()

    def to_state(self):
        """The spec as plain values (pickles, skops files)."""
        return {
            "layer_units": list(self.layer_units),
            "activation": self.activation,
            "output": self.output,
            "output_params": dict(self.output_params),
            "dropout": list(self.dropout),
        }

    @classmethod
    def from_state(cls, state):
        """The spec ``to_state`` gave, or a legacy ``(units, activation, output)``."""
        if not isinstance(state, dict):  # saved by skbp before the spec existed
            units, activation, output = state
            state = {"layer_units": units, "activation": activation, "output": output}
        output = _LEGACY_OUTPUTS.get(state["output"], state["output"])
        if output not in OUTPUTS or state["activation"] not in ACTIVATIONS:
            raise ValueError(
                f"This model's network (activation={state['activation']!r}, output="
                f"{state['output']!r}) uses a layer this skbp does not have; load "
                "it with the skbp version that saved it."
            )
        return cls(
            tuple(int(n) for n in state["layer_units"]),
            state["activation"],
            output,
            tuple(sorted(state.get("output_params", {}).items())),
            tuple(float(rate) for rate in state.get("dropout", ())),
        )


class Network:
    """Affine -> activation -> ... -> Affine -> SoftmaxWithLoss over flat parameters.

    All weights and biases are views into ``params`` (laid out layer by
    layer as ``W1, b1, W2, b2, ...``, each ``W`` in C order), and every
    ``Affine.backward`` writes into views of ``grads``, which has the same
    layout. Optimizers, numerical differentiation and persistence therefore
    work on single arrays. ``params`` may be an array of another array-API
    namespace (a torch tensor on a GPU, say): the network then computes
    there, with each layer's plain formulas and no scratch arrays.

    Parameters
    ----------
    layer_units : sequence of int
        ``[n_features, *hidden_layer_sizes, n_classes]``.
    params : ndarray of shape (n_params,), optional
        Flat parameter vector to wrap (not copied). Zeros when omitted.
    activation : str, default="logistic"
        Hidden-layer activation, a key of ``ACTIVATIONS``.
    output : str, default="softmax"
        Output layer with its loss, a key of ``OUTPUTS``.
    dtype : dtype, default=np.float64
        Dtype of a newly allocated ``params``.
    output_params : dict, optional
        Constructor arguments of the output layer (the loss's parameters).
    dropout : sequence of float, default=()
        Dropout rate after each hidden layer's activation (a ``Dropout``
        layer where it is not 0); () for none.
    """

    def __init__(
        self,
        layer_units,
        params=None,
        activation="logistic",
        output="softmax",
        dtype=np.float64,
        output_params=None,
        dropout=(),
    ):
        self.layer_units = [int(n) for n in layer_units]
        self.activation = activation
        self.output = output
        self.output_params = dict(output_params or {})
        self.dropout = tuple(dropout)
        self.shapes = list(pairwise(self.layer_units))
        n_params = sum(n_in * n_out + n_out for n_in, n_out in self.shapes)
        if params is None:
            params = np.zeros(n_params, dtype=dtype)
        if params.shape != (n_params,):
            raise ValueError(
                f"params has shape {params.shape}, expected ({n_params},) "
                f"for layer_units={self.layer_units}."
            )
        self.params = params
        # Where it computes (see _array_api): None on numpy, the layers'
        # in-place kernels; else their plain formulas, on that device.
        self.space = Space.of_array(params)
        # Where each W lies in params (the L2 term, computed at every step).
        self._weight_slices = [
            sl for name, sl, _ in self.param_slices() if name[0] == "W"
        ]
        self._grads = None  # allocated by the first use: a predicting model has none
        self.coefs = self._views(params, "W")
        self.intercepts = self._views(params, "b")
        self.affines = [
            Affine(W, b) for W, b in zip(self.coefs, self.intercepts, strict=True)
        ]
        self.layers = []
        rates = self.dropout or (0.0,) * (len(self.affines) - 1)
        for affine, rate in zip(self.affines[:-1], rates, strict=True):
            self.layers += [affine, ACTIVATIONS[activation].layer()]
            self.layers += [Dropout(rate)] if rate else []
        self.layers.append(self.affines[-1])
        self.dropouts = [layer for layer in self.layers if isinstance(layer, Dropout)]
        self._predicting_layers = [x for x in self.layers if not x.training_only]
        self._upper_layers_reversed = self.layers[:0:-1]  # backward's order
        self.loss_layer = self.new_loss_layer()
        self._scratch_by_size = {}

    @classmethod
    def from_spec(cls, spec, params):
        """The network ``spec`` describes, wrapping the flat vector ``params``."""
        return cls(
            spec.layer_units,
            params,
            spec.activation,
            spec.output,
            output_params=dict(spec.output_params),
            dropout=spec.dropout,
        )

    def on(self, space):
        """This network with its parameters on ``space`` (None: the host, numpy).

        Itself if they are there already; else a new network (no caches)
        holding the parameters moved there.
        """
        if space == self.space:
            return self
        params = to_numpy(self.params) if space is None else space.put(self.params)
        return Network.from_spec(self.spec, params)

    @property
    def spec(self):
        """The ``NetworkSpec`` that rebuilds this network (with ``from_spec``)."""
        return NetworkSpec(
            tuple(self.layer_units),
            self.activation,
            self.output,
            tuple(sorted(self.output_params.items())),
            self.dropout,
        )

    def new_loss_layer(self):
        """A fresh output layer of this network's kind (its own caches)."""
        return OUTPUTS[self.output].layer(**self.output_params)

    def draw_masks(self, rng, n_samples):
        """Draw each ``Dropout`` layer's mask for a batch (no draw without dropout).

        Drawn on the host from ``rng`` whatever the parameters' namespace,
        then moved to theirs: the same seed drops the same units everywhere.
        """
        if not self.dropouts:
            return
        for layer in self.dropouts:
            shape = (n_samples, layer_width(self.layers, layer))
            layer.draw_mask(rng, shape, self.dtype)
            if self.space is not None:
                layer.mask = self.space.put(layer.mask)

    @property
    def masks(self):
        """The masks of the ``Dropout`` layers, in order (set by ``draw_masks``)."""
        return [layer.mask for layer in self.dropouts]

    @masks.setter
    def masks(self, masks):
        for layer, mask in zip(self.dropouts, masks, strict=True):
            layer.mask = mask

    @property
    def grads(self):
        """Flat gradient laid out as ``params``; the Affines' ``dW``, ``db`` view it."""
        if self._grads is None:
            self._grads = namespace(self.params).zeros_like(self.params)
            dWs, dbs = self._views(self._grads, "W"), self._views(self._grads, "b")
            for affine, dW, db in zip(self.affines, dWs, dbs, strict=True):
                affine.dW, affine.db = dW, db
        return self._grads

    @property
    def dtype(self):
        """Dtype of the parameters, as a numpy dtype whatever their namespace."""
        if self.space is None:
            return self.params.dtype
        bits = namespace(self.params).finfo(self.params.dtype).bits
        return np.dtype(f"float{bits}")

    def param_slices(self):
        """Yield ``(name, slice, shape)`` for ``W1, b1, W2, b2, ...`` in ``params``."""
        start = 0
        for k, (n_in, n_out) in enumerate(self.shapes, start=1):
            yield f"W{k}", slice(start, start + n_in * n_out), (n_in, n_out)
            start += n_in * n_out
            yield f"b{k}", slice(start, start + n_out), (n_out,)
            start += n_out

    def _views(self, flat, kind):
        reshape = namespace(flat).reshape
        return [
            flat[sl].reshape(shape) if is_numpy(flat) else reshape(flat[sl], shape)
            for name, sl, shape in self.param_slices()
            if name[0] == kind
        ]

    def penalty_scale(self, n_samples, sample_weight, alpha):
        """Factor ``c`` of the L2 term ``c * sum(W**2)``: ``alpha / (2 sum(w))``."""
        if sample_weight is None:
            total = n_samples
        elif is_numpy(sample_weight):
            total = sample_weight.sum()
        else:
            total = float(namespace(sample_weight).sum(sample_weight))
        return 0.5 * alpha / total

    def squared_weights(self, params=None):
        """Return ``[sum(W1**2), sum(W2**2), ...]`` (biases excluded).

        Of the network's parameters, or of the flat vector ``params`` of the
        same layout.
        """
        flat = self.params if params is None else params
        if isinstance(flat, np.ndarray):
            dot = np.dot
        else:
            xp = namespace(flat)
            dot = lambda a, b: xp.sum(a * b)  # noqa: E731
        return [float(dot(flat[sl], flat[sl])) for sl in self._weight_slices]

    def l2_penalty(self, n_samples, sample_weight, alpha, params=None):
        """The L2 term ``0.5 * alpha * sum(W**2) / sum(w)`` (0.0 when ``alpha`` is 0).

        Of the network's weights, or of the flat vector ``params``.
        """
        scale = self.penalty_scale(n_samples, sample_weight, alpha) if alpha else 0.0
        return self._penalty(scale, params)

    def _penalty(self, scale, params=None):
        """``scale * sum(W**2)``, 0.0 without computing the sum when ``scale`` is 0."""
        return scale * sum(self.squared_weights(params)) if scale else 0.0

    def reported_loss(self, objective, n_samples, sample_weight, alpha, params=None):
        """The loss reported (``loss_``, ``tol``) from the objective trained on.

        ``objective`` is the loss the gradients differentiate (what
        ``forward`` returns) at ``params`` (default: the network's). The two
        differ only for an output layer whose ``reported_divisor`` is not 1
        (see ``report``): the L2 term is then recomputed to separate it.
        """
        if self.reported_divisor == 1:
            return objective
        penalty = self.l2_penalty(n_samples, sample_weight, alpha, params)
        return self.report(objective - penalty, penalty)

    def report(self, data_loss, penalty):
        """The reported loss: the output layer's data term as reported, plus L2.

        ``MLPRegressor`` trains on the gradient of the squared error summed
        over outputs but reports its mean over outputs (the L2 term
        unchanged): its output layer says so by ``reports_mean_over_outputs``.
        """
        return data_loss / self.reported_divisor + penalty

    @property
    def reported_divisor(self):
        """What the reported loss divides the objective's data term by."""
        if self.loss_layer.reports_mean_over_outputs:
            return self.layer_units[-1]
        return 1

    def forward(self, X, T, sample_weight=None, alpha=0.0):
        """Run a training forward pass (layers cache activations); return the loss.

        ``T`` holds one-hot rows or class indices. The loss is the
        (``sample_weight``-weighted) mean cross-entropy plus
        ``0.5 * alpha * sum(W**2) / sum(sample_weight)`` (``n_samples`` when
        unweighted), as in scikit-learn. Every intermediate array is written
        into scratch kept for this batch size (see ``clear_cache``): each
        Affine into its own, each activation and the loss layer in place over
        the Affine output they receive (which no ``backward`` needs).
        """
        forward_out, _ = self._scratch(X.shape[0])
        in_place = self.space is None  # other namespaces: no out arrays
        x = X
        for layer, out in zip(self.layers, forward_out, strict=True):
            x = layer.forward(x, out if out is not None or not in_place else x)
        loss = self.loss_layer.forward(
            x, T, sample_weight, x if self.loss_layer.in_place and in_place else None
        )
        self._l2 = self.penalty_scale(X.shape[0], sample_weight, alpha) if alpha else 0
        return loss + self._penalty(self._l2)

    def backward(self):
        """Backpropagate from the loss of the last ``forward``; fill ``grads``."""
        grads = self.grads  # the Affines write into views of it
        _, backward_out = self._scratch(self.loss_layer.y.shape[0])
        dout = self.loss_layer.backward(1.0, backward_out[-1])
        for layer, out in zip(
            self._upper_layers_reversed, backward_out[-2::-1], strict=True
        ):
            dout = layer.backward(dout, out)
        self.layers[0].param_backward(dout)
        if self._l2:
            for affine in self.affines:
                affine.dW += (2 * self._l2) * affine.W
        return grads

    def _scratch(self, n_samples):
        """Output arrays of each layer's forward and backward for a batch size.

        Forward: one per layer, None for those working in place (``in_place``);
        backward: the gradient each layer above the first returns, ordered as
        the layers, then the loss layer's. Kept for the last two batch sizes
        (an epoch has at most two). All None for other namespaces than numpy.
        """
        if self.space is not None:
            nothing = [None] * len(self.layers)
            return nothing, nothing
        scratch = self._scratch_by_size.get(n_samples)
        if scratch is None:
            if len(self._scratch_by_size) >= 2:
                self._scratch_by_size.clear()
            shapes = [(n_samples, layer_width(self.layers, x)) for x in self.layers]
            forward_out = [
                None if layer.in_place else np.empty(shape, self.dtype)
                for layer, shape in zip(self.layers, shapes, strict=True)
            ]
            backward_out = [np.empty(shape, self.dtype) for shape in shapes]
            scratch = self._scratch_by_size[n_samples] = (forward_out, backward_out)
        return scratch

    def logits(self, X):
        """Return the output layer's input for ``X``, touching no layer cache.

        A prediction: the layers that act only in training (dropout) are skipped.
        """
        return apply_layers(self._predicting_layers, X)

    def cannot_overflow(self, x_bound):
        """Whether no output or prediction can overflow for ``|x| <= x_bound``.

        Layer by layer, ``|x @ W + b| <= x_bound * max_j sum_i |W_ij| + max|b|``,
        and each activation bounds its output given that bound
        (``Activation.output_bound``). Rounding can make a computed sum exceed its
        exact bound by a factor of at most ``1 + n * eps`` (``n`` terms), so
        the bound is compared with the float range divided by that factor
        and by 2. A few passes over the weights, none over the data.
        """
        finfo = np.finfo(self.dtype)
        fan_in = max(n_in for n_in, _ in self.shapes) + 1  # the bias is a term
        if not fan_in * finfo.eps < 1:
            return False
        limit = float(finfo.max) / (2 * (1 + fan_in * float(finfo.eps)))
        activation_bound = ACTIVATIONS[self.activation].output_bound
        bound = float(x_bound)
        for k, affine in enumerate(self.affines):
            if k:
                bound = activation_bound(bound)
            W, b = to_numpy(affine.W), to_numpy(affine.b)
            column_sums = np.abs(W).sum(axis=0, dtype=np.float64)
            bound = bound * float(column_sums.max()) + float(np.abs(b).max())
            if not bound <= limit:  # also False for NaN
                return False
        # The output layer's prediction (exp for Poisson) must be finite too.
        return bound <= self.loss_layer.largest_finite_input(self.dtype)

    def clear_cache(self):
        """Drop what the last training pass cached (each layer's ``clear()``)."""
        for layer in [*self.layers, self.loss_layer]:
            layer.clear()
        self._scratch_by_size.clear()


def layer_width(layers, layer):
    """Units of ``layer``'s output: those of the last Affine up to it in ``layers``."""
    below = layers[: layers.index(layer) + 1]
    return next(x.W.shape[1] for x in reversed(below) if isinstance(x, Affine))


def apply_layers(layers, x):
    """Run ``layers`` on ``x`` without caching; ``in_place`` layers work in place.

    Such a layer overwrites the output of the layer below, which is scratch,
    so ``layers`` must start with one that is not (``x`` is never written).
    Arrays of other namespaces than numpy are never written in place.
    """
    in_place = is_numpy(x)
    for layer in layers:
        x = layer(x, out=x) if layer.in_place and in_place else layer(x)
    return x
