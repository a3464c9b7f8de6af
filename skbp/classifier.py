"""``BPClassifier``: scikit-learn glue around :class:`~skbp.network.Network`."""

import copy
import math
import time
import warnings
from itertools import pairwise
from numbers import Integral, Real

import numpy as np
import scipy.optimize
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, Options, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    check_X_y,
    validate_data,
)

from . import _threads
from ._version import __version__
from .gradients import GRADIENTS
from .layers import log_softmax, softmax
from .network import ACTIVATIONS, Network
from .optimizers import AdamOptimizer, SGDOptimizer

# Rows per block in predict_proba: working memory stays bounded for any n_samples.
_PREDICT_CHUNK_ROWS = 4096
_STOCHASTIC_SOLVERS = ("sgd", "adam")


def _check_solver(self):
    if self.solver not in _STOCHASTIC_SOLVERS:
        raise AttributeError(
            "partial_fit is only available for stochastic solvers ('sgd', 'adam'); "
            f"solver={self.solver!r} is not stochastic."
        )
    return True


class BPClassifier(ClassifierMixin, BaseEstimator):
    """Neural-network classifier trained by backpropagation or numerical gradients.

    The network is ``Affine -> activation -> ... -> Affine -> SoftmaxWithLoss``,
    one ``Affine -> activation`` pair per entry of ``hidden_layer_sizes``,
    trained on the mean cross-entropy (plus an optional L2 term). ``gradient``
    chooses how the gradient is computed: by backpropagation through the
    layers, or by central differences of the loss (two forward passes per
    parameter). For the same ``random_state`` both draw the same initial
    weights and the same batches, so their fits agree to finite-difference
    precision and differ only in time.

    Parameter names and meanings follow
    :class:`~sklearn.neural_network.MLPClassifier`, so a grid written for it
    runs here; the defaults are those of the reference experiment (logistic
    units, plain SGD with learning rate 0.1, batches of 100, no momentum, no
    L2 penalty).

    Parameters
    ----------
    hidden_layer_sizes : array-like of int, default=(50,)
        Number of units of each hidden layer. ``(50,)`` is the reference
        ``Affine -> Sigmoid -> Affine -> SoftmaxWithLoss`` network.
    activation : {"logistic", "tanh", "relu", "identity"}, default="logistic"
        Hidden-layer activation (``"logistic"`` is the Sigmoid layer).
    solver : {"sgd", "adam", "lbfgs"}, default="sgd"
        ``"sgd"`` and ``"adam"`` train on mini-batches; ``"lbfgs"`` minimises
        the full-batch loss with :func:`scipy.optimize.minimize` (L-BFGS-B) on
        the flat parameter vector.
    gradient : {"backprop", "numerical"}, default="backprop"
        How the gradient of the loss is computed, for every solver.
    alpha : float, default=0.0
        L2 penalty: the loss gains ``0.5 * alpha * sum(W**2) / sum(w)``
        (``sum(w)`` is the batch's total sample weight, its size when
        unweighted), so both gradients see it.
    batch_size : int or "auto", default=100
        Samples per mini-batch, clipped to the number of samples; ``"auto"``
        is ``min(200, n_samples)``. Ignored by ``"lbfgs"``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        SGD schedule. ``"invscaling"``: ``learning_rate_init / (t + 1) **
        power_t`` after each epoch, ``t`` the samples seen. ``"adaptive"``:
        divide the rate by 5 each time the stopping rule triggers, stopping
        only once it falls below 1e-6.
    learning_rate_init : float, default=0.1
        Initial step size of ``"sgd"`` and ``"adam"``.
    power_t : float, default=0.5
        Exponent of ``"invscaling"``.
    max_iter : int, default=200
        Epochs for ``"sgd"``/``"adam"``, iterations for ``"lbfgs"``.
    shuffle : bool, default=True
        Whether to shuffle the samples before each epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, the early-stopping split and shuffling.
        With an int each ``fit`` starts the stream anew, as in scikit-learn.
    tol : float, default=1e-4
        Improvement needed, in training loss (or validation score with
        early stopping), for an epoch to count as progress.
    verbose : int, default=0
        If positive, print one line per epoch (loss, validation score,
        seconds), and before a numerical fit what one step costs.
    warm_start : bool, default=False
        If True, ``fit`` continues from the previous solution.
    momentum : float, default=0.0
        SGD momentum, in [0, 1].
    nesterovs_momentum : bool, default=False
        Whether to use Nesterov's momentum (with ``momentum > 0``).
    early_stopping : bool, default=False
        Hold out a stratified ``validation_fraction`` of the training data and
        stop when its (weighted) accuracy stops improving by ``tol`` for
        ``n_iter_no_change`` epochs; the best parameters seen are restored.
    validation_fraction : float, default=0.1
        Fraction held out for early stopping, in (0, 1).
    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's moment decay rates, in [0, 1).
    epsilon : float, default=1e-8
        Adam's numerical-stability constant.
    n_iter_no_change : int or np.inf, default=10
        Epochs without improvement before stopping; ``np.inf`` never stops
        early (and so never warns about convergence).
    max_fun : int, default=15000
        Maximum loss evaluations of ``"lbfgs"``.
    class_weight : dict, "balanced" or None, default=None
        Weights per class, multiplying ``sample_weight``. ``"balanced"`` uses
        ``n_samples / (n_classes * count(class))`` from the ``y`` given to
        ``fit``.
    weight_init_std : float or None, default=None
        None draws weights and biases from the Glorot-uniform distribution
        that ``MLPClassifier`` uses: ``U(-r, r)`` with ``r = sqrt(k / (fan_in
        + fan_out))``, ``k = 2`` for logistic units and 6 otherwise. A float
        ``s`` draws weights from ``N(0, s**2)`` and zero biases, as the
        reference experiment does with ``s = 0.01``. With such a small ``s``
        the loss can sit on a plateau for many epochs first; where it falls
        by less than ``tol`` per epoch (small or full-batch steps) the
        ``tol``/``n_iter_no_change`` rule mistakes it for convergence: set
        ``n_iter_no_change=np.inf`` to train a fixed number of epochs.
    numerical_step : float, default=1e-4
        Step ``h`` of the central difference of ``gradient="numerical"``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``; only when ``X`` has string
        column names.
    coefs_ : list of ndarray
        Weight matrix of each layer, ``coefs_[i]`` of shape
        ``(layer_units[i], layer_units[i + 1])``. Views into one flat
        parameter vector.
    intercepts_ : list of ndarray
        Bias vector of each layer, views into the same flat vector.
    n_iter_ : int
        Epochs run (over all calls when warm-starting), or L-BFGS iterations.
    t_ : int
        Number of training samples seen.
    loss_ : float
        Training loss of the last epoch (or the L-BFGS optimum).
    loss_curve_ : list of float
        Training loss of each epoch, or of each L-BFGS iteration.
    best_loss_ : float or None
        Lowest training loss seen (None with early stopping).
    validation_scores_ : list of float or None
        Held-out accuracy after each epoch with early stopping, else None.
    best_validation_score_ : float or None
        Best held-out accuracy with early stopping, else None.
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Number of outputs, equal to the number of classes (binary problems
        use a two-unit softmax too).
    out_activation_ : str
        Output activation, always ``"softmax"``.

    See Also
    --------
    sklearn.neural_network.MLPClassifier : scikit-learn's multi-layer perceptron.
    skbp.gradient_check : compare the two gradients at a model's parameters.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import train_test_split
    >>> from skbp import BPClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    >>> clf = BPClassifier(max_iter=30, random_state=0).fit(X_train, y_train)
    >>> round(clf.score(X_test, y_test), 2)
    0.97
    """

    _parameter_constraints: dict = {
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "solver": [StrOptions({"sgd", "adam", "lbfgs"})],
        "gradient": [StrOptions(set(GRADIENTS))],
        "alpha": [Interval(Real, 0, None, closed="left")],
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
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [
            Interval(Integral, 1, None, closed="left"),
            Options(Real, {np.inf}),
        ],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
        "class_weight": [StrOptions({"balanced"}), dict, None],
        "weight_init_std": [Interval(Real, 0, None, closed="neither"), None],
        "numerical_step": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        hidden_layer_sizes=(50,),
        activation="logistic",
        *,
        solver="sgd",
        gradient="backprop",
        alpha=0.0,
        batch_size=100,
        learning_rate="constant",
        learning_rate_init=0.1,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=0,
        warm_start=False,
        momentum=0.0,
        nesterovs_momentum=False,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        class_weight=None,
        weight_init_std=None,
        numerical_step=1e-4,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.gradient = gradient
        self.alpha = alpha
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
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.class_weight = class_weight
        self.weight_init_std = weight_init_std
        self.numerical_step = numerical_step

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Train the network on ``(X, y)``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data (float32 data trains float32 parameters).
        y : array-like of shape (n_samples,)
            Class labels (any hashable, two classes or more).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; a weight of 2 counts a row twice.

        Returns
        -------
        self : BPClassifier
            The fitted estimator.
        """
        return self._guarded_fit(X, y, sample_weight, incremental=False)

    @available_if(_check_solver)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train for one epoch on ``(X, y)``, continuing from the current model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels, all in ``classes``.
        classes : array-like of shape (n_classes,), default=None
            Every class of the problem; required on the first call, and may
            be omitted afterwards.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights.

        Returns
        -------
        self : BPClassifier
            The updated estimator.
        """
        return self._guarded_fit(X, y, sample_weight, incremental=True, classes=classes)

    def _guarded_fit(self, X, y, sample_weight, incremental, classes=None):
        """Fit; on any error, leave the estimator exactly as it was before."""
        previous_state = dict(self.__dict__)
        try:
            return self._fit(X, y, sample_weight, incremental, classes)
        except Exception:
            self.__dict__.clear()
            self.__dict__.update(previous_state)
            raise

    def _fit(self, X, y, sample_weight, incremental, classes):
        self._check_combinations(incremental)
        first_pass = not hasattr(self, "_params") or not (
            self.warm_start or incremental
        )
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse="csr",
            dtype=(np.float64, np.float32) if first_pass else self._params.dtype,
            reset=first_pass,
        )
        y_index = self._encode_labels(y, first_pass, incremental, classes)
        if first_pass:
            self.__dict__.pop("_balanced_weights", None)
        sample_weight = self._sample_weight(sample_weight, X, y_index, incremental)

        layer_units = [X.shape[1], *self._hidden_sizes(), len(self.classes_)]
        rng = check_random_state(self.random_state)
        if first_pass:
            params = self._init_params(layer_units, X.dtype, rng)
            self._reset_history()
        elif layer_units != self._layer_units:
            raise ValueError(
                "Continuing training needs the network shape of the previous fit: "
                f"layer units {self._layer_units}, got {layer_units}. "
                "Set warm_start=False to start afresh."
            )
        else:
            # Train a copy: if training fails, the previous model stays intact.
            params = self._params.copy()
            self.loss_curve_ = list(self.loss_curve_)
            if self.validation_scores_ is not None:
                self.validation_scores_ = list(self.validation_scores_)

        self._layer_units = layer_units
        self._activation = self.activation
        self._params = params
        self._link_views()
        network = Network(layer_units, params, self.activation)
        self._announce(network, X.shape[0])
        # Overflow is detected (the loss or weights turn non-finite) and
        # reported as a ValueError that says what to do, rather than as warnings.
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                self._run_solver(network, X, y_index, sample_weight, rng, incremental)
        finally:
            network.clear_cache()
        return self

    def _run_solver(self, network, X, y_index, sample_weight, rng, incremental):
        if self.solver == "lbfgs":
            self._fit_lbfgs(network, X, y_index, sample_weight)
        else:
            self._fit_stochastic(network, X, y_index, sample_weight, rng, incremental)
        _check_outputs(network, X)

    def _check_combinations(self, incremental):
        """Raise for parameter values that are invalid only together."""
        if self.early_stopping and not 0 < self.validation_fraction < 1:
            raise ValueError(
                "validation_fraction must be in the open interval (0, 1) when "
                f"early_stopping=True; got {self.validation_fraction!r}."
            )
        if incremental and self.early_stopping:
            raise ValueError(
                "partial_fit does not support early_stopping=True: there is no "
                "held-out set across calls. Use fit, or set early_stopping=False."
            )
        if (
            incremental
            and isinstance(self.class_weight, str)
            and not hasattr(self, "_balanced_weights")
        ):
            raise ValueError(
                "class_weight='balanced' needs a first call to fit: partial_fit "
                "alone cannot know the class frequencies of later calls. Call fit "
                "first (partial_fit then reuses its weights), or pass a "
                "dict, e.g. computed with "
                "sklearn.utils.class_weight.compute_class_weight on all of y."
            )

    def _reset_history(self):
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_ = None
        self.loss_curve_ = []
        self._no_improvement_count = 0
        self.best_loss_ = None if self.early_stopping else np.inf
        self.validation_scores_ = [] if self.early_stopping else None
        self.best_validation_score_ = -np.inf if self.early_stopping else None
        self.__dict__.pop("_optimizer", None)
        self.__dict__.pop("_best_params", None)
        self.n_outputs_ = len(self.classes_)
        self.out_activation_ = "softmax"

    def _announce(self, network, n_samples):
        if self.verbose and self.gradient == "numerical":
            n_params = network.params.size
            batch = n_samples if self.solver == "lbfgs" else self._batch_size(n_samples)
            print(
                f"Numerical gradient: {2 * n_params} forward passes per step "
                f"(2 x {n_params} parameters) on batches of {batch} samples."
            )

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        return min(self.batch_size, n_samples)

    def _make_optimizer(self, params):
        if self.solver == "adam":
            return AdamOptimizer(
                params, self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon
            )
        return SGDOptimizer(
            params,
            self.learning_rate_init,
            self.learning_rate,
            self.momentum,
            self.nesterovs_momentum,
            self.power_t,
        )

    def _fit_stochastic(self, network, X, y_index, sample_weight, rng, incremental):
        """Mini-batch epochs with the stopping rules of MLPClassifier."""
        fresh = self._make_optimizer(network.params)
        previous = getattr(self, "_optimizer", None) if incremental else None
        if type(previous) is type(fresh):
            # Keep the state (velocities, moments, schedule) across partial_fit
            # calls, on a copy so that a failed call leaves it unchanged, but
            # follow hyperparameters changed since with set_params.
            optimizer = copy.deepcopy(previous)
            if optimizer.learning_rate_init != fresh.learning_rate_init:
                optimizer.learning_rate_init = fresh.learning_rate_init
                optimizer.learning_rate = fresh.learning_rate
            for name, value in vars(fresh).items():
                if isinstance(value, Real | str | bool) and name not in (
                    "learning_rate",
                    "t",
                ):
                    setattr(optimizer, name, value)
        else:
            optimizer = fresh
        self._optimizer = optimizer

        validation = None
        if self.early_stopping:
            train, val = train_test_split(
                np.arange(X.shape[0]),
                random_state=rng,
                test_size=self.validation_fraction,
                stratify=_stratify_or_none(y_index, self.validation_fraction),
            )
            if len(val) < 2:
                raise ValueError(
                    "The validation set is too small. Increase validation_fraction "
                    "or the size of your dataset."
                )
            sw_val = None if sample_weight is None else sample_weight[val]
            validation = (X[val], y_index[val], sw_val)
            X, y_index = X[train], y_index[train]
            if sample_weight is not None:
                sample_weight = sample_weight[train]

        n_samples = X.shape[0]
        batch_size = self._batch_size(n_samples)
        total_weight = n_samples if sample_weight is None else sample_weight.sum()
        compute_gradient = GRADIENTS[self.gradient]
        sample_idx = np.arange(n_samples)
        gather = _RowGather(X, batch_size)
        try:
            for epoch in range(1 if incremental else self.max_iter):
                start = time.perf_counter()
                if self.shuffle:
                    # The permutation sklearn.utils.shuffle draws, without its overhead.
                    rng.shuffle(sample_idx)
                accumulated_loss = 0.0
                for batch in _batches(n_samples, batch_size):
                    idx = sample_idx[batch] if self.shuffle else batch
                    sw = None if sample_weight is None else sample_weight[idx]
                    if sw is not None and not sw.any():
                        continue  # nothing to learn from an all-zero-weight batch
                    batch_loss = compute_gradient(
                        network,
                        gather(idx),
                        y_index[idx],
                        sw,
                        alpha=self.alpha,
                        h=self.numerical_step,
                    )
                    _check_finite(batch_loss, "loss")
                    optimizer.update_params(network.params, network.grads)
                    accumulated_loss += batch_loss * (
                        batch.stop - batch.start if sw is None else sw.sum()
                    )
                _check_finite(network.params, "weights")
                self.n_iter_ += 1
                self.t_ += n_samples
                self.loss_ = float(accumulated_loss / total_weight)
                self.loss_curve_.append(self.loss_)
                self._update_no_improvement_count(network, validation)
                if self.verbose:
                    self._print_epoch(time.perf_counter() - start)
                optimizer.iteration_ends(self.t_)
                if self._no_improvement_count > self.n_iter_no_change:
                    what = (
                        "Validation score" if self.early_stopping else "Training loss"
                    )
                    msg = (
                        f"{what} did not improve more than tol={self.tol:f} for "
                        f"{self.n_iter_no_change} consecutive epochs."
                    )
                    if optimizer.trigger_stopping(msg, self.verbose):
                        break
                    self._no_improvement_count = 0
                if (
                    not incremental
                    and epoch == self.max_iter - 1
                    and np.isfinite(self.n_iter_no_change)
                ):
                    warnings.warn(
                        f"Stochastic optimizer: maximum iterations ({self.max_iter}) "
                        "reached and the optimization hasn't converged yet.",
                        ConvergenceWarning,
                        stacklevel=7,
                    )
        except KeyboardInterrupt:
            warnings.warn(
                f"Training interrupted by user after {self.n_iter_} epochs; the "
                "model keeps the parameters of the last completed step.",
                UserWarning,
                stacklevel=7,
            )
        if self.early_stopping:
            network.params[...] = self._best_params

    def _update_no_improvement_count(self, network, validation):
        if validation is not None:
            X_val, y_val, sw_val = validation
            correct = network.logits(X_val).argmax(axis=1) == y_val
            score = float(np.average(correct, weights=sw_val))
            self.validation_scores_.append(score)
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_params = network.params.copy()
        else:
            if self.loss_ > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            self.best_loss_ = min(self.best_loss_, self.loss_)

    def _print_epoch(self, seconds):
        line = f"Epoch {self.n_iter_}: loss = {self.loss_:.8f}"
        if self.validation_scores_:
            line += f", validation score = {self.validation_scores_[-1]:.6f}"
        print(f"{line}, {seconds:.2f} s")

    def _fit_lbfgs(self, network, X, y_index, sample_weight):
        """Full-batch L-BFGS-B on the flat parameter vector."""
        compute_gradient = GRADIENTS[self.gradient]
        params = network.params

        def loss_and_grad(theta):
            params[...] = theta
            loss = compute_gradient(
                network,
                X,
                y_index,
                sample_weight,
                alpha=self.alpha,
                h=self.numerical_step,
            )
            _check_finite(loss, "loss")
            return loss, network.grads.astype(np.float64)

        curve = []
        start = time.perf_counter()

        def record(intermediate_result):
            curve.append(float(intermediate_result.fun))
            if self.verbose:
                print(
                    f"Iteration {len(curve)}: loss = {curve[-1]:.8f}, "
                    f"{time.perf_counter() - start:.2f} s"
                )

        try:
            with _threads.single_threaded_scipy_blas():
                result = scipy.optimize.minimize(
                    loss_and_grad,
                    params.astype(np.float64),
                    method="L-BFGS-B",
                    jac=True,
                    callback=record,
                    options={
                        "maxfun": self.max_fun,
                        "maxiter": self.max_iter,
                        "gtol": self.tol,
                    },
                )
        except KeyboardInterrupt:
            warnings.warn(
                f"Training interrupted by user after {len(curve)} L-BFGS iterations.",
                UserWarning,
                stacklevel=7,
            )
            result = None
        if result is not None:
            params[...] = result.x
            if not result.success:
                warnings.warn(
                    f"L-BFGS failed to converge: {result.message}. Increase "
                    "max_iter or max_fun, or scale the data.",
                    ConvergenceWarning,
                    stacklevel=7,
                )
        _check_finite(params, "weights")
        self.n_iter_ = len(curve)
        self.t_ += X.shape[0] * len(curve)
        self.loss_curve_ += curve
        self.loss_ = float(result.fun) if result is not None else curve[-1]
        self.best_loss_ = min(self.best_loss_ or np.inf, self.loss_)

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

    def _encode_labels(self, y, first_pass, incremental, classes):
        """Set ``classes_`` on a first pass; return ``y`` as class indices."""
        check_classification_targets(y)
        if first_pass:
            if incremental:
                if classes is None:
                    raise ValueError(
                        "classes must be passed on the first call to partial_fit "
                        "(all labels of the problem, e.g. np.unique(y_all))."
                    )
                self.classes_ = np.unique(np.asarray(classes))
            else:
                self.classes_, y_index = np.unique(y, return_inverse=True)
            if self.classes_.size < 2:
                raise ValueError(
                    "BPClassifier needs samples of at least 2 classes in the data, "
                    f"but y contains only one class: {self.classes_.tolist()[0]!r}."
                )
            if not incremental:
                return y_index
        elif classes is not None and not np.array_equal(
            np.unique(np.asarray(classes)), self.classes_
        ):
            raise ValueError(
                f"classes={np.unique(classes).tolist()} differs from the classes of "
                f"the earlier calls, {self.classes_.tolist()}."
            )
        unseen = np.setdiff1d(y, self.classes_)
        if unseen.size:
            raise ValueError(
                f"y has labels {unseen.tolist()} that are not among the model's "
                f"classes {self.classes_.tolist()}."
            )
        return np.searchsorted(self.classes_, y)

    def _sample_weight(self, sample_weight, X, y_index, incremental):
        """Combine ``sample_weight`` and ``class_weight``; None when unweighted."""
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=X.dtype, ensure_non_negative=True
            )
        if self.class_weight is not None:
            per_class = self._class_weights(y_index, sample_weight, incremental)
            weights = per_class.astype(X.dtype)[y_index]
            sample_weight = (
                weights if sample_weight is None else sample_weight * weights
            )
        if sample_weight is not None and not incremental:
            weighted = np.bincount(y_index, weights=sample_weight)
            if np.count_nonzero(weighted) == 1:
                raise ValueError(
                    "Only one class has samples of positive weight: class "
                    f"{self.classes_[np.flatnonzero(weighted)[0]]!r}. A classifier "
                    "needs at least 2 classes."
                )
        if sample_weight is not None and not sample_weight.sum() > 0:
            raise ValueError(
                "The sample weights (times class_weight) sum to zero: nothing to "
                "learn from. Give some samples a positive weight."
            )
        return sample_weight

    def _class_weights(self, y_index, sample_weight, incremental):
        n_classes = len(self.classes_)
        if isinstance(self.class_weight, str):  # "balanced"
            if incremental:
                return self._balanced_weights  # computed by fit, as SGDClassifier
            # Weighted class totals, as compute_class_weight(sample_weight=...).
            counts = np.bincount(y_index, weights=sample_weight, minlength=n_classes)
            total = counts.sum()
            self._balanced_weights = total / (
                n_classes * np.where(counts > 0, counts, 1)
            )
            return self._balanced_weights
        weights = np.ones(n_classes)
        for label, weight in self.class_weight.items():
            matches = np.flatnonzero(self.classes_ == label)
            if matches.size == 0:
                raise ValueError(
                    f"class_weight has the label {label!r}, which is not a class of "
                    f"y; the classes are {self.classes_.tolist()}."
                )
            if not (isinstance(weight, Real) and weight >= 0):
                raise ValueError(
                    f"class_weight[{label!r}] must be a non-negative number, got "
                    f"{weight!r}."
                )
            weights[matches[0]] = weight
        return weights

    def _init_params(self, layer_units, dtype, rng):
        """Draw initial parameters, layer by layer (W then b) as MLPClassifier does."""
        factor = 2.0 if self.activation == "logistic" else 6.0
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

    def _link_views(self):
        network = Network(self._layer_units, self._params)
        self.coefs_ = network.coefs
        self.intercepts_ = network.intercepts
        self.n_layers_ = len(self._layer_units)

    def _forward_blocks(self, X, transform, tail):
        """Validate ``X`` and return ``transform(logits)`` computed block by block."""
        check_is_fitted(self)
        X = validate_data(
            self, X, accept_sparse="csr", dtype=self._params.dtype, reset=False
        )
        network = Network(self._layer_units, self._params, self._activation)
        dtype = self._params.dtype if tail else np.intp
        out = np.empty((X.shape[0], *tail), dtype=dtype)
        try:
            for rows, logits in _finite_logit_blocks(network, X):
                out[rows] = transform(logits)
        except FloatingPointError:
            raise ValueError(
                "The network's outputs overflowed on this X: its values "
                "are too large for the fitted weights. Scale the inputs as the "
                "training data were scaled."
            ) from None
        return out

    def predict_proba(self, X):
        """Return class probabilities (softmax of the output layer).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class, columns in the order of ``classes_``;
            float32 for a model fitted on float32 data.
        """
        check_is_fitted(self)
        return self._forward_blocks(X, _softmax, (self.n_outputs_,))

    def predict_log_proba(self, X):
        """Return log class probabilities, computed stably from the logits.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probability of each class, columns in the order of ``classes_``.
        """
        check_is_fitted(self)
        return self._forward_blocks(X, _log_proba, (self.n_outputs_,))

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            Predicted labels.
        """
        index = self._forward_blocks(X, _argmax, ())
        return self.classes_[index]

    def _gradient_problem(self, X, y):
        """Return a float64 network at the current (or initial) parameters, X and T."""
        self._validate_params()
        if hasattr(self, "_params"):
            X = validate_data(
                self, X, accept_sparse="csr", dtype=np.float64, reset=False
            )
            y_index = self._encode_labels(np.asarray(y), False, False, None)
            n_classes = len(self.classes_)
            network = Network(
                self._layer_units, self._params.astype(np.float64), self._activation
            )
        else:
            X, y = check_X_y(X, y, accept_sparse="csr", dtype=np.float64)
            check_classification_targets(y)
            classes, y_index = np.unique(y, return_inverse=True)
            n_classes = len(classes)
            layer_units = [X.shape[1], *self._hidden_sizes(), n_classes]
            rng = check_random_state(self.random_state)
            params = self._init_params(layer_units, np.float64, rng)
            network = Network(layer_units, params, self.activation)
        return network, X, np.eye(n_classes)[y_index]

    def __getstate__(self):
        state = dict(super().__getstate__())
        # coefs_/intercepts_ are views of _params: rebuilt on load, not pickled twice.
        state.pop("coefs_", None)
        state.pop("intercepts_", None)
        state["_skbp_version"] = __version__
        return state

    def __setstate__(self, state):
        version = state.pop("_skbp_version", None)
        if version != __version__:
            warnings.warn(
                f"This BPClassifier was saved with skbp {version} and is loaded with "
                f"skbp {__version__}; it may not work as it did.",
                UserWarning,
                stacklevel=2,
            )
        super().__setstate__(state)
        if "_params" in state:
            self._link_views()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


def _softmax(logits):
    return softmax(logits, out=logits)  # logits are scratch


def _log_proba(logits):
    # -inf exactly where predict_proba underflows to 0, so the two agree.
    log_proba = log_softmax(logits)
    log_proba[np.exp(log_proba) == 0] = -np.inf
    return log_proba


def _argmax(logits):
    return logits.argmax(axis=1)


def _check_finite(value, what):
    if isinstance(value, float):  # the per-step loss: no numpy call overhead
        finite = math.isfinite(value)
    else:
        finite = np.isfinite(value).all()
    if not finite:
        raise ValueError(
            f"Training diverged: the {what} became infinite or NaN. Scale the inputs "
            "(for example with StandardScaler) or lower learning_rate_init."
        )


def _check_outputs(network, X):
    """Raise if the fitted network's outputs on ``X`` overflow.

    Each step checks its loss, but the last update could still leave finite
    weights so large that the outputs overflow. Only
    then (huge weights or inputs) is a forward pass over ``X`` worth its cost.
    """
    if np.abs(network.params).max() <= 1e6:
        values = X.data if sp.issparse(X) else X
        if max(values.max(initial=0), -values.min(initial=0)) <= 1e100:
            return  # intermediate values stay far below the float range
    try:
        for _ in _finite_logit_blocks(network, X):
            pass
    except FloatingPointError:
        _check_finite(np.nan, "network's output")


def _finite_logit_blocks(network, X):
    """Yield ``(rows, logits)`` block by block; FloatingPointError on overflow.

    Blocks of ``_PREDICT_CHUNK_ROWS`` keep working memory bounded whatever the
    number of rows.
    """
    for rows in _batches(X.shape[0], _PREDICT_CHUNK_ROWS):
        with np.errstate(over="ignore", invalid="ignore"):
            logits = network.logits(X[rows])
        if not np.isfinite(logits).all():
            raise FloatingPointError("network outputs overflowed")
        yield rows, logits


def _batches(n, size):
    """Consecutive slices of ``size`` rows covering ``range(n)``.

    What ``sklearn.utils.gen_batches`` yields, without its per-call parameter
    validation (about 50 us, once per epoch).
    """
    return (slice(start, min(start + size, n)) for start in range(0, n, size))


class _RowGather:
    """``X[idx]`` for mini-batches, copied into one reused buffer when ``X`` is dense.

    Slices (no shuffling) and sparse ``X`` are indexed as usual.
    """

    def __init__(self, X, batch_size):
        self.X = X
        self.buffer = None
        if isinstance(X, np.ndarray):
            self.buffer = np.empty((batch_size, X.shape[1]), X.dtype)

    def __call__(self, idx):
        if self.buffer is None or isinstance(idx, slice):
            return self.X[idx]
        # Indices come from a permutation: mode="clip" skips the bounds pass.
        return self.X.take(idx, axis=0, out=self.buffer[: len(idx)], mode="clip")


def _stratify_or_none(y_index, validation_fraction):
    """``y_index`` when a stratified split is possible, else None (plain split)."""
    counts = np.bincount(y_index)
    counts = counts[counts > 0]
    n_val = int(np.ceil(validation_fraction * len(y_index)))
    possible = (
        counts.min() >= 2
        and n_val >= len(counts)
        and len(y_index) - n_val >= len(counts)
    )
    return y_index if possible else None
