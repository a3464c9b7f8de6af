"""``BPClassifier``: labels, class weights and probabilities; the rest is shared."""

from numbers import Real

import numpy as np
from sklearn.base import ClassifierMixin
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, type_of_target

from . import _docs, _warnings
from ._base import (
    BaseBP,
    _check_solver,
    _predict_outputs,
    as_dtype,
    estimator_init,
    partial_fit_context,
)
from ._training import _batches
from .layers.outputs import log_softmax

# type_of_target's name for an indicator matrix y (MLPClassifier's y_type_).
_MULTILABEL = "multilabel-indicator"

_CLASS_WEIGHT_DOC = """\
    class_weight : dict, "balanced" or None, default=None
        Weights per class, multiplying ``sample_weight``. ``"balanced"`` uses
        ``n_samples / (n_classes * count(class))`` from the ``y`` given to
        ``fit``. Not for multilabel ``y``.
"""
_CLASSES_DOC = """\
    classes_ : ndarray of shape (n_classes,)
        Class labels; ``np.arange(n_labels)`` for multilabel ``y``.
"""

_INTRO = """Neural-network classifier trained by backpropagation or numerical gradients.

    The network is ``Affine -> activation -> ... -> Affine -> SoftmaxWithLoss``,
    one ``Affine -> activation`` pair per entry of ``hidden_layer_sizes``,
    trained on the mean cross-entropy (plus an L2 term). As in
    ``MLPClassifier``, a binary problem has one logistic output unit
    (``SigmoidWithLoss``, binary cross-entropy), and multilabel ``y`` (a 0/1
    indicator matrix) one independent sigmoid per label.

    Parameter names, meanings and defaults follow
    :class:`~sklearn.neural_network.MLPClassifier` (100 hidden units, Adam at
    1e-3, L2 1e-4, batches of ``min(200, n_samples)``), except the
    activation: logistic, the Sigmoid layer this package is about. So
    ``BPClassifier()`` trains as ``MLPClassifier(activation="logistic")`` does,
    and a grid written for ``MLPClassifier`` runs here. The reference
    experiment's settings are parameters: ``hidden_layer_sizes=(50,),
    solver="sgd", learning_rate_init=0.1, batch_size=100, momentum=0.0,
    alpha=0.0, weight_init_std=0.01``.
"""
_EXAMPLES = """\
    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import train_test_split
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skbp import BPClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    >>> clf = make_pipeline(StandardScaler(), BPClassifier(max_iter=50, random_state=0))
    >>> round(clf.fit(X_train, y_train).score(X_test, y_test), 2)
    0.95
"""


