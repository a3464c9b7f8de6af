"""The differential suite: what "drop-in for MLPClassifier/MLPRegressor" means.

Hypothesis draws configurations over the whole parameter space (every solver
and hidden activation, ``alpha`` 0-10, ``batch_size`` "auto" or any int up to
beyond the data, every learning-rate schedule, momentum and Adam setting,
``tol``, ``n_iter_no_change``, ``max_iter``, ``shuffle``, early stopping,
warm-started second fits, 1-5 ``partial_fit`` calls) and data (binary,
multiclass, multilabel, regression with 1-3 targets, Poisson; float32 and
float64; dense and CSR; no weights, positive weights, weights with zeros),
fits skbp (``gradient="backprop"``, ``weight_init_std=None``) and
scikit-learn's MLP identically, and compares after every call everything
observable: ``coefs_``/``intercepts_`` and their dtype, ``predict``,
``predict_proba``, ``n_iter_``, ``t_``, ``loss_``, ``loss_curve_``,
``best_loss_``, ``validation_scores_``, ``best_validation_score_``, the
warnings and the exception raised. skbp's own parameters are held at the
values that make its model MLP's (``SKBP_ONLY``); ``dropout`` above 0 is
drawn where skbp's backprop fit is compared with its numerical fit.

Values must agree within ``TOLERANCES`` (per solver and dtype); anything else
that differs must be covered by an entry of ``DOCUMENTED`` (a difference kept
on purpose, with the README row that documents it), ``PENDING`` (a
difference being fixed: issue 17's items, and those this suite found that
nothing documents, named "UNDOCUMENTED: ...") or ``ROUNDING`` (where
scikit-learn itself does not reproduce its result under a few ulps of
rounding noise, so agreement within tolerance is not due). Each entry's
predicate says exactly when it applies, some by re-running MLP as an oracle
(with the exact log-loss, with rounding noise); delete a ``PENDING`` entry
when its fix merges, and the suite then holds skbp to scikit-learn there.

A failing example prints its configuration as one line, and the command that
replays it::

    python tests/test_differential.py '{"estimator": "classifier", ...}'

Profiles (``tests/conftest.py``): the default runs about a minute, with a
fixed seed (``derandomize``) so that CI is reproducible;

    pytest tests/test_differential.py --hypothesis-profile=long

runs 5,000 examples or more (``DIFFERENTIAL_EXAMPLES`` per profile, below), and
with ``SKBP_DIFFERENTIAL_REPORT=path.json`` set, writes the counts of cases
by estimator, solver and mode (agree; documented, pending, undocumented or
rounding: the most pending table entry the case needed), how often each entry
was used, and the largest relative weight difference per solver and dtype on
agreeing cases.
"""

import json
import os
import re
import sys
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st
from sklearn.neural_network import MLPClassifier, MLPRegressor

from skbp import BPClassifier, BPRegressor

# ------------------------------------------------------------- tolerances ---

# Relative tolerance on every float observable (weights, probabilities,
# losses, scores), per solver and dtype: |skbp - mlp| <= tol * max(1, |mlp|)
# elementwise. Largest max|skbp - mlp| / max|mlp| of the weights measured
# over 5,200 examples of the long profile, on calls whose weights agree
# (classifier / regressor): float64 SGD 5.1e-16 / 1.1e-11, Adam 2.0e-11 /
# 9.1e-14, L-BFGS 1.8e-7 / 2.4e-9; float32 SGD 1.0e-3 / 1.6e-3, Adam
# 1.1e-3 / 3.5e-3, L-BFGS 8.6e-4 / 3.9e-4 (float32 differences grow with the
# step size: rounding of large steps, as MLP's own under ulp noise).
TOLERANCES = {
    ("sgd", "float64"): 1e-8,
    ("adam", "float64"): 1e-7,
    ("lbfgs", "float64"): 1e-5,
    # float32 paths drift apart by rounding over hundreds of steps (Adam on
    # batches of one: 1.4e-3 after 448 steps), whatever the arithmetic order.
    ("sgd", "float32"): 1e-2,
    ("adam", "float32"): 1e-2,
    ("lbfgs", "float32"): 1e-2,
}

# Examples per test and profile: the default's 400 take 30 s on the 2-core
# test machine when idle (about two minutes under heavy load); the long
# profile's 5,200 took 6.5 min (two processes, one per test, loaded machine).
DIFFERENTIAL_EXAMPLES = {"default": 200, "long": 2600}

OBSERVABLES = (
    "exception",
    "warnings",
    "shape",
    "dtype",
    "coefs",
    "predict",
    "predict_proba",
    "predict_log_proba",
    "n_iter_",
    "t_",
    "loss_",
    "loss_curve_",
    "best_loss_",
    "validation_scores_",
    "best_validation_score_",
)
# Observables that follow from the training trajectory: a difference in the
# path shows in all of them.
TRAJECTORY = tuple(
    name for name in OBSERVABLES if name not in ("exception", "shape", "dtype")
)
# The fitted attributes that record the training history.
HISTORY = OBSERVABLES[-7:]
# The training loss's values (not the path they may steer).
LOSS_VALUES = ("loss_", "loss_curve_", "best_loss_")
MISSING = "<absent>"
# The normalised message of the warning a fit ending at max_iter gives.
MAX_ITER = "maximum iterations reached"


def tolerance(cfg):
    """The relative tolerance of the configuration's solver and dtype."""
    return TOLERANCES[cfg["params"]["solver"], cfg["dtype"]]


# ------------------------------------------------------------ the tables ---


