"""``BPClassifier``: scikit-learn glue around :class:`~skbp.network.Network`."""

import time
import warnings
from itertools import pairwise
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.utils import check_random_state, gen_batches, shuffle
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    check_is_fitted,
    check_X_y,
    validate_data,
)

from ._version import __version__
from .gradients import GRADIENTS
from .layers import log_softmax
from .network import Network
from .optimizers import SGD

# Rows per block in predict_proba: working memory stays bounded for any n_samples.
_PREDICT_CHUNK_ROWS = 4096


class BPClassifier(ClassifierMixin, BaseEstimator):
    """Neural-network classifier trained by backpropagation or numerical gradients.

    The network is ``Affine -> Sigmoid -> ... -> Affine -> SoftmaxWithLoss``,
    one ``Affine -> Sigmoid`` pair per entry of ``hidden_layer_sizes``,
    trained by mini-batch SGD on the mean cross-entropy. ``gradient`` chooses
    how the gradient of each step is computed: by backpropagation through the
    layers, or by central differences of the loss (two forward passes per
    parameter). For the same ``random_state`` both draw the same initial
    weights and the same batches, so their fits agree to finite-difference
    precision and differ only in time.

    Parameters
    ----------
    hidden_layer_sizes : array-like of int, default=(50,)
        Number of units of each hidden layer. ``(50,)`` is the reference
        ``Affine -> Sigmoid -> Affine -> SoftmaxWithLoss`` network.
    gradient : {"backprop", "numerical"}, default="backprop"
        How the gradient of the loss is computed at each step.
    learning_rate_init : float, default=0.1
        SGD step size.
    batch_size : int, default=100
        Samples per mini-batch; clipped to the number of samples.
    max_iter : int, default=200
        Number of epochs (passes over the training data).
    weight_init_std : float or None, default=None
        None draws weights and biases from the Glorot-uniform distribution
        that :class:`~sklearn.neural_network.MLPClassifier` uses for the
        logistic activation, ``U(-r, r)`` with ``r = sqrt(2 / (fan_in + fan_out))``.
        A float ``s`` draws weights from ``N(0, s**2)`` and sets biases to
        zero, as the reference experiment does with ``s = 0.01``; with such a
        small ``s`` the loss stays on a plateau for many epochs first.
    numerical_step : float, default=1e-4
        Step ``h`` of the central difference used by ``gradient="numerical"``.
    shuffle : bool, default=True
        Whether to shuffle the samples before each epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation and shuffling. Pass an int for
        reproducible results.
    verbose : int, default=0
        If positive, print one line per epoch (loss and seconds), and before
        a numerical fit the number of forward passes one step costs.
    warm_start : bool, default=False
        If True, ``fit`` continues from the previous solution instead of
        initialising new weights.

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
        Number of epochs run (over all ``fit`` calls when warm-starting).
    t_ : int
        Number of training samples seen.
    loss_ : float
        Mean training loss of the last epoch.
    loss_curve_ : list of float
        Mean training loss of each epoch.
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
        "gradient": [StrOptions(set(GRADIENTS))],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "weight_init_std": [Interval(Real, 0, None, closed="neither"), None],
        "numerical_step": [Interval(Real, 0, None, closed="neither")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    def __init__(
        self,
        hidden_layer_sizes=(50,),
        *,
        gradient="backprop",
        learning_rate_init=0.1,
        batch_size=100,
        max_iter=200,
        weight_init_std=None,
        numerical_step=1e-4,
        shuffle=True,
        random_state=None,
        verbose=0,
        warm_start=False,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.gradient = gradient
        self.learning_rate_init = learning_rate_init
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.weight_init_std = weight_init_std
        self.numerical_step = numerical_step
        self.shuffle = shuffle
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the network on ``(X, y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels (any hashable, two classes or more).

        Returns
        -------
        self : BPClassifier
            The fitted estimator.
        """
        # On any failure, leave the estimator exactly as it was before the call.
        previous_state = dict(self.__dict__)
        try:
            return self._fit(X, y)
        except Exception:
            self.__dict__.clear()
            self.__dict__.update(previous_state)
            raise

    def _fit(self, X, y):
        warm = self.warm_start and hasattr(self, "_params")
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse="csr",
            dtype=self._params.dtype if warm else (np.float64, np.float32),
            reset=not warm,
        )
        classes, y_index = self._encode_labels(y, warm)
        layer_units = [X.shape[1], *self._hidden_sizes(), len(classes)]
        rng = check_random_state(self.random_state)
        if warm:
            if layer_units != self._layer_units:
                raise ValueError(
                    "warm_start=True needs the same network shape as the previous "
                    f"fit: layer units {self._layer_units}, got {layer_units}. "
                    "Set warm_start=False to start afresh."
                )
            # Train a copy: if training fails, the previous model is kept as it was.
            params = self._params.copy()
            history = dict(
                n_iter=self.n_iter_, t=self.t_, loss_curve=list(self.loss_curve_)
            )
        else:
            params = self._init_params(layer_units, X.dtype, rng)
            history = dict(n_iter=0, t=0, loss_curve=[])

        network = Network(layer_units, params)
        T = np.eye(len(classes), dtype=X.dtype)[y_index]
        self._train(network, X, T, rng, history)

        self.classes_ = classes
        self._layer_units = layer_units
        self._params = network.params
        self._link_views()
        self.n_iter_ = history["n_iter"]
        self.t_ = history["t"]
        self.loss_curve_ = history["loss_curve"]
        self.loss_ = self.loss_curve_[-1] if self.loss_curve_ else None
        self.n_layers_ = len(layer_units)
        self.n_outputs_ = len(classes)
        self.out_activation_ = "softmax"
        return self

    def _train(self, network, X, T, rng, history):
        """Run ``max_iter`` epochs of mini-batch SGD, updating ``history`` in place."""
        n_samples = X.shape[0]
        batch_size = min(self.batch_size, n_samples)
        compute_gradient = GRADIENTS[self.gradient]
        optimizer = SGD(self.learning_rate_init)
        if self.verbose and self.gradient == "numerical":
            n_params = network.params.size
            steps = -(-n_samples // batch_size)
            print(
                f"Numerical gradient: {2 * n_params} forward passes per step "
                f"(2 x {n_params} parameters), {steps} steps per epoch."
            )
        sample_idx = np.arange(n_samples)
        try:
            for _ in range(self.max_iter):
                start = time.perf_counter()
                if self.shuffle:
                    sample_idx = shuffle(sample_idx, random_state=rng)
                accumulated_loss = 0.0
                for batch in gen_batches(n_samples, batch_size):
                    idx = sample_idx[batch] if self.shuffle else batch
                    batch_loss = compute_gradient(
                        network,
                        X[idx],
                        T[idx],
                        h=self.numerical_step,
                    )
                    _check_finite(batch_loss, "loss")
                    optimizer.update(network.params, network.grads)
                    accumulated_loss += batch_loss * (batch.stop - batch.start)
                _check_finite(network.params, "weights")
                history["n_iter"] += 1
                history["t"] += n_samples
                history["loss_curve"].append(accumulated_loss / n_samples)
                if self.verbose:
                    print(
                        f"Epoch {history['n_iter']}: loss = "
                        f"{history['loss_curve'][-1]:.8f}, "
                        f"{time.perf_counter() - start:.2f} s"
                    )
        except KeyboardInterrupt:
            warnings.warn(
                f"Training interrupted by user after {history['n_iter']} epochs; "
                "the model keeps the parameters of the last completed step.",
                UserWarning,
                stacklevel=3,
            )
        finally:
            network.clear_cache()

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

    def _encode_labels(self, y, warm):
        check_classification_targets(y)
        if warm:
            classes = self.classes_
            unseen = np.setdiff1d(y, classes)
            if unseen.size:
                raise ValueError(
                    f"y has labels {unseen.tolist()} that the warm-started model "
                    f"was not fitted on; its classes are {classes.tolist()}."
                )
            return classes, np.searchsorted(classes, y)
        classes, y_index = np.unique(y, return_inverse=True)
        if classes.size < 2:
            raise ValueError(
                "BPClassifier needs samples of at least 2 classes in the data, but "
                f"y contains only one class: {classes.tolist()[0]!r}."
            )
        return classes, y_index

    def _init_params(self, layer_units, dtype, rng):
        """Draw initial parameters, layer by layer (W then b) as MLPClassifier does."""
        chunks = []
        for fan_in, fan_out in pairwise(layer_units):
            if self.weight_init_std is None:
                bound = np.sqrt(2.0 / (fan_in + fan_out))
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

    def _forward_blocks(self, X, transform, tail):
        """Validate ``X`` and return ``transform(logits)`` computed block by block."""
        check_is_fitted(self)
        X = validate_data(
            self, X, accept_sparse="csr", dtype=self._params.dtype, reset=False
        )
        network = Network(self._layer_units, self._params)
        dtype = self._params.dtype if tail else np.intp
        out = np.empty((X.shape[0], *tail), dtype=dtype)
        for rows in gen_batches(X.shape[0], _PREDICT_CHUNK_ROWS):
            out[rows] = transform(network.logits(X[rows]))
        return out

    def predict_proba(self, X):
        """Return class probabilities (softmax of the output layer).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class, columns in the order of ``classes_``.
        """
        check_is_fitted(self)
        return self._forward_blocks(X, _softmax, (self.n_outputs_,))

    def predict_log_proba(self, X):
        """Return log class probabilities, computed stably from the logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probability of each class, columns in the order of ``classes_``.
        """
        check_is_fitted(self)
        return self._forward_blocks(X, log_softmax, (self.n_outputs_,))

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
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
            classes, y_index = self._encode_labels(np.asarray(y), warm=True)
            network = Network(self._layer_units, self._params.astype(np.float64))
        else:
            X, y = check_X_y(X, y, accept_sparse="csr", dtype=np.float64)
            classes, y_index = self._encode_labels(y, warm=False)
            layer_units = [X.shape[1], *self._hidden_sizes(), len(classes)]
            rng = check_random_state(self.random_state)
            network = Network(
                layer_units, self._init_params(layer_units, np.float64, rng)
            )
        return network, X, np.eye(len(classes))[y_index]

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
    return np.exp(log_softmax(logits))


def _argmax(logits):
    return logits.argmax(axis=1)


def _check_finite(value, what):
    if not np.all(np.isfinite(value)):
        raise ValueError(
            f"Training diverged: the {what} became infinite or NaN. Scale the inputs "
            "(for example with StandardScaler) or lower learning_rate_init."
        )
