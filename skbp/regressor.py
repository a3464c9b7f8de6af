"""``BPRegressor``: targets, the Poisson loss and R²; the rest is shared."""

import numpy as np
import scipy.sparse as sp
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import column_or_1d

from ._base import BaseBP, estimator_init
from .network import OUTPUTS

# out_activation_ (the output layer's name in OUTPUTS) of each loss, as MLPRegressor.
_OUTPUT_OF_LOSS = {"squared_error": "identity", "poisson": "exp"}


class BPRegressor(RegressorMixin, BaseBP):
    """Neural-network regressor trained by backpropagation or numerical gradients.

    The network is ``Affine -> activation -> ... -> Affine -> IdentityWithLoss``
    (half squared error), or ``-> PoissonWithLoss`` (exponential output, half
    Poisson deviance) with ``loss="poisson"``, one ``Affine -> activation``
    pair per entry of ``hidden_layer_sizes``, plus an L2 term. ``gradient``
    chooses how the gradient is computed: by backpropagation through the
    layers, or by central differences of the loss (two forward passes per
    parameter). For the same ``random_state`` both draw the same initial
    weights and the same batches, so their fits agree to finite-difference
    precision and differ only in time.

    Parameter names, meanings and defaults follow
    :class:`~sklearn.neural_network.MLPRegressor`, except the activation
    (logistic, the Sigmoid layer this package is about) and the order:
    ``loss`` is keyword-only here, while ``hidden_layer_sizes`` and
    ``activation`` may be passed by position, as to
    :class:`~skbp.BPClassifier`. Every parameter but ``loss`` means what it
    means for ``BPClassifier``, whose documentation describes it in full;
    below, what differs for regression.

    Parameters
    ----------
    hidden_layer_sizes : array-like of int, default=(100,)
        Number of units of each hidden layer.
    activation : {"logistic", "tanh", "relu", "identity"}, default="logistic"
        Hidden-layer activation (``"logistic"`` is the Sigmoid layer).
    loss : {"squared_error", "poisson"}, default="squared_error"
        ``"squared_error"``: identity output, half the squared error averaged
        over samples and summed over outputs. ``"poisson"``: output
        ``exp(z)`` (the log link) and half the Poisson deviance, for
        non-negative ``y`` such as counts.
    solver : {"sgd", "adam", "lbfgs"}, default="adam"
        Mini-batch ``"sgd"`` or ``"adam"``, or full-batch L-BFGS-B.
    gradient : {"backprop", "numerical"}, default="backprop"
        How the gradient of the loss is computed, for every solver.
    alpha : float, default=0.0001
        L2 penalty ``0.5 * alpha * sum(W**2) / sum(w)`` added to the loss.
    batch_size : int or "auto", default="auto"
        Samples per mini-batch; ``"auto"`` is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        SGD schedule.
    learning_rate_init : float, default=0.001
        Initial step size of ``"sgd"`` and ``"adam"``.
    power_t : float, default=0.5
        Exponent of ``"invscaling"``.
    max_iter : int, default=200
        Epochs for ``"sgd"``/``"adam"``, iterations for ``"lbfgs"``.
    shuffle : bool, default=True
        Whether to shuffle the samples before each epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, the early-stopping split and shuffling.
    tol : float, default=1e-4
        Improvement in training loss (or validation R²) that counts as progress.
    verbose : int, default=0
        If positive, print one line per epoch.
    warm_start : bool, default=False
        If True, ``fit`` continues from the previous solution.
    momentum : float, default=0.9
        SGD momentum, in [0, 1].
    nesterovs_momentum : bool, default=True
        Whether to use Nesterov's momentum.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows (a plain random split)
        and stop when their (weighted) R² stops improving by ``tol`` for
        ``n_iter_no_change`` epochs, restoring the best parameters seen.
    validation_fraction : float, default=0.1
        Fraction held out for early stopping, in (0, 1).
    scoring : str, callable or None, default=None
        What early stopping watches on the held-out rows. None: the
        (weighted) R². ``"loss"``: the validation loss (lower is better:
        training stops when it has not fallen by ``tol`` for
        ``n_iter_no_change`` epochs, and the epoch of the lowest is kept).
        Any scikit-learn scorer name (``"neg_log_loss"``, ...) or callable
        ``scorer(estimator, X_val, y_val)`` (given ``sample_weight=`` when
        weighted), called with the model of each epoch: higher is better.
    beta_1, beta_2 : float, default=0.9, 0.999
        Adam's moment decay rates, in [0, 1).
    epsilon : float, default=1e-8
        Adam's numerical-stability constant.
    n_iter_no_change : int or np.inf, default=10
        Epochs without improvement before stopping.
    max_fun : int, default=15000
        Maximum loss evaluations of ``"lbfgs"``.
    weight_init_std : float or None, default=None
        None: Glorot-uniform initialisation, as ``MLPRegressor``; a float
        ``s``: weights from ``N(0, s**2)`` and zero biases.
    numerical_step : float, default=1e-4
        Step ``h`` of the central difference of ``gradient="numerical"``.

    Attributes
    ----------
    n_features_in_ : int
        Number of features seen during ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of features seen during ``fit``; only when ``X`` has string
        column names.
    coefs_ : list of ndarray
        Weight matrix of each layer: views into one flat parameter vector
        (assigning arrays of the same shapes changes the model).
    intercepts_ : list of ndarray
        Bias vector of each layer, views into the same flat vector.
    n_iter_ : int
        Epochs (or L-BFGS iterations) run by the latest ``fit`` call.
    t_ : int
        Number of training samples seen, over all calls.
    loss_ : float
        Training loss of the last epoch (or the L-BFGS optimum). For
        several outputs and ``loss="squared_error"`` it is ``n_outputs_``
        times ``MLPRegressor``'s, which averages the squared error over
        outputs but trains on the gradient of its sum.
    loss_curve_ : list of float
        Training loss of each epoch, or of each L-BFGS iteration.
    best_loss_ : float or None
        Lowest training loss of the latest call (None with early stopping).
    validation_scores_ : list of float or None
        Held-out score after each epoch with early stopping (R², the
        validation loss or the score ``scoring`` names), else None.
    validation_loss_curve_ : list of float or None
        Held-out loss after each epoch with early stopping, else None: the
        loss of ``loss_curve_`` (the same L2 term, the same sample weights) on
        the held-out rows.
    best_validation_score_ : float or None
        Best of ``validation_scores_`` (the lowest with ``scoring="loss"``)
        with early stopping, else None.
    n_layers_ : int
        Number of layers, input and output included.
    n_outputs_ : int
        Number of outputs: columns of ``y`` (1 for a 1-D ``y``).
    out_activation_ : str
        Output activation: ``"identity"``, or ``"exp"`` for ``loss="poisson"``.

    See Also
    --------
    sklearn.neural_network.MLPRegressor : scikit-learn's multi-layer perceptron.
    skbp.BPClassifier : the classifier built from the same layers.
    skbp.gradient_check : compare the two gradients at a model's parameters.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.model_selection import train_test_split
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skbp import BPRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    >>> reg = make_pipeline(
    ...     StandardScaler(),
    ...     BPRegressor(solver="lbfgs", alpha=10.0, random_state=0),
    ... )
    >>> round(reg.fit(X_train, y_train / 100).score(X_test, y_test / 100), 2)
    0.38
    """

    _parameter_constraints: dict = {
        **BaseBP._parameter_constraints,
        "loss": [StrOptions(set(_OUTPUT_OF_LOSS))],
    }

    __init__ = estimator_init(loss="squared_error")

    # -------------------------------------------------------------- hooks ---

    def _encode_targets(self, y, dtype, first_pass, incremental, classes):
        """Set ``n_outputs_``, ``out_activation_`` on a first pass; return 2-D ``y``."""
        if sp.issparse(y):
            y = y.toarray()
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)  # as MLPRegressor: predicts 1-D
        if y.dtype.kind not in "biuf":
            try:
                y = y.astype(np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"BPRegressor needs numeric targets; y has dtype {y.dtype}: {exc}"
                ) from None
        T = np.asarray(y, dtype=dtype).reshape(len(y), -1)
        out_activation = _OUTPUT_OF_LOSS[self.loss]
        if out_activation == "exp" and (T < 0).any():
            raise ValueError(
                "loss='poisson' needs non-negative targets (counts or rates), but y "
                f"has negative values (the smallest is {T.min()!r}). Use "
                "loss='squared_error', or shift y."
            )
        if first_pass:
            self.n_outputs_ = T.shape[1]
            self.out_activation_ = out_activation
        elif out_activation != self.out_activation_:
            raise ValueError(
                f"loss={self.loss!r} differs from the loss the model was fitted "
                "with. Set warm_start=False (or start a new estimator) to change it."
            )
        elif T.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {T.shape[1]} outputs, but the model was fitted on "
                f"{self.n_outputs_}."
            )
        return T

    def _sample_weight_by_target(self, T, sample_weight, incremental):
        """No weights by target: ``sample_weight`` alone."""
        return None

    def _stratify_labels(self, T):
        """No stratification: the early-stopping split is a plain random one."""
        return None

    def _validation_score(self, logits, T, sample_weight):
        """(Weighted) R² of the predictions, as MLPRegressor; NaN if they overflow."""
        predicted = OUTPUTS[self.out_activation_]()(logits)
        if not np.isfinite(predicted).all():
            return np.nan
        return float(r2_score(T, predicted, sample_weight=sample_weight))

    # --------------------------------------------------------- prediction ---

    def predict(self, X):
        """Predict the targets.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions (``exp`` of the network's output for
            ``loss="poisson"``), 1-D when the model has one output. float32
            for a model fitted on float32 data.
        """
        y, state = self._forward_blocks(X)
        return y.ravel() if state["n_outputs_"] == 1 else y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