@dataclass(frozen=True)
class Difference:
    """A known difference: when it applies, what it exempts, where it is written.

    ``applies(case)`` reads the drawn configuration ``case.cfg`` (a dict) and,
    for differences that only the fit reveals, the two sides' records
    (``case.bp``, ``case.mlp``: one ``Step`` per call).
    ``exempts`` names observables of ``OBSERVABLES``; ``doc`` is the README
    row (the first cell of the "Differences from MLPClassifier" table) or, for
    pending ones, the issue item.
    """

    name: str
    applies: Callable
    exempts: tuple
    doc: str
    from_step: int = 0  # exempt from this call on (0: every call)


def _params(case):
    return case.cfg["params"]


def _is_classifier(case):
    return case.cfg["estimator"] == "classifier"


def _stochastic(case):
    return _params(case)["solver"] != "lbfgs"


def _weighted(case):
    return case.cfg["weights"] != "none"


def _skbp_raised(case, pattern):
    return any(
        s.error is not None and re.search(pattern, s.error_message) for s in case.bp
    )


def _skbp_warned(case, pattern):
    return any(re.search(pattern, msg) for s in case.bp for _, msg in s.warnings)


def _several_batches(case):
    """Whether some epoch of a stochastic fit has two batches or more."""
    return _stochastic(case) and any(
        n > _batch_size(case, n) for n in _train_sizes(case)
    )


def _batch_size(case, n_samples):
    batch_size = _params(case)["batch_size"]
    return min(200 if batch_size == "auto" else batch_size, n_samples)


def _train_sizes(case):
    """Rows each call trains on (after the early-stopping hold-out, if any)."""
    sizes = [len(rows) for rows in call_rows(case.cfg)]
    if _params(case)["early_stopping"] and case.cfg["mode"] != "partial":
        fraction = _params(case)["validation_fraction"]
        sizes = [n - int(np.ceil(fraction * n)) for n in sizes]
    return sizes


def _loss_steers(case):
    """Whether the training loss's value can change a stochastic fit's path.

    It does through the ``tol`` rule (a fit on either side that the rule
    stopped, or a call that raised) and the adaptive rate; early stopping
    watches the validation score instead.
    """
    if not _stochastic(case) or _params(case)["early_stopping"]:
        return False
    if (
        _params(case)["solver"] == "sgd"
        and _params(case)["learning_rate"] == "adaptive"
    ):
        return True
    if case.cfg["mode"] == "partial":
        return False
    return any(
        s.error is not None or ("ConvergenceWarning", MAX_ITER) not in s.warnings
        for s in (*case.bp, *case.mlp)
    )


def _mlp_loss_overflowed_first(case):
    """Whether the first epoch whose losses differ has a non-finite MLP loss."""
    tol = tolerance(case.cfg)
    for bp, mlp in zip(case.bp, case.mlp, strict=False):
        if bp.error or mlp.error or not _stochastic(case):
            return False
        curves = zip(bp.values["loss_curve_"], mlp.values["loss_curve_"], strict=False)
        for a, b in curves:
            if not abs(a - b) <= tol * max(1.0, abs(b)):
                return np.isfinite(a) and not np.isfinite(b)
    return False


def _multi_output_squared_error(case):
    return case.cfg["kind"] == "regression" and case.cfg["n_outputs"] > 1


def _clipping_explains(case):
    """Whether MLP's clipped log-loss is all that sets it apart from skbp.

    MLP clips probabilities at the dtype's eps before the log, so on
    saturated outputs its per-sample loss is capped (36.04 in float64) and
    lower than the exact loss skbp computes from the logits; SGD and Adam
    stop on that loss, and L-BFGS's line search follows it. The entry applies
    when MLP with the exact loss (``_ExactLogLoss``) lands elsewhere than MLP
    and skbp agrees with it, but for what the other applicable entries cover.
    """
    if not _is_classifier(case):
        return False
    exact = case.mlp_exact()
    if not differences(Case(case.cfg, exact, case.mlp)):
        return False  # the clipping changed nothing here
    against_exact = Case(case.cfg, case.bp, exact)
    _, uncovered = explain(
        against_exact, differences(against_exact), skip=_clipping_explains
    )
    return not uncovered


def _log_proba_differs_only_where_rounded_away(case):
    """Whether ``predict_log_proba`` differs only where a probability rounds away.

    MLP's ``log(predict_proba)`` is ``-inf`` where its probability rounds to 0
    (exactly 0 where it rounds to 1, and inexact where it is subnormal),
    skbp's where its own does; otherwise skbp's, from the logits, is finite
    and exact.
    """
    tol = tolerance(case.cfg)
    for a, b in zip(case.bp, case.mlp, strict=False):
        la, lb = a.values.get("predict_log_proba"), b.values.get("predict_log_proba")
        if not isinstance(la, np.ndarray) or not isinstance(lb, np.ndarray):
            continue
        if la.shape != lb.shape:
            return False
        # Where MLP's probability is 0, 1 or subnormal, its log lost digits.
        tiny = np.finfo(case.cfg["dtype"]).tiny
        rounded = (
            (b.values["predict_proba"] < tiny)
            | ~np.isfinite(lb)
            | (lb == 0)
            | ~np.isfinite(la)
            | (la == 0)
        )
        # Where MLP computes a probability as 1 - p (the negative class of a
        # binary problem), rounding p costs log(1 - p) about eps / (1 - p).
        eps = np.finfo(case.cfg["dtype"]).eps
        cancelled = 4 * eps / np.maximum(b.values["predict_proba"], tiny)
        agree = np.abs(la - lb) <= tol * np.maximum(1.0, np.abs(lb)) + cancelled
        if not np.all(agree | rounded):
            return False
    return True


