"""``BPRegressor``: targets, its losses (``quantile``) and R²; the rest is shared."""

from numbers import Real

import numpy as np
from sklearn.base import RegressorMixin
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import Interval, StrOptions

from . import _docs
from ._base import BaseBP, estimator_init
from .layers.outputs import SCALE_Y
from .network import OUTPUTS, LossNames, losses


def _numeric_targets(y, dtype):
    """``y`` as a 2-D array of ``dtype``, or a ValueError saying what is wrong with y.

    Refused: dates and durations, non-numbers, NaN or infinity (an object
    ``y``'s ``None`` becomes NaN) and values beyond the range of ``dtype`` (the
    training dtype, ``X``'s). What a loss needs besides is its output
    layer's ``check_targets``.
    """
    if y.dtype.kind in "mM":
        raise ValueError(
            f"BPRegressor needs numeric targets; y has dtype {y.dtype} (dates or "
            "durations). Convert y to numbers in the unit you mean, for example "
            "(y - y.min()) / np.timedelta64(1, 'D')."
        )
    if y.dtype.kind not in "biuf":
        try:
            y = y.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"BPRegressor needs numeric targets; y has dtype {y.dtype}: {exc}"
            ) from None
    if not np.isfinite(y).all():
        raise ValueError(
            "y contains NaN or infinity (None in an object y counts as NaN): every "
            "target must be a finite number. Drop or impute those rows."
        )
    largest = float(np.abs(y).max()) if y.size else 0.0
    finfo = np.finfo(dtype)
    if largest > float(finfo.max):
        raise ValueError(
            f"y has values beyond the {finfo.dtype} range (the largest |y| is "
            f"{largest:.3g}); X is {finfo.dtype}, so training runs in "
            f"{finfo.dtype}. {SCALE_Y}, or pass X as float64."
        )
    return np.asarray(y, dtype=dtype).reshape(len(y), -1)


_LOSS_DOC = _docs.choice_doc(
    "loss", {name: OUTPUTS[name].doc for name in losses("regressor")}, "squared_error"
)
_QUANTILE_DOC = """\
    quantile : float in (0, 1), default=0.5
        The quantile ``loss="quantile"`` predicts (0.05 and 0.95 for a 90%
        prediction interval); the default, 0.5, is the median. Other losses
        ignore it, as ``HistGradientBoostingRegressor``'s do.
"""
_LOSS_NOTE = """
        As ``MLPRegressor``'s: for several outputs and
        ``loss="squared_error"``, the squared-error term is averaged over
        outputs, while training follows the gradient of its sum (what
        ``gradient_check`` checks). ``tol`` and the adaptive schedule compare
        this loss; L-BFGS minimises the sum itself (``MLPRegressor``'s line
        search mixes the two, so its multi-output L-BFGS fits differ)."""

_INTRO = """Neural-network regressor trained by backpropagation or numerical gradients.

    The network is ``Affine -> activation -> ... -> Affine -> IdentityWithLoss``
    (half squared error), or the output layer of another ``loss`` (the
    Poisson and gamma deviances of an exponential output, the absolute error
    and the pinball loss of ``quantile``: the losses of
    ``HistGradientBoostingRegressor``), one ``Affine -> activation`` pair per
    entry of ``hidden_layer_sizes``, plus an L2 term. ``score`` is R² for
    every loss.

    Parameter names, meanings and defaults follow
    :class:`~sklearn.neural_network.MLPRegressor`, except the activation
    (logistic, the Sigmoid layer this package is about) and the order:
    ``loss`` is keyword-only here, while ``hidden_layer_sizes`` and
    ``activation`` may be passed by position, as to
    :class:`~skbp.BPClassifier`.
"""
_EXAMPLES = """\
    Examples
    --------
    Mean R² of a 3-fold cross-validation on the diabetes data, standardised:

    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.model_selection import cross_val_score
    >>> from sklearn.preprocessing import scale
    >>> from skbp import BPRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = BPRegressor(solver="lbfgs", alpha=10.0, random_state=0)
    >>> print(round(cross_val_score(reg, scale(X), y / 100, cv=3).mean(), 2))
    0.48
"""