class BPClassifier(ClassifierMixin, BaseBP):
    __doc__ = _docs.estimator_doc(
        _INTRO,
        own_parameters=_CLASS_WEIGHT_DOC,
        own_attributes=_CLASSES_DOC,
        peer="MLPClassifier",
        score="(weighted) accuracy (subset accuracy for multilabel ``y``)",
        split=" (stratified by class where possible; a warning says when it is not)",
        loss_note="",
        n_outputs="Number of outputs: the number of classes, 1 for a binary "
        "problem (one logistic unit, as MLPClassifier), or the number of labels "
        "for multilabel ``y``.",
        out_activation='Output activation: ``"softmax"`` for three classes or '
        'more, ``"logistic"`` for binary and multilabel ``y``.',
        sibling="BPRegressor",
        examples=_EXAMPLES,
    )

    _parameter_constraints: dict = {
        **BaseBP._parameter_constraints,
        "class_weight": [StrOptions({"balanced"}), dict, None],
    }

    __init__ = estimator_init(class_weight=None)

    @available_if(_check_solver)
    @partial_fit_context
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """Train for one epoch on ``(X, y)``, continuing from the current model.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels, all in ``classes``, or a 0/1 indicator matrix.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights.
        classes : array-like of shape (n_classes,), default=None
            Every class of the problem; required on the first call, and may
            be omitted afterwards. For multilabel ``y``, ``np.arange(n_labels)``.

        Returns
        -------
        self : BPClassifier
            The updated estimator.
        """
        return self._guarded_fit(X, y, sample_weight, incremental=True, classes=classes)

    # -------------------------------------------------------------- hooks ---

    def _check_combinations(self, incremental):
        super()._check_combinations(incremental)
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

    def _encode_targets(self, y, dtype, first_pass, incremental, classes):
        """Set the label attributes on a first pass; return the training targets.

        Class indices for three classes or more; for a binary problem the
        ``(n_samples, 1)`` 0/1 column of the positive class ``classes_[1]``
        (MLPClassifier's label binarizer's); the float indicator matrix for
        multilabel ``y``.
        """
        check_classification_targets(y)
        multilabel = type_of_target(y) == _MULTILABEL
        if not multilabel and y.ndim != 1:
            raise ValueError(
                "y must hold one label per sample, or be a 0/1 indicator matrix "
                f"for multilabel classification; got y of shape {y.shape} with "
                "several classes per column (multiclass-multioutput is not "
                "supported)."
            )
        if multilabel:
            _check_indicator(y)
        if classes is not None:
            classes = _check_classes(classes, multilabel)
        if first_pass:
            y_index = self._set_labels(y, multilabel, incremental, classes)
            if y_index is not None:
                return self._targets(y_index, dtype)
        elif multilabel != (self._y_type == _MULTILABEL):
            kinds = ("single-label", "multilabel")
            raise ValueError(
                f"y is {kinds[multilabel]}, but the model was fitted on "
                f"{kinds[not multilabel]} y. "
                + (
                    "partial_fit continues that model: start a new estimator "
                    "(or call fit) to train on other y."
                    if incremental
                    else "Set warm_start=False (or start a new estimator) to change."
                )
            )
        elif classes is not None and not np.array_equal(classes, self.classes_):
            raise ValueError(
                f"classes={classes.tolist()} differs from the classes of the "
                f"earlier calls, {self.classes_.tolist()}."
            )
        if multilabel:
            if y.shape[1] != self.n_outputs_:
                raise ValueError(
                    f"y has {y.shape[1]} labels, but the model was fitted on "
                    f"{self.n_outputs_}."
                )
            return y.astype(dtype)
        if self.warm_start and not incremental and not first_pass:
            labels = np.unique(y)
            if not np.array_equal(labels, self.classes_):
                raise ValueError(
                    "warm_start can only be used where `y` has the same classes as "
                    f"in the previous call to fit. Previously got {self.classes_}, "
                    f"`y` has {labels}"
                )
        unseen = np.setdiff1d(y, self.classes_)
        if unseen.size:
            raise ValueError(
                f"y has labels {unseen.tolist()} that are not among the model's "
                f"classes {self.classes_.tolist()}."
            )
        return self._targets(np.searchsorted(self.classes_, y), dtype)

    def _targets(self, y_index, dtype):
        """Training targets from class indices: themselves, or the binary 0/1 column."""
        if self._y_type == "binary":
            return y_index.astype(dtype)[:, None]  # 1: the positive class, classes_[1]
        return y_index

    def _class_indices(self, T):
        """Class index of each row of the training targets; None for multilabel."""
        if self._y_type == "binary":
            return (T[:, 0] > 0.5).astype(np.intp)
        return None if self._y_type == _MULTILABEL else T

    def _set_labels(self, y, multilabel, incremental, classes):
        """Set ``classes_``, ``n_outputs_``, ``out_activation_``; return class indices.

        The indices are returned for single-label ``fit`` only (None otherwise).
        As in ``MLPClassifier``, a binary problem has one logistic output.
        """
        self.__dict__.pop("_balanced_weights", None)
        y_index = None
        if multilabel:
            self.classes_ = np.arange(y.shape[1])
            self.n_outputs_ = y.shape[1]
            self.out_activation_ = "logistic"
            self._y_type = _MULTILABEL
            if classes is not None and not np.array_equal(classes, self.classes_):
                raise ValueError(
                    f"For multilabel y with {y.shape[1]} labels, classes must be "
                    f"np.arange({y.shape[1]}); got {classes.tolist()}."
                )
            return None
        if incremental:
            if classes is None:
                raise ValueError(
                    "classes must be passed on the first call to partial_fit "
                    "(all labels of the problem, e.g. np.unique(y_all))."
                )
            self.classes_ = classes
        else:
            self.classes_, y_index = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise ValueError(
                "BPClassifier needs samples of at least 2 classes in the data, "
                f"but y contains only one class: {self.classes_.tolist()[0]!r}."
            )
        if self.classes_.size == 2:
            self._y_type, self.out_activation_ = "binary", "logistic"
            self.n_outputs_ = 1
        else:
            self._y_type, self.out_activation_ = "multiclass", "softmax"
            self.n_outputs_ = len(self.classes_)
        return y_index

    def _sample_weight_by_target(self, T, sample_weight, incremental):
        """Per-row ``class_weight`` (None without it); check the weighted classes."""
        y_index = self._class_indices(T)
        if self.class_weight is not None and y_index is None:
            raise ValueError(
                "class_weight is not supported with multilabel y (a sample "
                "belongs to several classes); use sample_weight."
            )
        if self.class_weight is not None:
            per_class = self._class_weights(y_index, sample_weight, incremental)
            weights = per_class[y_index]
            sample_weight = (
                weights if sample_weight is None else sample_weight * weights
            )
        if sample_weight is not None and not incremental and y_index is not None:
            weighted = np.bincount(y_index, weights=sample_weight)
            if np.count_nonzero(weighted) == 1:
                raise ValueError(
                    "Only one class has samples of positive weight: class "
                    f"{self.classes_[np.flatnonzero(weighted)[0]]!r}. A classifier "
                    "needs at least 2 classes."
                )
        return None if self.class_weight is None else weights

    def _class_weights(self, y_index, sample_weight, incremental):
        n_classes = len(self.classes_)
        if isinstance(self.class_weight, str):  # "balanced"
            if incremental:
                return np.array(self._balanced_weights)  # fit's, as SGDClassifier
            # Weighted class totals, as compute_class_weight(sample_weight=...).
            counts = np.bincount(y_index, weights=sample_weight, minlength=n_classes)
            total = counts.sum()
            weights = total / (n_classes * np.where(counts > 0, counts, 1))
            # Kept as floats: host bookkeeping, not a fitted array of X's namespace.
            self._balanced_weights = tuple(weights.tolist())
            return weights
        weights = np.ones(n_classes)
        for label, weight in self.class_weight.items():
            matches = np.flatnonzero(self.classes_ == label)
            if matches.size == 0:
                raise ValueError(
                    f"class_weight has the label {label!r}, which is not a class of "
                    f"y; the classes are {self.classes_.tolist()}."
                )
            if not (isinstance(weight, Real) and 0 <= weight < np.inf):
                raise ValueError(
                    f"class_weight[{label!r}] must be a finite non-negative number, "
                    f"got {weight!r}."
                )
            weights[matches[0]] = weight
        return weights

    def _stratify_labels(self, T):
        """Class indices to stratify the early-stopping split on (not multilabel)."""
        return self._class_indices(T)

    def _output_loss(self):
        """Softmax for three classes or more, logistic units otherwise."""
        return self.out_activation_  # set by _encode_targets: a key of OUTPUTS

    def _validation_score(self, logits, T, sample_weight):
        """(Weighted) accuracy; subset accuracy for multilabel, as MLPClassifier."""
        if T.ndim == 1:
            correct = logits.argmax(axis=1) == T
        else:  # one logistic unit per column: binary or multilabel
            correct = ((logits > 0) == (T > 0.5)).all(axis=1)
        return float(np.average(correct, weights=sample_weight))

    def _decode_targets(self, T):
        """Labels from the training targets; the indicator matrix for multilabel."""
        y_index = self._class_indices(T)
        return T.astype(np.int64) if y_index is None else self.classes_[y_index]

    def _check_fitted_model(self, network, X, T, x_bound, whole_fit):
        """Also warn when a whole fit predicts one class for every training row.

        Not after ``partial_fit`` or an interrupt. Evenly spaced rows, at most
        ``_ONE_CLASS_CHECK_ROWS``, are predicted in small blocks until one
        holds two classes: no pass over all of ``X``, and products small
        enough to leave BLAS's large buffers untouched.
        """
        super()._check_fitted_model(network, X, T, x_bound, whole_fit)
        y_index = self._class_indices(T)
        if not whole_fit or y_index is None:
            return
        rows = slice(None, None, -(-X.shape[0] // _ONE_CLASS_CHECK_ROWS))
        if np.unique(y_index[rows]).size < 2:
            return
        sample = X[rows]
        first = None
        for block in _batches(sample.shape[0], 256):
            with np.errstate(over="ignore", invalid="ignore"):
                logits = network.logits(as_dtype(sample[block], network.dtype))
            predicted = _decide(network, logits)
            first = predicted[0] if first is None else first
            if (predicted != first).any():
                return
        _warnings.warn(
            "BPClassifier predicts only one class "
            f"({self.classes_.tolist()[first]!r}) for every training "
            f"sample, although y has {len(self.classes_)} classes: it learned "
            "nothing. Likely causes: unscaled inputs (put a "
            "StandardScaler before it in a Pipeline), too large a "
            "learning_rate_init, or too few epochs (with a small "
            "weight_init_std the loss first sits on a plateau).",
            UserWarning,
        )

    # --------------------------------------------------------- prediction ---

    def predict_proba(self, X):
        """Return class probabilities.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class (softmax of the outputs), columns in the
            order of ``classes_``; for a binary model ``[1 - p, p]`` with ``p``
            the sigmoid of its one output, as ``MLPClassifier``; for
            multilabel models the probability of each label (sigmoid of each
            output). float32 for a model fitted on float32 data.
        """
        return self._forward_blocks(X, "predict_proba", _proba)

    def predict_log_proba(self, X):
        """Return log class probabilities, computed stably from the outputs.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Logarithm of ``predict_proba``.
        """
        return self._forward_blocks(X, "predict_log_proba", _log_proba)

    def predict(self, X):
        """Predict class labels.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_labels)
            Predicted labels; for multilabel models the 0/1 indicator matrix
            of the labels whose probability exceeds 0.5.
        """
        return self._forward_blocks(X, "predict", _decide, _labels)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = self.class_weight is None
        return tags


# Rows of X the one-class check predicts after fit, evenly spaced.
_ONE_CLASS_CHECK_ROWS = 4096


def _check_classes(classes, multilabel):
    """``classes`` of ``partial_fit`` as a 1-D array of distinct labels, or raise."""
    array = np.asarray(classes)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(
            "classes must be a non-empty 1-D array of labels, got an array of "
            f"shape {array.shape}."
        )
    if any(label != label for label in array.tolist()):
        raise ValueError(f"classes contains NaN: {array.tolist()}.")
    if not multilabel:
        check_classification_targets(array)
    if np.unique(array).size != array.size:
        raise ValueError(f"classes has repeated labels: {array.tolist()}.")
    return np.unique(array)


def _check_indicator(y):
    """Raise unless the multilabel ``y`` holds only 0 and 1 (or False and True).

    ``type_of_target`` calls any integral matrix of two values an indicator;
    ``MLPClassifier`` then treats every non-zero value as 1, so that ``{-1, 1}``
    or ``{3, 5}`` would mark every label as present.
    """
    values = np.unique(y)
    if not np.isin(values, (0, 1)).all():
        found = values.tolist()
        raise ValueError(
            "Multilabel y must be a 0/1 indicator matrix (1: the label applies), "
            f"but y holds the values {found}. Pass a matrix of 0 and 1, e.g. "
            f"(y == {found[-1]!r}).astype(int) if {found[-1]!r} marks the labels "
            "that apply."
        )


def is_binary(network):
    """Whether ``network`` is a binary classifier's: one logistic output unit.

    As in ``MLPClassifier`` (``n_outputs_ == 1``), the unit's output is the
    probability of the positive class ``classes_[1]``.
    """
    return network.output == "logistic" and network.layer_units[-1] == 1


def _both_classes(logits):
    """``[-z, z]`` from a binary network's logits ``z``: sigmoids ``[1 - p, p]``."""
    return np.concatenate([np.negative(logits), logits], axis=1)


def _proba(network, logits):
    """Class (or label) probabilities; ``[1 - p, p]`` for a binary network."""
    if is_binary(network):
        logits = _both_classes(logits)  # sigmoid(-z) keeps the digits 1 - p loses
    return _predict_outputs(network, logits)


def _log_proba(network, logits):
    """Log-probabilities from the logits, stably, as ``predict_proba`` rounds them."""
    if network.output == "softmax":
        # -inf exactly where predict_proba underflows to 0, so the two agree.
        log_proba = log_softmax(logits)
        log_proba[np.exp(log_proba) == 0] = -np.inf
        return log_proba
    if is_binary(network):
        logits = _both_classes(logits)
    # log(1 / (1 + exp(-x))) = -log(1 + exp(-x)); 0 and -inf exactly where
    # predict_proba rounds to 1 and 0.
    log_proba = np.negative(np.logaddexp(0.0, -logits))
    proba = network.loss_layer(logits)
    log_proba[proba == 1] = 0.0
    log_proba[proba == 0] = -np.inf
    return log_proba


def _labels(decided, state):
    """The labels of class indices; a multilabel indicator matrix as it is."""
    return decided if decided.ndim == 2 else state["classes_"][decided]


def _decide(network, logits):
    """Class indices (argmax; binary: z > 0), or the multilabel 0/1 matrix (z > 0)."""
    if network.output == "softmax":
        return logits.argmax(axis=1)
    if is_binary(network):
        return (logits[:, 0] > 0).astype(np.intp)
    return (logits > 0).astype(int)