DOCUMENTED = (
    Difference(
        "predict_log_proba from the logits",
        _log_proba_differs_only_where_rounded_away,
        ("predict_log_proba",),
        "`predict_log_proba`",
    ),
    Difference(
        "log-loss from the logits on saturated outputs",
        _clipping_explains,
        TRAJECTORY,
        "log-loss on saturated outputs",
    ),
    Difference(
        "single-class y",
        lambda c: _skbp_raised(c, r"y contains only one class"),
        ("exception",) + TRAJECTORY,
        "`y` with a single class",
    ),
    Difference(
        "sample_weight leaving one class with positive weight",
        lambda c: _skbp_raised(c, r"Only one class has samples of positive weight"),
        ("exception",) + TRAJECTORY,
        "`y` with a single class",
    ),
    Difference(
        "divergence raises at once",
        lambda c: (
            _skbp_raised(c, r"Training diverged")
            or any("non-finite parameter weights" in s.error_message for s in c.mlp)
        ),
        ("exception",) + TRAJECTORY,
        "training that diverges",
    ),
    Difference(
        "unstratifiable early-stopping split warns, then splits plainly",
        lambda c: _skbp_warned(c, r"cannot be stratified"),
        ("exception",) + TRAJECTORY,
        "early-stopping split that cannot be stratified",
    ),
    Difference(
        "a fit that learned nothing warns",
        lambda c: _skbp_warned(c, r"learned nothing|predicts? (a single|one) class"),
        ("warnings",),
        "a fit that learned nothing",
    ),
    Difference(
        "warm-started early stopping starts its own stopping state",
        lambda c: (
            c.cfg["mode"] == "warm" and _stochastic(c) and _params(c)["early_stopping"]
        ),
        TRAJECTORY,
        "warm-started early stopping",
        from_step=1,
    ),
    Difference(
        "L-BFGS loss_curve_",
        lambda c: not _stochastic(c),
        ("loss_curve_",),
        '`solver="lbfgs"` history',
    ),
    Difference(
        "L-BFGS t_ counts samples seen; no best_loss_/validation_scores_ in MLP",
        lambda c: not _stochastic(c),
        ("t_", "best_loss_", "validation_scores_", "best_validation_score_"),
        '`solver="lbfgs"` `t_`, `best_loss_`, validation scores',
    ),
    Difference(
        "epoch loss with sample_weight and several batches",
        lambda c: _weighted(c) and _several_batches(c),
        LOSS_VALUES,
        "epoch loss with `sample_weight` and several batches",
    ),
    Difference(
        "epoch loss with sample_weight and several batches: where it steers",
        lambda c: _weighted(c) and _several_batches(c) and _loss_steers(c),
        TRAJECTORY,
        "epoch loss with `sample_weight` and several batches",
    ),
    Difference(
        "multiclass early-stopping split is stratified",
        lambda c: (
            c.cfg["kind"] == "multiclass"
            and _params(c)["early_stopping"]
            and _stochastic(c)
            and c.cfg["mode"] != "partial"
        ),
        TRAJECTORY,
        "multiclass early-stopping split",
    ),
    Difference(
        "an all-zero-weight mini-batch is skipped",
        lambda c: (
            c.cfg["weights"] == "zeros"
            and any(s.error == "ZeroDivisionError" for s in c.mlp)
        ),
        ("exception",) + TRAJECTORY,
        "a mini-batch whose sample weights are all zero",
    ),
    Difference(
        "float32 with L-BFGS stays float32",
        lambda c: not _stochastic(c) and c.cfg["dtype"] == "float32",
        # float32 arithmetic (MLP's iterates are float64): another path.
        ("dtype",) + TRAJECTORY,
        'float32 input with `solver="lbfgs"`',
    ),
    Difference(
        "L-BFGS with several squared-error outputs",
        lambda c: not _stochastic(c) and _multi_output_squared_error(c),
        # skbp's line search pairs the summed loss with its gradient; MLP's
        # pairs the loss averaged over outputs with the summed gradient.
        TRAJECTORY,
        "L-BFGS with several squared-error outputs",
    ),
    Difference(
        "Poisson loss from the raw output",
        lambda c: c.cfg["kind"] == "poisson" and _mlp_loss_overflowed_first(c),
        LOSS_VALUES,
        "Poisson loss where `exp(z)` under- or overflows",
    ),
    Difference(
        "Poisson loss from the raw output: where it steers",
        lambda c: (
            c.cfg["kind"] == "poisson"
            and _mlp_loss_overflowed_first(c)
            and _loss_steers(c)
        ),
        TRAJECTORY,
        "Poisson loss where `exp(z)` under- or overflows",
    ),
    Difference(
        "MLPRegressor.partial_fit for L-BFGS",
        lambda c: (
            not _is_classifier(c) and not _stochastic(c) and c.cfg["mode"] == "partial"
        ),
        ("exception",) + TRAJECTORY,
        '`partial_fit` with `solver="lbfgs"`',
    ),
)


def _ill_conditioned(case):
    """Whether MLP itself lands elsewhere with a few ulps of rounding noise.

    Then rounding decides the fit (a line search or a stopping rule on a
    knife edge, or steps so large that rounding grows without bound), and
    skbp, whose arithmetic rounds differently, cannot be expected to follow
    MLP's path either.
    """
    return any(name in PATH for _, name in _noise_differences(case))