class BPRegressor(RegressorMixin, BaseBP):
    __doc__ = _docs.estimator_doc(
        _INTRO,
        own_parameters=_LOSS_DOC + _QUANTILE_DOC,
        own_attributes="",
        peer="MLPRegressor",
        score="(weighted) R²",
        split=" (a plain random split)",
        loss_note=_LOSS_NOTE,
        n_outputs="Number of outputs: columns of ``y`` (1 for a 1-D ``y``).",
        out_activation="Output activation: "
        + "; ".join(
            f'``"{OUTPUTS[name].out_activation}"`` for ``loss="{name}"``'
            for name in losses("regressor")
        )
        + ".",
        sibling="BPClassifier",
        examples=_EXAMPLES,
    )

    _parameter_constraints: dict = {
        **BaseBP._parameter_constraints,
        "loss": [StrOptions(LossNames("regressor"))],
        "quantile": [Interval(Real, 0, 1, closed="neither")],
    }

    __init__ = estimator_init(loss="squared_error", quantile=0.5)

    # -------------------------------------------------------------- hooks ---

    def _encode_targets(self, y, dtype, first_pass, incremental, classes):
        """Set ``n_outputs_``, ``out_activation_`` on a first pass; return 2-D ``y``."""
        T = _numeric_targets(y, dtype)
        OUTPUTS[self.loss].layer.check_targets(T)
        if first_pass:
            self.n_outputs_ = T.shape[1]
            self.out_activation_ = OUTPUTS[self.loss].out_activation
        elif self.loss != self._network.output:
            fitted = self._network.output
            what = (
                f"Set loss={fitted!r} to continue training, or call fit to train "
                f"a new model with loss={self.loss!r}."
                if incremental
                else "Set warm_start=False (or start a new estimator) to change it."
            )
            raise ValueError(
                f"loss={self.loss!r} differs from the loss the model was fitted "
                f"with ({fitted!r}). {what}"
            )
        elif T.shape[1] != self.n_outputs_:
            raise ValueError(
                f"y has {T.shape[1]} outputs, but the model was fitted on "
                f"{self.n_outputs_}."
            )
        return T

    def _output_loss(self):
        """The output layer of ``loss``."""
        return self.loss

    def _validation_score(self, logits, T, sample_weight):
        """(Weighted) R² of the predictions, as MLPRegressor; NaN if they overflow.

        Computed in float64 whatever the training dtype, as MLPRegressor's
        (its targets stay float64): in float32 the squared errors of a
        near-constant target can round to 0 and score 1.0.
        """
        predicted = OUTPUTS[self.loss].layer()(logits)
        if not np.isfinite(predicted).all():
            return np.nan
        return float(
            r2_score(
                T.astype(np.float64),
                predicted.astype(np.float64),
                sample_weight=sample_weight,
            )
        )

    # --------------------------------------------------------- prediction ---

    def predict(self, X):
        """Predict the targets.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Input data, scaled as the training data were.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predictions (``exp`` of the network's output for
            ``loss="poisson"`` and ``"gamma"``), 1-D when the model has one
            output. float32 for a model fitted on float32 data.
        """
        return self._forward_blocks(X, "predict", finish=_one_output_as_1d)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.positive_only = _refuses_negative_targets(self.loss)
        return tags


def _one_output_as_1d(y, state):
    """Predictions of a one-output model as a 1-D array."""
    return y.ravel() if state["n_outputs_"] == 1 else y


def _refuses_negative_targets(loss):
    """Whether the output layer of ``loss`` refuses a negative ``y`` (gamma's)."""
    entry = OUTPUTS.get(loss)
    if entry is None or entry.estimator != "regressor":
        return False
    try:
        entry.layer.check_targets(np.full((1, 1), -1.0))
    except ValueError:
        return True
    return False
