"""What every skbp estimator shares: parameters, validation, fitting, prediction blocks.

Each estimator's ``__init__`` is ``estimator_init(**its_own_parameters)``:
the shared parameters are declared once, in ``BaseBP.__init__``.
Subclasses say what is particular to them through a few hooks:
``_encode_targets`` (validate ``y``, set ``out_activation_`` and
``n_outputs_``, and return the training targets), ``_output_loss`` (the
output layer of a new network, a key of ``OUTPUTS``),
``_sample_weight_by_target`` (extra weights, such as ``class_weight``),
``_stratify_labels``, ``_validation_score`` and ``_decode_targets`` (early
stopping), and ``_check_fitted_model``.
"""

import copy
import functools
import inspect
import warnings
from dataclasses import replace
from itertools import pairwise
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn import config_context, get_config
from sklearn.base import BaseEstimator, _fit_context
from sklearn.exceptions import DataConversionWarning
from sklearn.metrics import get_scorer
from sklearn.utils import check_random_state
from sklearn.utils._array_api import check_same_namespace
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import (
    _assert_all_finite,
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from . import _callbacks, _training, _warnings
from ._array_api import Space, copied, is_numpy, namespace, to_numpy
from ._version import __version__
from .gradients import GRADIENTS
from .network import ACTIVATIONS, OUTPUTS, Network, NetworkSpec
from .optimizers import SOLVERS, stochastic_solvers

# Rows per block in prediction: working memory stays bounded for any n_samples.
_PREDICT_CHUNK_ROWS = 4096
# Integer hyperparameters for which True/False are mistakes, not 1/0.
_INTEGER_PARAMS = ("hidden_layer_sizes", "batch_size", "max_iter", "max_fun")
# Callback state of a running fit (scikit-learn's, then skbp's): never pickled
# nor published (skbp keeps its own off the estimator: see FitTasks). Callbacks
# registered with set_callbacks stay registered, as in scikit-learn.
_FIT_TIME_ATTRIBUTES = (
    "_callback_fit_ctx",
    "_skl_callbacks_to_teardown",
    "_parent_callback_ctx",
    "_fit_tasks",
)


# Private attributes that configure the estimator rather than describe its
# fit (scikit-learn's callbacks and metadata requests, set_output's): a fit
# publishes the others, with the public ones ending with an underscore.
_CONFIGURATION = (
    "_skl_callbacks",
    "_parent_callback_ctx",
    "_metadata_request",
    "_sklearn_output_config",
    *_FIT_TIME_ATTRIBUTES,
)


def _is_fitted_state(name):
    """Whether the attribute ``name`` is part of what a fit publishes."""
    if name.startswith("_"):
        return not name.startswith("__") and name not in _CONFIGURATION
    return name.endswith("_")


def partial_fit_context(fit_method):
    """scikit-learn's ``_fit_context`` for ``partial_fit``, validating on every call.

    scikit-learn skips the validation for ``partial_fit`` on a fitted
    estimator; here parameters changed with ``set_params`` since are checked
    as ``fit`` checks them. The callbacks are managed by ``FitTasks``.
    """

    @functools.wraps(fit_method)
    def wrapper(estimator, *args, **kwargs):
        if not get_config()["skip_parameter_validation"]:
            estimator._validate_params()
        with config_context(skip_parameter_validation=True):
            return fit_method(estimator, *args, **kwargs)

    return wrapper


def _check_solver(self):
    if self.solver not in stochastic_solvers():  # an invalid name too
        raise AttributeError(
            "partial_fit is only available for stochastic solvers "
            f"{stochastic_solvers()}; solver={self.solver!r} is not stochastic."
        )
    return True


class BaseBP(_callbacks.CallbackSupportMixin, BaseEstimator):
    """Shared machinery of ``BPClassifier`` and ``BPRegressor``.

    Training works on a copy of the estimator's state; at the end of each
    ``fit``, once the callbacks are done, the fitted state (the network,
    ``_network``, and the fitted attributes) is published in one assignment:
    a thread predicting meanwhile sees the old model or the new one, never a
    mix, a fit that fails leaves the estimator exactly as it was, and
    parameters set during the fit stand.
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(ACTIVATIONS.keys())],
        "solver": [StrOptions(SOLVERS.keys())],  # a live view: the registry
        "gradient": [StrOptions(set(GRADIENTS))],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "dropout": [Interval(Real, 0, 1, closed="left"), "array-like"],
        "batch_size": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
        ],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="left")],
        "scoring": [str, callable, None],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "weight_init_std": [Interval(Real, 0, None, closed="neither"), None],
        "numerical_step": [Interval(Real, 0, None, closed="neither")],
    }

    # Lists that the copies made during a fit share (see _callbacks.SharedPrefix).
    loss_curve_ = _callbacks.HistoryAttribute()
    validation_scores_ = _callbacks.HistoryAttribute()
    validation_loss_curve_ = _callbacks.HistoryAttribute()

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="logistic",
        *,
        solver="adam",
        gradient="backprop",
        alpha=0.0001,
        dropout=0.0,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=0,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        scoring=None,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        weight_init_std=None,
        numerical_step=1e-4,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.gradient = gradient
        self.alpha = alpha
        self.dropout = dropout
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.scoring = scoring
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.weight_init_std = weight_init_std
        self.numerical_step = numerical_step

    # ------------------------------------------------------------ fitting ---

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the network on ``(X, y)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data (float32 data trains float32 parameters).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets: class labels (two classes or more) or a 0/1 indicator
            matrix for ``BPClassifier``; values for ``BPRegressor``
            (non-negative with ``loss="poisson"``).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; a weight of 2 counts a row twice.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._guarded_fit(X, y, sample_weight, incremental=False)

    @available_if(_check_solver)
    @partial_fit_context
    def partial_fit(self, X, y, sample_weight=None):
        """Train for one epoch on ``(X, y)``, continuing from the current model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets, of the kind and number of outputs of the earlier calls.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._guarded_fit(X, y, sample_weight, incremental=True)

    def _guarded_fit(self, X, y, sample_weight, incremental, classes=None):
        """Fit a working copy of the state; publish its model at the end.

        The estimator changes only after the callbacks' root task has ended
        and they are torn down: an error until then, theirs too, leaves it
        as it was. An interrupt (Ctrl-C) once training has ended, in the
        final checks, the callbacks' last hooks or the publishing, keeps the
        trained model, as one during training does.
        """
        work = self._copy_state()
        previous = work.__dict__.get("_network")
        try:
            with _callbacks.FitTasks.open(
                self, work, X, y, sample_weight, incremental
            ) as tasks:
                work._fit_tasks = tasks  # read by the training loops
                work._fit(X, y, sample_weight, incremental, classes)
                if tasks is not None:
                    tasks.end(work)
        except KeyboardInterrupt:
            if work.__dict__.get("_network") is previous:
                raise  # interrupted before training ended: nothing to keep
            interrupted = True
        else:
            interrupted = False
        try:
            self._publish(work)
        except KeyboardInterrupt:  # publishing again is harmless: finish it
            self._publish(work)
            interrupted = True
        if interrupted:
            _warnings.warn(
                "Training was interrupted by user after its last step; the model "
                "is the one training ended with (its final checks, or callbacks' "
                "last hooks, may not have run).",
                UserWarning,
            )
        return self

    def _publish(self, work):
        """Make the working copy's fitted state the estimator's, in one assignment.

        The fitted state (attributes ending with an underscore, private ones
        but the configuration in ``_CONFIGURATION``) comes from ``work``;
        everything else (hyperparameters, callbacks, metadata requests) from
        the estimator as it is now, so ``set_params`` or ``set_callbacks``
        called during the fit stand.
        """
        fitted = _callbacks.materialized(
            {k: v for k, v in work.__dict__.items() if _is_fitted_state(k)}
        )
        if work.__dict__.get("_fit_tasks") is not None:
            for name in _callbacks.HISTORY:  # callbacks' copies share these lists
                if isinstance(fitted.get(name), list):
                    fitted[name] = list(fitted[name])
        kept = {k: v for k, v in self.__dict__.items() if not _is_fitted_state(k)}
        self.__dict__ = {**kept, **fitted}

    def _fit(self, X, y, sample_weight, incremental, classes):
        network, X, T, sample_weight, rng, x_bound, space = self._prepare(
            X, y, sample_weight, incremental, classes, train=True
        )
        network = network.on(space)  # training runs on X's namespace and device
        self._announce(network, X.shape[0])
        # Overflow is detected (the loss or weights turn non-finite) and
        # reported as a ValueError that says what to do, rather than as warnings.
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                if SOLVERS[self.solver].full_batch:
                    completed = _training.fit_lbfgs(self, network, X, T, sample_weight)
                else:
                    completed = _training.fit_stochastic(
                        self, network, X, T, sample_weight, rng, incremental
                    )
        finally:
            network.clear_cache()
        # Without the training buffers (gradient, scratch, caches).
        self._network = Network.from_spec(network.spec, network.params)
        self._check_fitted_model(
            network.on(None), X, T, x_bound, whole_fit=completed and not incremental
        )

    def _prepare(self, X, y, sample_weight, incremental, classes, train):
        """Validate and encode the data for a fit.

        Return ``(network, X, T, sample_weight, rng, x_bound, space)``:
        ``network`` holds a copy of the current parameters (on the host) when
        training continues, fresh initial parameters otherwise; with ``train=False``
        (``gradient_check``) it is float64 and no history is touched. Sets the
        fitted attributes that describe the data on ``self``, which is a
        working copy. ``x_bound`` bounds ``|X|`` (see ``_finite_input_bound``).
        ``space`` is where training runs (``_array_api.Space``; None: numpy):
        the data are validated and encoded on the host in any case.
        """
        first_pass = not hasattr(self, "_network") or not (
            self.warm_start or incremental
        )
        # Arrays of another namespace (dispatch on): validated on the host.
        if first_pass:
            space = Space.of(X)
        else:
            space = Space.continuing(X, self._network.params)
        X, y, sample_weight = to_numpy(X), to_numpy(y), to_numpy(sample_weight)
        if first_pass:
            dtype = (np.float64, np.float32) if train else np.float64
        else:
            dtype = self._network.dtype if train else np.float64
        hidden_sizes = self._hidden_sizes()  # first, as MLPClassifier checks them
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse="csr",
            dtype=dtype,
            multi_output=True,
            reset=first_pass,
            ensure_all_finite=False,  # checked below, in the pass that bounds |X|
        )
        x_bound = _finite_input_bound(X, type(self).__name__)
        if sp.issparse(y):
            y = y.toarray()
        if y.ndim == 2 and y.shape[1] == 1:  # as scikit-learn: a 1-D y, with a warning
            _warnings.warn(
                "A column-vector y was passed when a 1d array was expected. Please "
                "change the shape of y to (n_samples,), for example using ravel().",
                DataConversionWarning,
            )
            y = y.ravel()
        T = self._encode_targets(y, X.dtype, first_pass, incremental, classes)
        if train:  # after the data, so its warnings come first, as MLPClassifier's
            self._check_combinations(incremental)
        sample_weight = self._combined_sample_weight(sample_weight, X, T, incremental)
        layer_units = [X.shape[1], *hidden_sizes, self.n_outputs_]
        self.n_layers_ = len(layer_units)
        rng = check_random_state(self.random_state)
        dropout = self._dropout_rates(len(hidden_sizes))
        if first_pass:
            spec = self._network_spec(layer_units, dropout)
            params = self._init_params(layer_units, X.dtype, rng)
            if train:
                self._reset_history()
        elif layer_units != self._network.layer_units:
            raise ValueError(
                "Continuing training needs the network shape of the previous fit: "
                f"layer units {self._network.layer_units}, got {layer_units}. "
                "Set warm_start=False to start afresh."
            )
        else:
            spec = replace(self._network.spec, dropout=dropout)
            self._check_same_loss_parameters(spec)
            params = to_numpy(self._network.params).astype(X.dtype)  # a copy
            self.loss_curve_ = list(self.loss_curve_)
        if train:
            self._start_call()
        network = Network.from_spec(spec, params)
        return network, X, T, sample_weight, rng, x_bound, space

    def _network_spec(self, layer_units, dropout):
        """The spec of a new network: the hyperparameters, the subclass's output."""
        output = self._output_loss()
        parameters = OUTPUTS[output].parameters.items()
        output_params = tuple(sorted((kw, getattr(self, p)) for p, kw in parameters))
        return NetworkSpec(
            tuple(layer_units), self.activation, output, output_params, dropout
        )

    def _dropout_rates(self, n_hidden):
        """``dropout`` as one rate per hidden layer; () when none drops."""
        if isinstance(self.dropout, Real):  # the usual case: no array to build
            rates = [self.dropout]
        else:
            rates = np.asarray(self.dropout, dtype=object)
            rates = list(rates) if rates.ndim == 1 else None
        if rates is None or len(rates) not in (1, n_hidden):
            raise ValueError(
                f"dropout must be a float or one rate per hidden layer: got "
                f"{self.dropout!r} for {n_hidden} hidden layer(s) "
                f"(hidden_layer_sizes={self.hidden_layer_sizes!r})."
            )
        if not all(
            isinstance(r, Real) and not isinstance(r, bool) and 0 <= r < 1
            for r in rates
        ):
            raise ValueError(
                f"Each dropout rate must be a float in [0, 1); got {self.dropout!r}."
            )
        rates = tuple(float(r) for r in rates) * (n_hidden // len(rates))
        if not any(rates):
            return ()
        if SOLVERS[self.solver].full_batch:
            raise ValueError(
                f"dropout={self.dropout!r} needs a stochastic solver "
                f"({' or '.join(map(repr, stochastic_solvers()))}), not "
                f"solver={self.solver!r}: L-BFGS "
                "minimises one fixed function, which a new mask at each "
                "evaluation would change under its line search, and one mask "
                "for the whole run would train a single thinned network. Choose "
                "one of those solvers, or set dropout=0."
            )
        return rates

    def _output_loss(self):
        """The key in ``OUTPUTS`` of a new network's output layer (after encoding)."""
        raise NotImplementedError

    def _check_same_loss_parameters(self, spec):
        """Raise if a loss parameter (``quantile``) changed since the first fit."""
        fitted = dict(spec.output_params)
        for parameter, keyword in OUTPUTS[spec.output].parameters.items():
            if getattr(self, parameter) != fitted[keyword]:
                raise ValueError(
                    f"{parameter}={getattr(self, parameter)!r} differs from the "
                    f"value the model was fitted with ({fitted[keyword]!r}): a "
                    "loss's parameters are fixed by the first fit. Set it back to "
                    "continue training, or set warm_start=False (or call fit, "
                    "after partial_fit) to train a new model."
                )

    def _check_combinations(self, incremental):
        """Raise for parameter values that are invalid only together."""
        for name in _INTEGER_PARAMS:
            value = getattr(self, name)
            if isinstance(value, bool) or (
                isinstance(value, list | tuple)
                and any(isinstance(v, bool) for v in value)
            ):
                raise ValueError(
                    f"{name} must be an int (or, for hidden_layer_sizes, a sequence "
                    f"of ints), not a bool: got {value!r}."
                )
        if self.early_stopping and not 0 < self.validation_fraction < 1:
            raise ValueError(
                "validation_fraction must be in the open interval (0, 1) when "
                f"early_stopping=True; got {self.validation_fraction!r}."
            )
        if isinstance(self.scoring, str) and self.scoring != "loss":
            get_scorer(self.scoring)  # a ValueError that says where to find names
        if incremental and self.early_stopping:
            raise ValueError(
                "partial_fit does not support early_stopping=True: there is no "
                "held-out set across calls. Use fit, or set early_stopping=False."
            )

    def _hidden_sizes(self):
        sizes = np.atleast_1d(self.hidden_layer_sizes)
        if (
            sizes.ndim != 1
            or sizes.size == 0
            or not all(isinstance(s, Integral) and s > 0 for s in sizes.tolist())
        ):
            raise ValueError(
                "hidden_layer_sizes must be a positive int or a non-empty sequence of "
                f"positive ints, got {self.hidden_layer_sizes!r}."
            )
        return [int(s) for s in sizes]

    def _combined_sample_weight(self, sample_weight, X, T, incremental):
        """``sample_weight`` times the subclass's weights; None when unweighted.

        Weights are relative: weights whose mean lies outside ``2**-64 ..
        2**64`` (say ``1e307`` or ``1e-320`` per row, whose sum over- or
        underflows) are rescaled by a power of two, which changes nothing
        else.
        """
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        extra = self._sample_weight_by_target(T, sample_weight, incremental)
        if extra is not None:
            sample_weight = extra if sample_weight is None else sample_weight * extra
        if sample_weight is None:
            return None
        if not sample_weight.max() > 0:
            raise ValueError(
                "The sample weights sum to zero: nothing to learn from. Give some "
                "samples a positive weight."
            )
        with np.errstate(over="ignore"):
            mean = sample_weight.mean()
        if not 2.0**-64 <= mean <= 2.0**64:  # its sum may over- or underflow
            sample_weight = np.ldexp(sample_weight, -np.frexp(sample_weight.max())[1])
        return sample_weight.astype(X.dtype, copy=False)

    def _init_params(self, layer_units, dtype, rng):
        """Draw initial parameters, layer by layer (W then b) as MLPClassifier does."""
        factor = ACTIVATIONS[self.activation].init_gain
        chunks = []
        for fan_in, fan_out in pairwise(layer_units):
            if self.weight_init_std is None:
                bound = np.sqrt(factor / (fan_in + fan_out))
                W = rng.uniform(-bound, bound, (fan_in, fan_out))
                b = rng.uniform(-bound, bound, fan_out)
            else:
                W = self.weight_init_std * rng.standard_normal((fan_in, fan_out))
                b = np.zeros(fan_out)
            chunks += [W.ravel(), b]
        return np.concatenate(chunks).astype(dtype, copy=False)

    def _reset_history(self):
        self.t_ = 0
        self.loss_curve_ = []
        self.validation_scores_ = self.validation_loss_curve_ = None
        self.best_loss_ = None  # the stopping state starts afresh (_start_call)
        self.__dict__.pop("_optimizer", None)

    def _start_call(self):
        """Reset what each call counts afresh: ``n_iter_``, and the stopping state.

        Without early stopping, a call that continues training (``warm_start``,
        ``partial_fit``) keeps ``best_loss_`` and the count of epochs without
        improvement, as MLPClassifier does; with early stopping each call
        starts its own.
        """
        self.n_iter_ = 0
        if self.early_stopping:
            self._no_improvement_count = 0
            self.best_loss_ = None
            # The held-out loss ("loss") is best when lowest, any score highest.
            self.best_validation_score_ = np.inf if self.scoring == "loss" else -np.inf
            self.validation_scores_ = list(self.validation_scores_ or [])
            self.validation_loss_curve_ = list(
                getattr(self, "validation_loss_curve_", None) or []
            )
        elif getattr(self, "best_loss_", None) is None:
            self._no_improvement_count = 0
            self.best_loss_ = np.inf
            self.best_validation_score_ = None
            self.validation_scores_ = self.validation_loss_curve_ = None

    def _sample_weight_by_target(self, T, sample_weight, incremental):
        """Per-row weights that follow from the targets; None: none."""
        return None

    def _stratify_labels(self, T):
        """Labels to stratify the early-stopping split on (None: a plain split)."""
        return None

    def _decode_targets(self, T):
        """The training targets ``T`` as ``predict`` returns them (a scorer's ``y``)."""
        return T[:, 0] if T.ndim == 2 and T.shape[1] == 1 else T

    def _announce(self, network, n_samples):
        if self.verbose and self.gradient == "numerical":
            n_params = network.params.size
            batch = n_samples
            if not SOLVERS[self.solver].full_batch:
                batch = self._batch_size(n_samples)
            print(
                f"Numerical gradient: {2 * n_params} forward passes per step "
                f"(2 x {n_params} parameters) on batches of {batch} samples."
            )

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        return max(1, min(self.batch_size, n_samples))  # clipped, as MLPClassifier

    def _check_fitted_model(self, network, X, T, x_bound, whole_fit):
        """Raise if the fitted network's outputs or predictions on ``X`` overflow.

        Each step checks its loss, but the last update could still leave finite
        weights so large that the outputs overflow. ``x_bound`` bounds
        ``|X|``; carried through the layers, that bound rules overflow out
        from the weights alone, unless it comes near the float range (huge
        weights or inputs): only then is a forward pass over ``X`` run.
        ``whole_fit`` says the model comes from a whole, uninterrupted ``fit``
        (subclasses may check more then).
        """
        if network.cannot_overflow(x_bound):
            return
        try:
            for _, logits in _finite_logit_blocks(network, X):
                _predict_outputs(network, logits)
        except FloatingPointError:
            _training.check_finite(np.nan, "network's output")

    def _gradient_problem(self, X, y):
        """Return ``(network, X, T, sample_weight)`` in float64 for ``gradient_check``.

        Validates ``X`` and ``y`` as ``fit`` (unfitted: at the initial
        parameters ``fit`` would draw) or ``partial_fit`` (fitted: at the
        fitted parameters) would, on a working copy: the estimator itself is
        not changed.
        """
        self._validate_params()
        fitted = hasattr(self, "_network")
        network, X, T, sample_weight, rng, _, space = self._copy_state()._prepare(
            X, y, None, incremental=fitted, classes=None, train=False
        )
        network = network.on(space)  # computed where the model trains
        X, T, sample_weight = _training.on_network_space(network, X, T, sample_weight)
        network.draw_masks(rng, X.shape[0])  # one fixed mask (none without dropout)
        return network, X, T, sample_weight

    def _copy_state(self):
        """A new estimator holding (a shallow copy of) this one's ``__dict__``."""
        copy = object.__new__(type(self))
        copy.__dict__.update(self.__dict__)
        return copy

    def __copy__(self):
        """A shallow copy with its own parameter vector, as ``MLPClassifier``'s.

        Assigning ``coefs_`` on a shallow copy of ``MLPClassifier`` rebinds
        the copy's list; here it writes into the flat vector, so the copy
        gets its own.
        """
        new = self._copy_state()
        network = self.__dict__.get("_network")
        if network is not None:
            new._network = Network.from_spec(network.spec, copied(network.params))
        return new

    # ------------------------------------------------------------ weights ---

    @property
    def coefs_(self):
        """Weight matrix of each layer: views into the flat parameter vector."""
        check_is_fitted(self)
        return _ParamList(self._network.coefs, "coefs_")

    @coefs_.setter
    def coefs_(self, arrays):
        check_is_fitted(self)
        _ParamList(self._network.coefs, "coefs_")[:] = arrays

    @property
    def intercepts_(self):
        """Bias vector of each layer: views into the flat parameter vector."""
        check_is_fitted(self)
        return _ParamList(self._network.intercepts, "intercepts_")

    @intercepts_.setter
    def intercepts_(self, arrays):
        check_is_fitted(self)
        _ParamList(self._network.intercepts, "intercepts_")[:] = arrays

    @property
    def _params(self):
        return self._network.params

    # --------------------------------------------------------- prediction ---

    def _forward_blocks(self, X, method, transform=None, finish=None):
        """Validate ``X``; return ``transform(network, logits)`` computed by blocks.

        ``transform`` defaults to the output layer's prediction (probabilities,
        values); ``finish(out, state)`` then turns the whole result into what
        ``method`` (its name, for error messages) returns. The estimator's
        ``__dict__`` is read once, here, as ``state``: a concurrent ``fit``
        publishes a new one, so the model used is the old one or the new one,
        never a mix. ``X`` is converted to the parameters' dtype one block at
        a time, so working memory is bounded whatever its dtype and number of
        rows.

        A model on another namespace (see ``_array_api``) computes the logits
        there, the rest on the host, and returns an array of ``X``'s
        namespace and device; given numpy ``X`` (dispatch off), a host copy
        of it predicts.
        """
        check_is_fitted(self)
        state = self.__dict__
        network = state["_network"]
        space = Space.of(X)
        if space is not None or network.space is not None:
            check_same_namespace(X, self, attribute="_params", method=method)
        X = validate_data(self, X, accept_sparse="csr", dtype="numeric", reset=False)
        if space is None:  # a device model predicts numpy X from a host copy
            network = network.on(None)
        if X.shape[1] != network.layer_units[0]:  # refitted meanwhile
            raise ValueError(
                f"X has {X.shape[1]} features, but the model expects "
                f"{network.layer_units[0]}."
            )
        out = None
        try:
            for rows, logits in _finite_logit_blocks(network, X):
                block = (transform or _predict_outputs)(network, to_numpy(logits))
                if out is None:
                    out = np.empty((X.shape[0], *block.shape[1:]), block.dtype)
                out[rows] = block
        except FloatingPointError:
            if not np.isfinite(to_numpy(network.params)).all():
                raise ValueError(
                    "The model's parameters contain NaN or infinity; were coefs_ "
                    "or intercepts_ set to non-finite values?"
                ) from None
            raise ValueError(
                "The network's outputs overflowed on this X: its values "
                "are too large for the fitted weights. Scale the inputs as the "
                "training data were scaled."
            ) from None
        if finish is not None:
            out = finish(out, state)
        if space is None or out.dtype.kind not in "biuf":  # labels may be strings
            return out
        return space.put(out)

    # -------------------------------------------------------- persistence ---

    def __getstate__(self):
        state = _callbacks.materialized(super().__getstate__())
        for name in _FIT_TIME_ATTRIBUTES:  # exist only while fit runs
            state.pop(name, None)
        network = state.pop("_network", None)
        if network is not None:  # the parameters, not the layers' caches
            state["_network"] = {**network.spec.to_state(), "params": network.params}
        state["_skbp_version"] = __version__
        return state

    def __setstate__(self, state):
        version = state.pop("_skbp_version", None)
        if version != __version__:
            warnings.warn(
                f"This {type(self).__name__} was saved with skbp {version} and is "
                f"loaded with skbp {__version__}; it may not work as it did.",
                UserWarning,
                stacklevel=2,
            )
        network = state.pop("_network", None)
        super().__setstate__(state)
        if network is not None:
            if isinstance(network, dict):
                params = network["params"]
            else:  # (layer_units, activation, output, params): the first skbp
                *network, params = network
            self._network = Network.from_spec(NetworkSpec.from_state(network), params)

    def __sklearn_array_api_convert__(self, converter):
        """A copy whose parameters (and optimizer state) ``converter`` moved.

        What ``sklearn.utils._array_api.move_estimator_to(est, xp, device)``
        calls: ``move_estimator_to(est, numpy, "cpu")`` gives a model on the
        host, to save with skops or export to ONNX, for example.
        """
        new = self._copy_state()
        network = self.__dict__.get("_network")
        if network is not None:
            new._network = Network.from_spec(network.spec, converter(network.params))
        optimizer = self.__dict__.get("_optimizer")
        if optimizer is not None:
            new._optimizer = copy.copy(optimizer)
            for name in optimizer.state_arrays:
                value = getattr(optimizer, name)
                setattr(
                    new._optimizer, name, None if value is None else converter(value)
                )
        return new

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.array_api_support = True
        return tags


def estimator_init(**own):
    """Return an ``__init__`` taking ``BaseBP``'s parameters and ``own`` ones.

    ``own`` maps each parameter particular to the estimator to its default.
    scikit-learn reads an estimator's parameters from its ``__init__``
    signature, so the one made here declares them all:
    ``(self, hidden_layer_sizes, activation, *, <own>, solver, ...)``, the
    shared ones with ``BaseBP.__init__``'s defaults. Every argument is
    stored unchanged, as scikit-learn requires.
    """
    shared = list(inspect.signature(BaseBP.__init__).parameters.values())
    keyword = inspect.Parameter.KEYWORD_ONLY
    own_params = [inspect.Parameter(n, keyword, default=v) for n, v in own.items()]
    signature = inspect.Signature(shared[:3] + own_params + shared[3:])

    def __init__(self, *args, **kwargs):
        arguments = signature.bind(self, *args, **kwargs)
        arguments.apply_defaults()
        arguments = arguments.arguments
        for name in own:
            setattr(self, name, arguments.pop(name))
        BaseBP.__init__(**arguments)

    __init__.__signature__ = signature
    return __init__


class _ParamList(list):
    """``coefs_`` or ``intercepts_``: assigning an item writes into the flat vector."""

    def __init__(self, views, name):
        super().__init__(views)
        self._name = name

    def __setitem__(self, index, value):
        if isinstance(index, slice):
            values = list(value)
            if len(values) != len(self):
                raise ValueError(
                    f"{self._name} needs {len(self)} arrays (one per layer), got "
                    f"{len(values)}; the network's shape cannot change after fit."
                )
            checked = [
                _checked(v, new, self._name)
                for v, new in zip(self, values, strict=True)
            ]
            for view, new in zip(self, checked, strict=True):
                view[...] = new
        else:
            view = list.__getitem__(self, index)
            view[...] = _checked(view, value, self._name)

    def __reduce__(self):  # pickles and copies as a plain list of arrays
        return list, (list(self),)


def _checked(view, value, name):
    """``value`` as an array of ``view``'s namespace, if it can replace it; else raise.

    Any array is accepted (numpy, or a tensor for a model on the host), and
    moved to where ``view`` lives.
    """
    value = np.asarray(to_numpy(value))
    if value.shape != tuple(view.shape):
        raise ValueError(
            f"Each array of {name} keeps its fitted shape: expected "
            f"{tuple(view.shape)}, got {value.shape}."
        )
    if not np.isfinite(value).all():
        raise ValueError(f"{name} must hold finite values; got NaN or infinity.")
    space = Space.of_array(view)
    if space is None:
        return value
    return space.xp.astype(space.put(value), view.dtype)


def _finite_input_bound(X, estimator_name):
    """Raise, as validation does, if ``X`` holds NaN or infinity; else bound ``|X|``.

    One pass over the values for the usual data: the sum of squares is
    finite only if every value is, and, as a sum of non-negative terms, it
    is at least the largest square whatever the order of the additions, so
    its square root bounds every ``|x|`` (up to rounding: the factor 2).
    Otherwise (NaN, infinity, squares beyond the float range, non-contiguous
    arrays) scikit-learn's check raises or passes, then the maximum and the
    minimum give the bound.
    """
    values = X.data if sp.issparse(X) else X
    if values.size == 0:
        return 0.0
    if values.flags.c_contiguous or values.flags.f_contiguous:
        flat = values.ravel(order="K")  # a view
        with np.errstate(over="ignore", invalid="ignore"):
            squares = float(np.dot(flat, flat))
        if np.isfinite(squares):
            return 2.0 * np.sqrt(squares) + 1.0  # + 1: squares that underflowed
    _assert_all_finite(values, input_name="X", estimator_name=estimator_name)
    return max(float(values.max()), -float(values.min()))


def _predict_outputs(network, logits):
    """The output layer's prediction; FloatingPointError if it overflows."""
    with np.errstate(over="ignore"):
        predicted = network.loss_layer(logits, out=logits)  # logits are scratch
    if not np.isfinite(predicted).all():
        raise FloatingPointError("predictions overflowed")
    return predicted


def _finite_logit_blocks(network, X):
    """Yield ``(rows, logits)`` block by block; FloatingPointError on overflow.

    Blocks of ``_PREDICT_CHUNK_ROWS`` keep working memory bounded whatever the
    number of rows; each block of ``X`` is converted to the network's dtype.
    """
    for rows in _training._batches(X.shape[0], _PREDICT_CHUNK_ROWS):
        with np.errstate(over="ignore", invalid="ignore"):
            logits = network.logits(as_dtype(X[rows, :], network.params.dtype))
        xp = namespace(logits)
        if not xp.all(xp.isfinite(logits)):
            raise FloatingPointError("network outputs overflowed")
        yield rows, logits


def as_dtype(X, dtype):
    """Dense or sparse ``X`` converted to ``dtype`` (no copy when it has it).

    ``dtype`` is one of ``X``'s namespace.
    """
    if sp.issparse(X):
        return X.astype(dtype, copy=False)
    if is_numpy(X):
        return np.asarray(X, dtype)
    return namespace(X).astype(X, dtype, copy=False)