def _noise_moves_the_same_values(case):
    """Whether MLP under rounding noise moves every value skbp moves, as far.

    The path is MLP's (weights within tolerance) but values that magnify it
    (probabilities of large logits, losses) are beyond tolerance: they are
    sensitive for MLP under rounding noise too, at the same calls.
    """
    moved = {(i, name) for i, name in differences(case) if name in ROUNDING_SENSITIVE}
    noisy = Case(case.cfg, case.mlp_noisy(), case.mlp)
    return moved <= differences(noisy, scale=NOISE_SCALE)


# A value skbp moves beyond tolerance is rounding-sensitive where MLP under
# rounding noise moves it beyond NOISE_SCALE x tolerance: the noise is a few
# ulps, and skbp's arithmetic (another order of operations) can round further.
NOISE_SCALE = 0.01


def _noise_differences(case):
    """Where MLP under rounding noise differs from MLP (computed once)."""
    if case._noise_found is None:
        case._noise_found = differences(Case(case.cfg, case.mlp_noisy(), case.mlp))
    return case._noise_found


# Observables whose difference means another path, and values that magnify
# small differences of the weights.
PATH = ("exception", "coefs", "n_iter_", "predict")
ROUNDING_SENSITIVE = (
    "predict_proba",
    "predict_log_proba",
    "loss_",
    "loss_curve_",
    "best_loss_",
    "validation_scores_",
    "best_validation_score_",
)


# Not a difference of behaviour: where scikit-learn does not reproduce itself
# under rounding noise, agreement within TOLERANCES is not due.
ROUNDING = (
    Difference(
        "rounding decides the fit",
        _ill_conditioned,
        ("exception",) + TRAJECTORY,
        "TOLERANCES (the README's 'same weights' sentence)",
    ),
    Difference(
        "rounding moves values that magnify it",
        _noise_moves_the_same_values,
        ROUNDING_SENSITIVE,
        "TOLERANCES (the README's 'same weights' sentence)",
    ),
)

PENDING = (
    Difference(
        "UNDOCUMENTED: float32 Adam where the loss explodes past 1e15",
        # Not yet narrowed down: the loss curves agree, the weights do not;
        # likely the squared gradients of Adam's second moment overflowing
        # float32 (|g| > 1.8e19), which the two libraries handle differently.
        lambda c: (
            _params(c)["solver"] == "adam"
            and c.cfg["dtype"] == "float32"
            and any(
                isinstance(s.values.get("loss_curve_"), list)
                and max(s.values["loss_curve_"], default=0) > 1e15
                for s in (*c.bp, *c.mlp)
            )
        ),
        TRAJECTORY,
        "found by this suite",
    ),
)

# ------------------------------------------------------------ the drawing ---

CLASSIFIER_KINDS = ("binary", "multiclass", "multilabel")
REGRESSOR_KINDS = ("regression", "poisson")


@st.composite
def configurations(draw, estimator):
    """A JSON-able configuration: estimator, data, parameters, calls."""
    kinds = CLASSIFIER_KINDS if estimator == "classifier" else REGRESSOR_KINDS
    kind = draw(st.sampled_from(kinds))
    n_outputs = {
        "binary": 1,
        "multiclass": draw(st.integers(3, 4)),
        "multilabel": draw(st.integers(2, 3)),
        "regression": draw(st.integers(1, 3)),
        "poisson": 1,
    }[kind]
    solver = draw(st.sampled_from(("sgd", "adam", "lbfgs")))
    mode = draw(st.sampled_from(("fit", "warm", "partial")))
    early_stopping = draw(st.booleans())
    params = dict(
        hidden_layer_sizes=tuple(
            draw(st.lists(st.integers(1, 5), min_size=1, max_size=2))
        ),
        activation=draw(st.sampled_from(("identity", "logistic", "tanh", "relu"))),
        solver=solver,
        alpha=draw(st.sampled_from((0.0, 1e-4)) | st.floats(0, 10)),
        batch_size=draw(st.just("auto") | st.integers(1, 100)),
        learning_rate=draw(st.sampled_from(("constant", "invscaling", "adaptive"))),
        learning_rate_init=draw(
            st.sampled_from((1e-3, 1e-2, 0.1)) | st.floats(1e-4, 1.0)
        ),
        power_t=draw(st.floats(0, 1)),
        momentum=draw(st.sampled_from((0.0, 0.9)) | st.floats(0, 1)),
        nesterovs_momentum=draw(st.booleans()),
        beta_1=draw(st.sampled_from((0.9,)) | st.floats(0, 0.99)),
        beta_2=draw(st.sampled_from((0.999,)) | st.floats(0, 0.9999)),
        epsilon=draw(st.sampled_from((1e-8, 1e-6, 1e-3))),
        tol=draw(st.sampled_from((0.0, 1e-4, 1e-2, 1.0, 10.0))),
        n_iter_no_change=draw(st.integers(1, 10)),
        max_iter=draw(st.integers(1, 30)),
        shuffle=draw(st.booleans()),
        early_stopping=early_stopping,
        validation_fraction=draw(st.sampled_from((0.1, 0.2)) | st.floats(0.05, 0.5)),
        random_state=draw(st.integers(0, 2**16)),
    )
    return dict(
        estimator=estimator,
        kind=kind,
        n_outputs=n_outputs,
        n_samples=draw(st.integers(20, 80)),
        n_features=draw(st.integers(2, 6)),
        dtype=draw(st.sampled_from(("float64", "float32"))),
        sparse=draw(st.booleans()),
        weights=draw(st.sampled_from(("none", "positive", "zeros"))),
        data_seed=draw(st.integers(0, 2**16)),
        mode=mode,
        n_calls={"fit": 1, "warm": 2, "partial": draw(st.integers(1, 5))}[mode],
        chunks=mode == "partial" and draw(st.booleans()),
        params=params,
    )


