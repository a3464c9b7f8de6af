"""Early stopping: ``validation_loss_curve_`` and the ``scoring`` parameter.

Oracles: scikit-learn's ``log_loss`` and R²/squared error recomputed on the
held-out rows (the split reproduced as ``_training._split_validation`` draws
it), with each epoch's model taken from a callback; the ``tol`` /
``n_iter_no_change`` rule replayed on a full curve; scikit-learn's scorers.
"""

import warnings

import numpy as np
import pytest
from _helpers import PLAIN_SGD
from numpy.testing import assert_allclose
from sklearn.datasets import load_diabetes, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from skbp import BPClassifier, BPRegressor

X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_IRIS = StandardScaler().fit_transform(X_IRIS)
X_DIAB, Y_DIAB = load_diabetes(return_X_y=True)
X_DIAB = StandardScaler().fit_transform(X_DIAB)[:200]
Y_DIAB = ((Y_DIAB - Y_DIAB.mean()) / Y_DIAB.std())[:200]
WEIGHTS = np.random.default_rng(0).uniform(0.5, 2.0, len(Y_IRIS))


def classifier(**params):
    return BPClassifier(
        (3,), random_state=0, early_stopping=True, validation_fraction=0.2,
        **{**PLAIN_SGD, "batch_size": 30},
    ).set_params(**params)  # fmt: skip


def regressor(**params):
    return BPRegressor(
        (4,), random_state=0, early_stopping=True, validation_fraction=0.2,
        **{**PLAIN_SGD, "batch_size": 30, "learning_rate_init": 0.02},
    ).set_params(**params)  # fmt: skip


def quiet_fit(est, X, y, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y, **kwargs)


def held_out_rows(est, n_samples, stratify):
    """The validation rows, drawn as ``_split_validation`` draws them.

    The estimator's random state first draws the Glorot-uniform initial
    weights (W then b, layer by layer), then ``train_test_split`` splits.
    """
    rng = np.random.RandomState(est.random_state)
    units = [est.n_features_in_, *est.hidden_layer_sizes, est.n_outputs_]
    for fan_in, fan_out in zip(units, units[1:], strict=False):
        bound = np.sqrt(2.0 / (fan_in + fan_out))
        rng.uniform(-bound, bound, (fan_in, fan_out))
        rng.uniform(-bound, bound, fan_out)
    _, val = train_test_split(
        np.arange(n_samples),
        random_state=rng,
        test_size=est.validation_fraction,
        stratify=stratify,
    )
    return val