def make_data(cfg):
    """``(X, y, sample_weight)`` of the configuration, from its ``data_seed``."""
    rng = np.random.RandomState(cfg["data_seed"])
    n, f, k = cfg["n_samples"], cfg["n_features"], cfg["n_outputs"]
    X = rng.standard_normal((n, f))
    z = X @ rng.standard_normal((f, max(k, 2))) + 0.5 * rng.standard_normal(
        (n, max(k, 2))
    )
    kind = cfg["kind"]
    if kind == "binary":
        y = (z[:, 0] > 0).astype(int)
    elif kind == "multiclass":
        y = z[:, :k].argmax(axis=1)
    elif kind == "multilabel":
        y = (z[:, :k] > 0).astype(int)
    elif kind == "regression":
        y = z[:, :k] if k > 1 else z[:, 0]
    else:  # poisson
        y = rng.poisson(np.exp(0.5 * z[:, 0])).astype(float)
    X = X.astype(cfg["dtype"])
    if cfg["sparse"]:
        X[np.abs(X) < 0.5] = 0
        X = sp.csr_matrix(X)
    sw = None
    if cfg["weights"] != "none":
        sw = rng.uniform(0.2, 3.0, n)
        if cfg["weights"] == "zeros":
            sw[rng.rand(n) < 0.3] = 0.0
    return X, y, sw


def call_rows(cfg):
    """The rows each call trains on."""
    n = cfg["n_samples"]
    if cfg["chunks"]:
        return np.array_split(np.arange(n), cfg["n_calls"])
    return [np.arange(n)] * cfg["n_calls"]


# skbp's parameters that MLP lacks, at the values that make skbp's model
# MLP's: the comparison with MLP holds them there. ``dropout`` above 0 is
# drawn where skbp is compared with itself (``test_dropout_*`` below).
SKBP_ONLY = {
    "gradient": "backprop",
    "weight_init_std": None,
    "dropout": 0.0,
    "numerical_step": 1e-4,
    "scoring": None,
    "class_weight": None,
    "quantile": 0.5,
}


def skbp_params(cfg):
    """Every parameter of the configuration's skbp estimator (but ``verbose``)."""
    bp = BPClassifier if cfg["estimator"] == "classifier" else BPRegressor
    params = dict(cfg["params"], warm_start=cfg["mode"] == "warm")
    if cfg["estimator"] == "regressor":
        params["loss"] = "poisson" if cfg["kind"] == "poisson" else "squared_error"
    own = {k: v for k, v in SKBP_ONLY.items() if k in bp().get_params()}
    return {**own, "dropout": cfg.get("dropout", 0.0), **params}


def make_estimators(cfg):
    """``(skbp, mlp)`` configured alike."""
    params = skbp_params(cfg)
    mlp = MLPClassifier if cfg["estimator"] == "classifier" else MLPRegressor
    mlp_params = {k: v for k, v in params.items() if k not in SKBP_ONLY}
    bp = BPClassifier if cfg["estimator"] == "classifier" else BPRegressor
    return bp(**params), mlp(**mlp_params)


# ------------------------------------------------------------ the running ---


@dataclass
class Step:
    """What one call (``fit`` or ``partial_fit``) showed."""

    error: str = None
    error_message: str = ""
    warnings: list = field(default_factory=list)
    values: dict = field(default_factory=dict)


@dataclass
class Case:
    """A configuration and what each side showed, one ``Step`` per call."""

    cfg: dict
    bp: list
    mlp: list
    _noisy: list = None
    _exact: list = None
    _noise_found: set = None

    def mlp_noisy(self):
        """MLP's steps with rounding noise in its arithmetic (computed once)."""
        if self._noisy is None:
            self._noisy = run(
                _variant(make_estimators(self.cfg)[1], _RoundingNoise), self.cfg
            )
        return self._noisy

    def mlp_exact(self):
        """MLP's steps with the log-loss computed exactly (once, when asked)."""
        if self._exact is None:
            self._exact = run(
                _variant(make_estimators(self.cfg)[1], _ExactLogLoss), self.cfg
            )
        return self._exact


def _variant(mlp, mixin):
    """``mlp``'s configuration in a subclass of its class with ``mixin`` first."""
    cls = type(mlp)
    return type(cls.__name__, (mixin, cls), {})(**mlp.get_params())


class _ExactLogLoss:
    """An MLPClassifier whose reported loss is the log-loss from the logits.

    Its gradients are MLP's own (they do not depend on the clipping); only
    the loss MLP computes from clipped probabilities is replaced by the exact
    one, as skbp computes it.
    """

    def _backprop(
        self, X, y, sample_weight, activations, deltas, coef_grads, intercept_grads
    ):
        loss, coef_grads, intercept_grads = super()._backprop(
            X, y, sample_weight, activations, deltas, coef_grads, intercept_grads
        )
        from scipy.special import logsumexp
        from sklearn.neural_network._base import LOSS_FUNCTIONS

        name = "binary_log_loss" if self.out_activation_ == "logistic" else "log_loss"
        clipped = LOSS_FUNCTIONS[name](y, activations[-1], sample_weight)
        z = activations[-2] @ self.coefs_[-1] + self.intercepts_[-1]
        if self.out_activation_ == "logistic":
            per_sample = (np.logaddexp(0, z) - y * z).sum(axis=1)
        else:
            per_sample = logsumexp(z, axis=1) - (y * z).sum(axis=1)
        exact = np.average(per_sample, weights=sample_weight)
        return loss - clipped + exact, coef_grads, intercept_grads


class _RoundingNoise:
    """An MLP whose parameters, loss and gradients are off by a few ulps.

    Before each loss-and-gradient evaluation the parameters, and after it the
    loss and gradients, are multiplied by ``1 + u * eps`` with ``u`` uniform
    in [-2, 2]: the size of the rounding differences between two correct
    implementations (another summation order, ``(a @ b) / s`` for
    ``a @ (b / s)``, an update computed in another order).
    """

    def _backprop(self, *args):
        rng = self.__dict__.setdefault("_noise", np.random.RandomState(0))
        for a in (*self.coefs_, *self.intercepts_):
            a *= 1 + rng.uniform(-2, 2, a.shape) * np.finfo(a.dtype).eps
        loss, coef_grads, intercept_grads = super()._backprop(*args)
        for g in (*coef_grads, *intercept_grads):
            g *= 1 + rng.uniform(-2, 2, g.shape) * np.finfo(g.dtype).eps
        loss *= 1 + rng.uniform(-2, 2) * np.finfo(np.float64).eps
        return loss, coef_grads, intercept_grads


def _normalise_warning(w):
    category = w.category.__name__
    message = str(w.message)
    if category == "ConvergenceWarning":
        # The same event, each library in its words: compare the event only.
        if "lbfgs" in message.lower() or "l-bfgs" in message.lower():
            message = "L-BFGS did not converge"
        elif "Maximum iterations" in message:
            message = MAX_ITER
    return category, message


def run(est, cfg):
    """Fit ``est`` as the configuration says; one ``Step`` per call, up to an error."""
    X, y, sw = make_data(cfg)
    steps = []
    for i, rows in enumerate(call_rows(cfg)):
        step = Step()
        kwargs = {} if sw is None else {"sample_weight": sw[rows]}
        if cfg["mode"] == "partial" and i == 0 and cfg["estimator"] == "classifier":
            kwargs["classes"] = np.arange(y.shape[1]) if y.ndim == 2 else np.unique(y)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                with np.errstate(all="ignore"):
                    if cfg["mode"] == "partial":
                        est.partial_fit(X[rows], y[rows], **kwargs)
                    else:
                        est.fit(X[rows], y[rows], **kwargs)
            except Exception as exc:  # noqa: BLE001 - compared, not hidden
                step.error, step.error_message = type(exc).__name__, str(exc)
        step.warnings = sorted(
            _normalise_warning(w)
            for w in caught
            if not issubclass(w.category, (DeprecationWarning, RuntimeWarning))
        )
        if step.error is None:
            step.values = observe(est, X)
        steps.append(step)
        if step.error is not None:
            break
    return steps


def observe(est, X):
    """Every fitted observable of ``est``, with ``MISSING`` for an absent attribute."""
    values = {
        "shape": [c.shape for c in est.coefs_],
        "dtype": str(est.coefs_[0].dtype),
        # Copies: MLP updates its arrays in place in later calls.
        "coefs": [np.array(a, dtype=float) for a in (*est.coefs_, *est.intercepts_)],
    }
    for name in HISTORY:
        value = getattr(est, name, MISSING)
        if isinstance(value, list):
            value = list(value)
        values[name] = value
    values["predict"] = _prediction(est.predict, X)
    if hasattr(est, "predict_proba"):
        values["predict_proba"] = _prediction(est.predict_proba, X)
        values["predict_log_proba"] = _prediction(est.predict_log_proba, X)
    return values