class EpochModels:
    """A callback keeping the model of every epoch."""

    def __init__(self):
        self.models = []

    def setup(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if context.task_name == "epoch":
            self.models.append(fitted_estimator)

    def teardown(self, estimator, context):
        pass


def l2(model, alpha, total_weight):
    return 0.5 * alpha * sum((W**2).sum() for W in model.coefs_) / total_weight


@pytest.mark.parametrize("gradient", ["backprop", "numerical"])
@pytest.mark.parametrize("weighted", [False, True])
def test_classifier_validation_loss_is_the_loss_on_the_held_out_rows(
    gradient, weighted
):
    pytest.importorskip("sklearn.callback")
    epochs = EpochModels()
    sw = WEIGHTS if weighted else None
    clf = classifier(gradient=gradient, alpha=0.3, max_iter=4, n_iter_no_change=99)
    quiet_fit(clf.set_callbacks(epochs), X_IRIS, Y_IRIS, sample_weight=sw)
    val = held_out_rows(clf, len(Y_IRIS), stratify=Y_IRIS)
    sw_val = None if sw is None else sw[val]
    total = len(val) if sw is None else sw_val.sum()
    assert len(clf.validation_loss_curve_) == len(clf.loss_curve_) == 4
    for k, model in enumerate(epochs.models):
        proba = model.predict_proba(X_IRIS[val])
        expected = log_loss(Y_IRIS[val], proba, sample_weight=sw_val) + l2(
            model, 0.3, total
        )
        assert_allclose(clf.validation_loss_curve_[k], expected, rtol=1e-12)
        accuracy = np.average(model.predict(X_IRIS[val]) == Y_IRIS[val], weights=sw_val)
        assert clf.validation_scores_[k] == pytest.approx(accuracy, abs=1e-15)


def test_regressor_validation_loss_is_half_the_squared_error_on_the_held_out_rows():
    pytest.importorskip("sklearn.callback")
    epochs = EpochModels()
    reg = regressor(alpha=0.1, max_iter=3, n_iter_no_change=99)
    quiet_fit(reg.set_callbacks(epochs), X_DIAB, Y_DIAB)
    val = held_out_rows(reg, len(Y_DIAB), stratify=None)
    for k, model in enumerate(epochs.models):
        residual = model.predict(X_DIAB[val]) - Y_DIAB[val]
        expected = 0.5 * np.mean(residual**2) + l2(model, 0.1, len(val))
        assert_allclose(reg.validation_loss_curve_[k], expected, rtol=1e-12)
        assert reg.validation_scores_[k] == pytest.approx(
            model.score(X_DIAB[val], Y_DIAB[val]), abs=1e-12
        )


def test_validation_loss_curve_is_none_without_early_stopping():
    for solver in ("sgd", "lbfgs"):
        est = classifier(early_stopping=False, solver=solver, max_iter=2)
        est = quiet_fit(est, X_IRIS, Y_IRIS)
        assert est.validation_loss_curve_ is None and est.validation_scores_ is None


def test_backprop_and_numerical_validation_losses_agree():
    curves = [
        quiet_fit(classifier(gradient=g, max_iter=3), X_IRIS, Y_IRIS)
        for g in ("backprop", "numerical")
    ]
    assert_allclose(*(c.validation_loss_curve_ for c in curves), rtol=1e-8)


def replay_stopping_rule(curve, tol, n_iter_no_change):
    """Epochs after which MLPClassifier's rule stops on a lower-is-better curve."""
    best, count = np.inf, 0
    for epoch, value in enumerate(curve, start=1):
        count = 0 if value <= best - tol else count + 1
        best = min(best, value)
        if count > n_iter_no_change:
            return epoch
    return None


@pytest.mark.parametrize("make", [classifier, regressor])
def test_scoring_loss_stops_when_the_validation_loss_stops_decreasing(make):
    X, y = (X_IRIS, Y_IRIS) if make is classifier else (X_DIAB, Y_DIAB)
    params = dict(learning_rate_init=0.5 if make is classifier else 0.05)
    full = quiet_fit(make(max_iter=40, n_iter_no_change=np.inf, **params), X, y)
    tol = 0.01
    expected = replay_stopping_rule(full.validation_loss_curve_, tol, 2)
    assert expected is not None and expected < 40
    stopped = quiet_fit(
        make(max_iter=40, scoring="loss", tol=tol, n_iter_no_change=2, **params), X, y
    )
    assert stopped.n_iter_ == expected
    assert stopped.validation_scores_ == stopped.validation_loss_curve_
    assert stopped.validation_loss_curve_ == full.validation_loss_curve_[:expected]
    assert stopped.best_validation_score_ == min(stopped.validation_loss_curve_)


def test_scoring_loss_keeps_the_epoch_of_the_lowest_validation_loss():
    pytest.importorskip("sklearn.callback")
    epochs = EpochModels()
    clf = classifier(scoring="loss", max_iter=30, learning_rate_init=2.0)
    quiet_fit(clf.set_callbacks(epochs), X_IRIS, Y_IRIS)
    best = int(np.argmin(clf.validation_loss_curve_))
    best_model = epochs.models[best]
    assert_allclose(clf.predict_proba(X_IRIS), best_model.predict_proba(X_IRIS))


def test_scoring_by_scorer_name():
    neg_log_loss = quiet_fit(
        classifier(scoring="neg_log_loss", max_iter=4), X_IRIS, Y_IRIS
    )
    # Without L2 term, the validation loss is the held-out log loss.
    assert_allclose(
        neg_log_loss.validation_scores_,
        -np.array(neg_log_loss.validation_loss_curve_),
        rtol=1e-12,
    )
    assert neg_log_loss.best_validation_score_ == max(neg_log_loss.validation_scores_)
    mse = quiet_fit(
        regressor(scoring="neg_mean_squared_error", max_iter=3), X_DIAB, Y_DIAB
    )
    assert_allclose(
        mse.validation_scores_, -2 * np.array(mse.validation_loss_curve_), rtol=1e-12
    )


def test_scoring_by_callable_sees_each_epochs_model_and_the_weights():
    seen = []

    def accuracy(estimator, X, y, sample_weight=None):
        seen.append(sample_weight is not None)
        return estimator.score(X, y, sample_weight=sample_weight)

    default = quiet_fit(classifier(max_iter=4), X_IRIS, Y_IRIS, sample_weight=WEIGHTS)
    custom = quiet_fit(
        classifier(max_iter=4, scoring=accuracy), X_IRIS, Y_IRIS, sample_weight=WEIGHTS
    )
    assert seen == [True] * 5  # once on the initial model (a check), then each epoch
    assert_allclose(custom.validation_scores_, default.validation_scores_, rtol=1e-15)
    assert custom.validation_loss_curve_ == default.validation_loss_curve_


def test_scorer_with_dataframe_input_does_not_warn():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(X_IRIS, columns=[f"f{i}" for i in range(4)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)  # 2 epochs on purpose
        classifier(max_iter=2, n_iter_no_change=99, scoring="accuracy").fit(X, Y_IRIS)


def test_unknown_scorer_name_is_refused_at_fit():
    with pytest.raises(ValueError, match="not a valid scoring value"):
        classifier(scoring="acuracy").fit(X_IRIS, Y_IRIS)


def test_display_draws_the_validation_loss_beside_the_training_loss():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skbp import TrainingCurveDisplay

    clf = quiet_fit(classifier(max_iter=3), X_IRIS, Y_IRIS)
    disp = TrainingCurveDisplay.from_estimator(clf, name="bp")
    labels = [line.get_label() for line in disp.ax_.get_lines()]
    assert labels == ["bp: training loss", "bp: validation loss"]
    assert_allclose(disp.validation_loss_line_.get_ydata(), clf.validation_loss_curve_)
    assert [line.get_label() for line in disp.validation_ax_.get_lines()] == [
        "bp: validation accuracy"
    ]
    # With scoring="loss" the scores are that loss: drawn once, on the loss axis.
    by_loss = quiet_fit(classifier(max_iter=3, scoring="loss"), X_IRIS, Y_IRIS)
    disp = TrainingCurveDisplay.from_estimator(by_loss)
    assert disp.validation_line_ is None and disp.validation_loss_line_ is not None
    plt.close("all")


# ------------------------------------------- scorers that cannot apply, NaN ---


def _returns(value):
    def scorer(estimator, X, y, sample_weight=None):
        return value

    return scorer


_INAPPLICABLE = {
    "regressor-accuracy": (regressor, "accuracy", "continuous is not supported"),
    "regressor-roc_auc": (regressor, "roc_auc", "predict_proba"),
    "multiclass-roc_auc": (classifier, "roc_auc", "multi_class"),
    "multiclass-f1": (classifier, "f1", "multiclass"),
    "callable-None": (classifier, _returns(None), "returned None"),
    "callable-str": (classifier, _returns("high"), "returned 'high'"),
}


@pytest.mark.parametrize("case", _INAPPLICABLE, ids=list(_INAPPLICABLE))
def test_a_scorer_that_cannot_apply_fails_before_any_training(monkeypatch, case):
    from skbp import _training

    make, scoring, reason = _INAPPLICABLE[case]
    X, y = (X_DIAB, Y_DIAB) if make is regressor else (X_IRIS, Y_IRIS)

    def no_epoch(*args, **kwargs):
        raise AssertionError("an epoch was trained")

    monkeypatch.setattr(_training, "_run_epoch", no_epoch)
    est = make(scoring=scoring)
    with pytest.raises(ValueError, match="scoring=") as error:
        est.fit(X, y)
    assert reason in str(error.value)
    assert not hasattr(est, "n_iter_")


class _Scores:
    """A scorer returning ``check`` on the first call (the check on the initial
    model), then ``values`` in turn, one per epoch."""

    def __init__(self, values, check=0.0):
        self.values, self.check, self.calls = list(values), check, 0

    def __call__(self, estimator, X, y, sample_weight=None):
        self.calls += 1
        return self.check if self.calls == 1 else self.values[self.calls - 2]


def test_a_nan_validation_score_is_never_the_best():
    nan = float("nan")
    fits = [
        quiet_fit(
            classifier(scoring=scorer, max_iter=4, n_iter_no_change=99),
            X_IRIS,
            Y_IRIS,
        )
        for scorer in (
            _Scores([nan, 0.5, 0.7, 0.6], check=nan),
            _Scores([0.1, 0.5, 0.7, 0.6]),
        )
    ]
    assert fits[0].best_validation_score_ == 0.7
    assert_allclose(fits[0].predict_proba(X_IRIS), fits[1].predict_proba(X_IRIS))


def test_all_nan_roc_auc_keeps_the_last_epoch_and_warns_once():
    """The realistic trigger: roc_auc on multilabel y whose rare label is
    absent from the validation rows scores NaN every epoch."""
    labels = np.column_stack([Y_IRIS == 0, Y_IRIS == 1, np.zeros(len(Y_IRIS))])
    probe = quiet_fit(classifier(max_iter=1), X_IRIS, labels.astype(int))
    val = held_out_rows(probe, len(Y_IRIS), stratify=None)
    rare = np.setdiff1d(np.arange(len(Y_IRIS)), val)[:3]
    labels[rare, 2] = 1
    params = dict(max_iter=4, n_iter_no_change=99)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        nan_fit = quiet_fit(classifier(scoring="roc_auc", **params), X_IRIS, labels)
    assert np.isnan(nan_fit.validation_scores_).all() and nan_fit.n_iter_ == 4
    assert np.isnan(nan_fit.best_validation_score_)
    ours = [w for w in caught if "Every validation score" in str(w.message)]
    assert len(ours) == 1 and "scoring='roc_auc'" in str(ours[0].message)
    assert ours[0].filename == __file__
    # The same training, scored so that the last epoch is the best.
    last = quiet_fit(
        classifier(scoring=_Scores([1, 2, 3, 4]), **params), X_IRIS, labels
    )
    assert_allclose(nan_fit.predict_proba(X_IRIS), last.predict_proba(X_IRIS))


def test_multioutput_regressor_validation_loss_is_mlpregressors_loss():
    """With several outputs the held-out loss is reported as loss_curve_ is:
    the squared error averaged over outputs (MLPRegressor's), plus L2."""
    pytest.importorskip("sklearn.callback")
    Y = np.column_stack([Y_DIAB, 2 * Y_DIAB**2 - 1, -Y_DIAB])
    epochs = EpochModels()
    reg = regressor(alpha=0.1, max_iter=3, n_iter_no_change=99)
    quiet_fit(reg.set_callbacks(epochs), X_DIAB, Y)
    val = held_out_rows(reg, len(Y), stratify=None)
    for k, model in enumerate(epochs.models):
        residual = model.predict(X_DIAB[val]) - Y[val]
        expected = 0.5 * np.mean(residual**2) + l2(model, 0.1, len(val))
        assert_allclose(reg.validation_loss_curve_[k], expected, rtol=1e-12)


def test_float32_validation_r2_is_computed_in_float64_as_mlpregressors():
    """Squared errors that underflow float32 do not make a perfect score.

    MLPRegressor scores float32 fits against its float64 targets; found by
    tests/test_differential.py (a constant held-out target scored 1.0).
    """
    reg = BPRegressor(hidden_layer_sizes=(2,), max_iter=1).fit(
        np.zeros((4, 1), np.float32), np.arange(4.0)
    )
    T = np.zeros((5, 1), np.float32)  # say counts, all 0 in the held-out rows
    logits = np.full((5, 1), 1e-23, np.float32)  # squares underflow float32
    assert r2_score(T, logits) == 1.0  # what float32 arithmetic would give
    expected = r2_score(T.astype(np.float64), logits.astype(np.float64))
    assert reg._validation_score(logits, T, None) == expected == 0.0