def _prediction(method, X):
    """``method(X)`` as an array, or the name of the exception it raised."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            return np.array(method(X))
        except Exception as exc:  # noqa: BLE001 - compared, not hidden
            return f"raises {type(exc).__name__}"


# ---------------------------------------------------------- the comparing ---


def _close(a, b, tol):
    """Whether two observables agree: floats within ``tol``, the rest exactly."""
    if isinstance(a, str) or isinstance(b, str) or a is None or b is None:
        return type(a) is type(b) and a == b
    if (
        isinstance(a, list)
        and isinstance(b, list)
        and a
        and not isinstance(a[0], float | int | np.number)
    ):
        return len(a) == len(b) and all(
            _close(x, y, tol) for x, y in zip(a, b, strict=True)
        )
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        return False
    same = (np.abs(a - b) <= tol * np.maximum(1.0, np.abs(b))) | (a == b)
    return bool(np.all(same | (np.isnan(a) & np.isnan(b))))


def _predictions_agree(bp, mlp, tol):
    """``predict`` equal, except on rows whose probabilities tie within ``tol``."""
    a, b = bp["predict"], mlp["predict"]
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    if a.shape != b.shape:
        return False
    if a.dtype.kind == "f":
        return _close(a, b, tol)
    differ = (a != b).reshape(len(a), -1).any(axis=1)
    if not differ.any():
        return True
    proba = mlp.get("predict_proba")
    if not isinstance(proba, np.ndarray) or not _close(
        proba, bp["predict_proba"], np.inf
    ):
        return False
    if proba.ndim == 2 and proba.shape[1] > 1 and a.ndim == 1:
        top2 = np.sort(proba, axis=1)[:, -2:]
        ties = top2[:, 1] - top2[:, 0] <= 10 * tol
    else:
        ties = (np.abs(proba - 0.5) <= 10 * tol).reshape(len(a), -1).any(axis=1)
    return bool(np.all(ties[differ]))


def relative_weight_difference(bp, mlp):
    """max |skbp - mlp| / max |mlp| over all weights and biases."""
    a = np.concatenate([c.ravel() for c in bp["coefs"]])
    b = np.concatenate([c.ravel() for c in mlp["coefs"]])
    if a.shape != b.shape:
        return np.inf
    with np.errstate(all="ignore"):
        return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def differences(case, scale=1.0):
    """``{(call, observable)}`` where skbp and MLP differ beyond ``scale`` x tol."""
    tol = scale * tolerance(case.cfg)
    found = set()
    for i, (bp, mlp) in enumerate(zip(case.bp, case.mlp, strict=False)):
        if bp.error != mlp.error:
            found.add((i, "exception"))
        if bp.warnings != mlp.warnings:
            found.add((i, "warnings"))
        if bp.error or mlp.error:
            continue
        a, b = bp.values, mlp.values
        for name in OBSERVABLES[2:]:
            if name == "predict":
                same = _predictions_agree(a, b, tol)
            elif name in ("shape", "dtype"):
                same = a[name] == b[name]
            else:
                same = _close(a.get(name), b.get(name), tol)
            if not same:
                found.add((i, name))
    if len(case.bp) != len(case.mlp):
        found.add((min(len(case.bp), len(case.mlp)) - 1, "exception"))
    return found


def explain(case, found, skip=None):
    """The entries that cover ``found``, and what no entry covers.

    ``skip`` leaves out the entry with that predicate.
    """
    used, uncovered = [], set(found)
    tables = (("documented", DOCUMENTED), ("pending", PENDING), ("rounding", ROUNDING))
    for table, entries in tables:
        for entry in entries:
            covered = {
                (i, name)
                for i, name in uncovered
                if name in entry.exempts and i >= entry.from_step
            }
            if covered and entry.applies is not skip and entry.applies(case):
                used.append((table, entry))
                uncovered -= covered
    return used, uncovered


def repro(cfg):
    return f"python tests/test_differential.py '{json.dumps(cfg)}'"


def describe(case, found):
    """A short account of each difference, for the failure message."""
    lines = []
    for i, name in sorted(found):
        bp = case.bp[i] if i < len(case.bp) else Step()
        mlp = case.mlp[i] if i < len(case.mlp) else Step()
        if name == "exception":
            lines.append(
                f"call {i}: exception skbp {bp.error} ({bp.error_message[:120]!r}) "
                f"vs MLP {mlp.error} ({mlp.error_message[:120]!r})"
            )
        elif name == "warnings":
            lines.append(f"call {i}: warnings skbp {bp.warnings} vs MLP {mlp.warnings}")
        elif name == "coefs":
            rel = relative_weight_difference(bp.values, mlp.values)
            lines.append(f"call {i}: coefs relative difference {rel:.3g}")
        else:
            a, b = bp.values.get(name), mlp.values.get(name)
            lines.append(f"call {i}: {name} skbp {_short(a)} vs MLP {_short(b)}")
    return "\n".join(lines)


def _short(value):
    text = (
        np.array2string(value, threshold=6, precision=6)
        if isinstance(value, np.ndarray)
        else repr(value)
    )
    return text if len(text) < 200 else text[:200] + "..."


def compare(cfg):
    """Run both sides; return the case, its differences, entries used, uncovered."""
    bp, mlp = make_estimators(cfg)
    case = Case(cfg, run(bp, cfg), run(mlp, cfg))
    with np.errstate(all="ignore"):  # comparing infinities and NaNs
        found = differences(case)
        used, uncovered = explain(case, found)
    return case, found, used, uncovered


# ------------------------------------------------------------ the report ---

REPORT = {"counts": Counter(), "weights": defaultdict(float), "entries": Counter()}


def record(case, found, used, uncovered):
    """Count the case by estimator/solver/mode and outcome; keep weight differences."""
    cfg = case.cfg
    if uncovered:
        outcome = "failing"
    elif not found:
        outcome = "agree"
    elif any(e.name.startswith("UNDOCUMENTED") for _, e in used):
        outcome = "undocumented"
    elif any(table == "pending" for table, _ in used):
        outcome = "pending"
    elif any(table == "rounding" for table, _ in used):
        outcome = "rounding"
    else:
        outcome = "documented"
    key = (cfg["estimator"], cfg["params"]["solver"], cfg["mode"], outcome)
    REPORT["counts"][key] += 1
    for table, entry in used:
        REPORT["entries"][f"{table}: {entry.name}"] += 1
    if not any(name == "coefs" for _, name in found):
        for bp, mlp in zip(case.bp, case.mlp, strict=False):
            if bp.values and mlp.values:
                rel = relative_weight_difference(bp.values, mlp.values)
                slot = (cfg["params"]["solver"], cfg["dtype"])
                REPORT["weights"][slot] = max(REPORT["weights"][slot], rel)
    return outcome


@pytest.fixture(scope="module", autouse=True)
def _write_report():
    yield
    path = os.environ.get("SKBP_DIFFERENTIAL_REPORT")
    if path:
        with open(path, "w") as f:
            json.dump(
                {
                    "counts": [[*k, v] for k, v in sorted(REPORT["counts"].items())],
                    "largest_relative_weight_difference": [
                        [*k, v] for k, v in sorted(REPORT["weights"].items())
                    ],
                    "entries": dict(REPORT["entries"].most_common()),
                },
                f,
                indent=1,
            )


# ------------------------------------------------------------- the tests ---

# DOCUMENTED rows issue 17 asks for that README.md does not have yet: remove
# a name here when its row is added (the strict xfail then says so).
_README_ROWS_TO_ADD = set()  # all of issue 17's rows are in README.md


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(
            row,
            marks=[pytest.mark.xfail(strict=True, reason="README row to add")]
            if row in _README_ROWS_TO_ADD
            else [],
        )
        for row in dict.fromkeys(e.doc for e in DOCUMENTED)
    ],
)
def test_documented_difference_has_its_readme_row(row):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert f"| {row} |" in readme


def check(cfg):
    """Compare one configuration; fail with its replay command if unexplained."""
    note(f"configuration: {json.dumps(cfg)}")
    case, found, used, uncovered = compare(cfg)
    record(case, found, used, uncovered)
    assert not uncovered, (
        "skbp and scikit-learn differ where no DOCUMENTED or PENDING entry says so:\n"
        + describe(case, uncovered)
        + f"\nreplay: {repro(cfg)}"
    )


def run_examples(request, estimator):
    """Check ``DIFFERENTIAL_EXAMPLES[profile]`` configurations, derandomized."""
    profile = request.config.getoption("--hypothesis-profile") or "default"
    test = settings(
        max_examples=DIFFERENTIAL_EXAMPLES.get(
            profile, DIFFERENTIAL_EXAMPLES["default"]
        ),
        deadline=None,
        derandomize=True,  # the same examples on every run: CI is reproducible
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )(given(configurations(estimator))(check))
    test()


def test_classifier_matches_mlpclassifier(request):
    run_examples(request, "classifier")


def test_regressor_matches_mlpregressor(request):
    run_examples(request, "regressor")


@pytest.mark.parametrize("estimator", ["classifier", "regressor"])
def test_every_skbp_parameter_is_drawn_or_held(estimator):
    """The space knows every parameter: each is drawn, or held by ``SKBP_ONLY``."""
    drawn = set()
    settings(max_examples=1, database=None, derandomize=True)(
        given(configurations(estimator))(lambda cfg: drawn.update(cfg["params"]))
    )()
    cfg = {"estimator": estimator, "kind": "regression", "mode": "fit", "params": {}}
    bp, mlp = make_estimators(cfg)
    # warm_start and loss follow from the mode and data; verbose and max_fun
    # (MLP's too) are left at their defaults on both sides.
    held = {*SKBP_ONLY, "warm_start", "loss", "verbose", "max_fun"}
    assert set(bp.get_params()) - drawn <= held
    assert bp.dropout == 0.0 and "dropout" not in mlp.get_params()


@st.composite
def dropout_configurations(draw, estimator):
    """A configuration with dropout: float64, smooth, no stopping rule to steer.

    skbp's backprop fit is compared with its numerical fit: the masks are the
    same, so the two agree as they do without dropout.
    """
    cfg = draw(configurations(estimator))
    n_hidden = len(cfg["params"]["hidden_layer_sizes"])
    rate = st.floats(0.05, 0.8)
    rates = st.lists(st.just(0.0) | rate, min_size=n_hidden, max_size=n_hidden)
    if cfg["params"]["solver"] == "lbfgs":  # refused: the error is compared
        rates = rate
    cfg["dropout"] = draw(rate | rates)
    cfg["dtype"] = "float64"
    cfg["params"].update(
        tol=0.0,
        learning_rate_init=min(cfg["params"]["learning_rate_init"], 0.1),
        alpha=min(cfg["params"]["alpha"], 1.0),
    )
    if cfg["params"]["learning_rate"] == "adaptive":
        cfg["params"]["learning_rate"] = "constant"
    if cfg["params"]["activation"] == "relu":  # a central difference across its
        cfg["params"]["activation"] = "tanh"  # kink is not its derivative
    return cfg


def check_dropout(cfg):
    """skbp backprop vs skbp numerical with dropout: the same fit, within tolerance."""
    note(f"configuration: {json.dumps(cfg)}")
    params = skbp_params(cfg)
    Estimator = BPClassifier if cfg["estimator"] == "classifier" else BPRegressor
    backprop = run(Estimator(**params), cfg)
    numerical = run(Estimator(**{**params, "gradient": "numerical"}), cfg)
    case = Case(cfg, backprop, numerical)
    with np.errstate(all="ignore"):
        found = differences(case, scale=DROPOUT_TOLERANCE_SCALE)
    assert not found, describe(case, found)
    if cfg["params"]["solver"] == "lbfgs" and cfg["mode"] != "partial":
        assert backprop[0].error == "ValueError"
        assert "needs a stochastic solver" in backprop[0].error_message


# Backprop and the central difference differ by ~1e-10 per gradient; over a
# fit that can move the weights apart by more than TOLERANCES' float64 ones.
DROPOUT_TOLERANCE_SCALE = 100.0


@pytest.mark.parametrize("estimator", ["classifier", "regressor"])
def test_dropout_backprop_matches_numerical(estimator):
    settings(
        max_examples=30,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )(given(dropout_configurations(estimator))(check_dropout))()


if __name__ == "__main__":
    cfg = json.loads(sys.argv[1])
    case, found, used, uncovered = compare(cfg)
    print("differences:", sorted(found))
    print("explained by:", [f"{t}: {e.name}" for t, e in used])
    print(describe(case, found))
    sys.exit(1 if uncovered else 0)
