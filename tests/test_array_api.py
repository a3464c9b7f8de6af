"""Array API support: skbp on array_api_strict and PyTorch arrays (issue 21).

With ``sklearn.set_config(array_api_dispatch=True)`` BPClassifier and
BPRegressor train on the input's namespace and device. The oracles:

- scikit-learn's own array-API estimator checks, on every namespace, device
  and dtype scikit-learn lists (those without the library or the device here
  skip, saying which);
- the numpy fit itself: with the same ``random_state`` a float64 fit on
  array_api_strict or torch-CPU sees the same initial weights and batches, so
  it ends at the numpy fit's weights up to rounding, with the same history;
- with dispatch off, or with numpy input, nothing changes (bit for bit).

array_api_strict (the ``test`` extra) always runs; torch tests skip when
torch is not installed. All of it needs ``SCIPY_ARRAY_API=1`` before scipy is
imported, which ``tests/conftest.py`` sets.
"""

import copy
import importlib.util
import os
import pickle
import subprocess
import sys
import warnings
from functools import partial

import numpy as np
import pytest

pytest.importorskip(
    "sklearn",
    minversion="1.9",
    reason="the array-API estimator checks and move_estimator_to need "
    "scikit-learn >= 1.9",
)

from _helpers import ROOT, flat_params, host, registered_solvers  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from numpy.testing import assert_allclose, assert_array_equal  # noqa: E402
from sklearn import clone, config_context  # noqa: E402
from sklearn.base import is_classifier  # noqa: E402
from sklearn.utils._array_api import (  # noqa: E402
    device,
    get_namespace,
    move_estimator_to,
    yield_mixed_namespace_input_permutations,
    yield_namespace_device_dtype_combinations,
)
from sklearn.utils._testing import _array_api_for_tests  # noqa: E402
from sklearn.utils.estimator_checks import (  # noqa: E402
    check_array_api_input,
    check_array_api_input_and_values,
    check_array_api_mixed_inputs,
    check_array_api_same_namespace,
    estimator_checks_generator,
)

from skbp import BPClassifier, BPRegressor, gradient_check  # noqa: E402
from skbp.gradients import GRADIENTS  # noqa: E402
from skbp.network import OUTPUTS, losses  # noqa: E402
from skbp.optimizers import SOLVERS  # noqa: E402

pytestmark = pytest.mark.skipif(
    os.environ.get("SCIPY_ARRAY_API") != "1",
    reason="SCIPY_ARRAY_API=1 was not set before scipy was imported (tests/"
    "conftest.py sets it unless something imported scipy earlier)",
)

CLASSIFIER_KINDS = ("binary", "multiclass", "multilabel")
KINDS = (*CLASSIFIER_KINDS, *losses("regressor"))

# Namespaces with a CPU device, for the float64 equivalence tests.
CPU_NAMESPACES = [
    pytest.param(("array_api_strict", "CPU_DEVICE"), id="array_api_strict"),
    pytest.param(("torch", "cpu"), id="torch-cpu"),
]

# Those whose library is installed: what the hypothesis test draws from.
INSTALLED_CPU_NAMESPACES = [
    p.values[0] for p in CPU_NAMESPACES if importlib.util.find_spec(p.values[0][0])
]

# How far a float64 fit on another namespace may end from the numpy fit.
# Backprop with sgd/adam: rounding only (matrix products summed in another
# order). Numerical gradients divide that rounding by the step h; L-BFGS's
# line search amplifies it over the iterations. Measured on torch-CPU (the
# fixed cases): backprop within 6e-14 relative, numerical within 2.5e-10
# (sgd, adam) and 1.3e-9 (lbfgs); array_api_strict (numpy underneath) closer.
TOLERANCES = {
    ("backprop", False): dict(rtol=1e-10, atol=1e-12),
    ("numerical", False): dict(rtol=1e-8, atol=1e-10),
    ("backprop", True): dict(rtol=1e-9, atol=1e-11),
    ("numerical", True): dict(rtol=1e-6, atol=1e-8),
}


def tolerance(estimator):
    """``assert_allclose`` tolerances for ``estimator``'s numpy vs xp fits.

    Full-batch fits, and numerical gradients of a loss with kinks (whose
    central differences within a step of a kink have slope ``1 / h``),
    amplify the namespaces' different roundings: the looser tolerances.
    """
    full_batch = SOLVERS[estimator.solver].full_batch
    loss = getattr(estimator, "loss", None)
    kinks = loss in OUTPUTS and OUTPUTS[loss].layer.has_kinks
    return TOLERANCES[estimator.gradient, full_batch or kinks]


# ------------------------------------------------------------- namespaces ---


def skip_unless_available(name, device_name):
    """Skip, saying what is missing, unless ``name`` on ``device_name`` runs here."""
    module = pytest.importorskip(name, reason=f"{name} is not installed")
    if name == "torch":
        available = {
            None: lambda: True,
            "cpu": lambda: True,
            "cuda": module.cuda.is_available,
            "mps": module.backends.mps.is_available,
            "xpu": lambda: hasattr(module, "xpu") and module.xpu.is_available(),
        }[device_name]
        if not available():
            pytest.skip(f"no {device_name} device here for torch {module.__version__}")
    elif name == "cupy":
        try:
            n_devices = module.cuda.runtime.getDeviceCount()
        except module.cuda.runtime.CUDARuntimeError:  # no driver
            n_devices = 0
        if not n_devices:
            pytest.skip("cupy is installed but there is no CUDA device here")


def namespace(name, device_name, dtype_name="float64"):
    """``(xp, device)`` for arrays of ``name`` on ``device_name``; skip if absent."""
    skip_unless_available(name, device_name)
    return _array_api_for_tests(name, device_name, dtype_name)


@pytest.fixture(params=CPU_NAMESPACES)
def xp_device(request):
    """``(xp, device)`` of each CPU namespace in turn."""
    return namespace(*request.param)


def to_xp(xp, device_, *arrays):
    """``arrays`` (None passes through) as arrays of ``xp`` on ``device_``."""
    return [None if a is None else xp.asarray(a, device=device_) for a in arrays]


def namespace_name(array):
    """The (wrapped) namespace ``array`` belongs to, by name."""
    with config_context(array_api_dispatch=True):
        return get_namespace(array)[0].__name__


def assert_on(array, like):
    """``array`` is an array of ``like``'s namespace, on ``like``'s device."""
    assert namespace_name(array) == namespace_name(like)
    with config_context(array_api_dispatch=True):
        assert device(array) == device(like)


# ----------------------------------------------------------------- problems ---


def problem(kind, n_samples=40, n_features=3, seed=0):
    """``X, y`` for ``kind``: a classification target or a regressor's loss.

    Small, so that many fits (numerical ones included) take seconds; the
    targets are positive, which every regression loss accepts.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    noise = 0.5 * rng.standard_normal((n_samples, 2))
    if kind == "binary":
        y = (X[:, 0] + noise[:, 0] > 0).astype(np.int64)
    elif kind == "multiclass":
        y = np.digitize(X[:, 0] + noise[:, 0], [-0.5, 0.5]).astype(np.int64)
    elif kind == "multilabel":
        y = (X[:, :2] + noise > 0).astype(np.int64)
    else:
        y = np.exp(0.5 * X[:, 0] + 0.2 * noise[:, 0])
    return X, y


def make_estimator(kind, solver="sgd", gradient="backprop", **params):
    """A quickly trained estimator for ``kind``: tiny when numerical."""
    config = dict(
        hidden_layer_sizes=(3,) if gradient == "numerical" else (5,),
        solver=solver,
        gradient=gradient,
        batch_size=10,
        learning_rate_init=0.2,
        max_iter=8 if SOLVERS[solver].full_batch else 3,
        random_state=0,
    )
    if kind in CLASSIFIER_KINDS:
        return BPClassifier(**{**config, **params})
    return BPRegressor(loss=kind, **{**config, **params})


def fit_on(estimator, xp, device_, X, y, sample_weight=None, method="fit", **kw):
    """``estimator.<method>`` on ``X, y`` moved to ``xp``, under dispatch."""
    X, y, sample_weight = to_xp(xp, device_, X, y, sample_weight)
    with config_context(array_api_dispatch=True):
        return getattr(estimator, method)(X, y, sample_weight=sample_weight, **kw)


# --------------------------------------------------------------- comparison ---


def outputs(estimator, X):
    """``{method: output}`` of every prediction method ``estimator`` has."""
    names = ("predict", "predict_proba", "predict_log_proba")
    return {
        name: getattr(estimator, name)(X) for name in names if hasattr(estimator, name)
    }


def assert_same_fit(reference, fitted, xp, device_, X):
    """``fitted`` (on ``xp``) is ``reference`` (numpy) up to the fit's tolerance.

    Same parameters, history and predictions; its parameters and outputs are
    arrays of ``xp`` on ``device_``.
    """
    tol = tolerance(reference)
    (X_xp,) = to_xp(xp, device_, X)
    for array in fitted.coefs_ + fitted.intercepts_:
        assert_on(array, X_xp)
    assert_allclose(flat_params(fitted), flat_params(reference), **tol)
    assert fitted.n_iter_ == reference.n_iter_
    for name in ("loss_curve_", "validation_scores_"):
        if getattr(reference, name, None) is not None:
            assert_allclose(getattr(fitted, name), getattr(reference, name), **tol)
    with config_context(array_api_dispatch=True):
        got = outputs(fitted, X_xp)
    for name, expected in outputs(reference, X).items():
        assert_on(got[name], X_xp)
        if name == "predict" and is_classifier(reference):
            assert_array_equal(host(got[name]), expected)
        else:
            assert_allclose(host(got[name]), expected, **tol)


def check_equivalence(estimator, xp, device_, X, y, sample_weight=None):
    """Fit ``estimator`` on numpy and on ``xp``; assert the same fit."""
    reference = clone(estimator).fit(X, y, sample_weight=sample_weight)
    fitted = fit_on(clone(estimator), xp, device_, X, y, sample_weight)
    assert_same_fit(reference, fitted, xp, device_, X)


# ------------------------------------------------ scikit-learn's own checks ---


def _array_api_checks():
    """Every array-API check of scikit-learn, with the namespaces it needs."""
    for name, device_name, dtype in yield_namespace_device_dtype_combinations():
        where = [(name, device_name)]
        kw = dict(array_namespace=name, device_name=device_name, dtype_name=dtype)
        label = f"{name}-{device_name}-{dtype}"
        yield pytest.param(partial(check_array_api_input, **kw), where, id=label)
        if dtype in (None, "float64"):
            values = partial(check_array_api_input_and_values, **kw)
            yield pytest.param(values, where, id=f"values-{label}")
    for other, X, label in yield_mixed_namespace_input_permutations():
        check = partial(
            check_array_api_mixed_inputs, X_ns_and_device=X, other_ns_and_device=other
        )
        yield pytest.param(check, [tuple(X), tuple(other)], id=label.replace(" ", "-"))
    check = partial(check_array_api_same_namespace, array_namespace="array_api_strict")
    yield pytest.param(check, [("array_api_strict", None)], id="same-namespace")


CHECKED = [
    BPClassifier(hidden_layer_sizes=(5,), max_iter=20, random_state=0),
    BPClassifier(hidden_layer_sizes=(3,), solver="lbfgs", max_iter=10, random_state=0),
    BPRegressor(hidden_layer_sizes=(5,), max_iter=20, random_state=0),
    BPRegressor(
        hidden_layer_sizes=(3,), gradient="numerical", max_iter=5, random_state=0
    ),
]


@pytest.mark.parametrize("check, where", list(_array_api_checks()))
@pytest.mark.parametrize(
    "estimator", CHECKED, ids=["clf-adam", "clf-lbfgs", "reg-adam", "reg-numerical"]
)
def test_sklearn_array_api_checks(estimator, check, where):
    for name, device_name in where:
        skip_unless_available(name, device_name)
    check(type(estimator).__name__, estimator)


@pytest.mark.parametrize("estimator", [BPClassifier(), BPRegressor()])
def test_check_estimator_runs_the_array_api_checks(estimator):
    """``parametrize_with_checks`` (test_sklearn_compat.py, test_regressor.py)
    yields every namespace's checks, not only numpy's, once the tag is set."""
    assert estimator.__sklearn_tags__().array_api_support
    yielded = {
        (check.func.__name__, check.keywords.get("array_namespace"))
        for _, check in estimator_checks_generator(estimator, mark="skip")
        if isinstance(check, partial) and "array_api" in check.func.__name__
    }
    for name, *_ in yield_namespace_device_dtype_combinations():
        assert ("check_array_api_input", name) in yielded
    assert ("check_array_api_same_namespace", "array_api_strict") in yielded
    assert ("check_array_api_mixed_inputs", None) in yielded


def test_scipy_reads_the_array_api_flag():
    """conftest.py set SCIPY_ARRAY_API before scipy's import, which reads it."""
    from scipy._lib import _array_api

    assert _array_api.SCIPY_ARRAY_API == "1"


_FIT_DIGEST = """
import hashlib, warnings
import numpy as np
from skbp import BPClassifier, BPRegressor
from skbp.network import losses
warnings.simplefilter("ignore")
rng = np.random.default_rng(0)
X = rng.standard_normal((40, 3))
y = np.digitize(X[:, 0], [-0.5, 0.5])
models = [BPClassifier((5,), solver=s, max_iter=5, random_state=0).fit(X, y)
          for s in ("sgd", "adam", "lbfgs")]
models += [BPRegressor((5,), loss=loss, solver="lbfgs", max_iter=5,
                       random_state=0).fit(X, np.exp(X[:, 0]))
           for loss in losses("regressor")]
digest = hashlib.sha256()
for model in models:
    for a in model.coefs_ + model.intercepts_ + [model.predict(X)]:
        digest.update(np.ascontiguousarray(a).tobytes())
print(digest.hexdigest())
"""


def test_scipy_array_api_changes_no_numpy_fit():
    """The flag conftest.py sets leaves every numpy fit bit-identical."""
    digests = set()
    for flag in ("0", "1"):
        env = {**os.environ, "SCIPY_ARRAY_API": flag, "PYTHONPATH": str(ROOT)}
        proc = subprocess.run(
            [sys.executable, "-c", _FIT_DIGEST],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        digests.add(proc.stdout.strip())
    assert len(digests) == 1


# ------------------------------------------------------ float64 equivalence ---


@pytest.mark.parametrize("gradient", list(GRADIENTS))
@pytest.mark.parametrize("solver", registered_solvers())
@pytest.mark.parametrize("kind", ["multiclass", "squared_error"])
def test_each_solver_and_gradient_matches_numpy(xp_device, kind, solver, gradient):
    estimator = make_estimator(kind, solver, gradient)
    check_equivalence(estimator, *xp_device, *problem(kind))


@pytest.mark.parametrize("kind", KINDS)
def test_each_target_and_loss_matches_numpy(xp_device, kind):
    """Every classification target, and every loss in ``OUTPUTS``."""
    check_equivalence(make_estimator(kind, "adam"), *xp_device, *problem(kind))


@pytest.mark.parametrize("kind", ["multiclass", "squared_error"])
def test_sample_weight_fit_matches_numpy(xp_device, kind):
    X, y = problem(kind)
    weights = np.random.default_rng(1).uniform(0.0, 3.0, len(y))
    check_equivalence(make_estimator(kind), *xp_device, X, y, weights)


@pytest.mark.parametrize("kind", ["multiclass", "squared_error"])
def test_early_stopping_fit_matches_numpy(xp_device, kind):
    estimator = make_estimator(kind, "adam", early_stopping=True, max_iter=5)
    check_equivalence(estimator, *xp_device, *problem(kind))


@pytest.mark.parametrize("kind", ["binary", "multilabel", "poisson"])
def test_partial_fit_matches_numpy(xp_device, kind):
    xp, device_ = xp_device
    X, y = problem(kind)
    estimator = make_estimator(kind, "adam")
    kw = {"classes": np.unique(y)} if kind == "binary" else {}
    reference, fitted = clone(estimator), clone(estimator)
    for rows in (slice(0, 20), slice(20, 40), slice(0, 40)):
        reference.partial_fit(X[rows], y[rows], **kw)
        fit_on(fitted, xp, device_, X[rows], y[rows], method="partial_fit", **kw)
    assert_same_fit(reference, fitted, xp, device_, X)


@pytest.mark.parametrize("solver", registered_solvers())
def test_warm_start_fit_matches_numpy(xp_device, solver):
    xp, device_ = xp_device
    X, y = problem("multiclass")
    estimator = make_estimator("multiclass", solver, warm_start=True)
    reference, fitted = clone(estimator).fit(X, y), clone(estimator)
    fit_on(fitted, xp, device_, X, y)
    reference.set_params(max_iter=2).fit(X, y)
    fit_on(fitted.set_params(max_iter=2), xp, device_, X, y)
    assert_same_fit(reference, fitted, xp, device_, X)


@given(
    kind=st.sampled_from(KINDS),
    solver=st.sampled_from(registered_solvers()),
    gradient=st.sampled_from(list(GRADIENTS)),
    weighted=st.booleans(),
    early_stopping=st.booleans(),
    dropout=st.sampled_from([0.0, 0.3]),
    where=st.sampled_from(INSTALLED_CPU_NAMESPACES),
    seed=st.integers(0, 2**16),
)
def test_any_fit_matches_numpy(
    kind, solver, gradient, weighted, early_stopping, dropout, where, seed
):
    """Any problem, solver, gradient, weights, stopping rule, dropout: numpy's fit."""
    X, y = problem(kind, seed=seed)
    weights = np.random.default_rng(seed).uniform(0.5, 2.0, len(y))
    stochastic = solver in registered_solvers(stochastic=True)
    early_stopping &= stochastic
    estimator = make_estimator(
        kind,
        solver,
        gradient,
        early_stopping=early_stopping,
        dropout=dropout if stochastic else 0.0,  # L-BFGS refuses dropout
        random_state=seed,
    )
    check_equivalence(
        estimator, *namespace(*where), X, y, weights if weighted else None
    )


@pytest.mark.parametrize("solver", registered_solvers(stochastic=True))
def test_partial_fit_across_namespaces_matches_numpy(xp_device, solver):
    """Under dispatch each call trains where its X is, the optimizer state moving too.

    numpy, then ``xp``, then numpy again: the model of the last call is a
    numpy model, and every step is the all-numpy sequence's.
    """
    xp, device_ = xp_device
    X, y = problem("multiclass")
    estimator = make_estimator("multiclass", solver, momentum=0.9)
    reference, fitted = clone(estimator), clone(estimator)
    kw = {"classes": np.unique(y)}
    for rows in (slice(0, 20), slice(20, 40), slice(0, 40)):
        reference.partial_fit(X[rows], y[rows], **kw)
    with config_context(array_api_dispatch=True):
        fitted.partial_fit(X[:20], y[:20], **kw)
    fit_on(fitted, xp, device_, X[20:], y[20:], method="partial_fit", **kw)
    with config_context(array_api_dispatch=True):
        fitted.partial_fit(X, y, **kw)
        proba = fitted.predict_proba(X)  # raised: X's namespace is not the model's
    assert all(isinstance(a, np.ndarray) for a in fitted.coefs_ + fitted.intercepts_)
    assert_allclose(flat_params(fitted), flat_params(reference), **tolerance(reference))
    assert_allclose(proba, reference.predict_proba(X), **tolerance(reference))


@pytest.mark.parametrize("solver", registered_solvers(stochastic=True))
def test_partial_fit_of_a_device_model_without_dispatch_stays_there(xp_device, solver):
    """Dispatch off, numpy X: a device model trains on where it is, as numpy would."""
    xp, device_ = xp_device
    X, y = problem("multiclass")
    estimator = make_estimator("multiclass", solver, momentum=0.9)
    reference, fitted = clone(estimator), clone(estimator)
    kw = {"classes": np.unique(y)}
    for _ in range(3):
        reference.partial_fit(X, y, **kw)
    fit_on(fitted, xp, device_, X, y, method="partial_fit", **kw)
    fitted.partial_fit(X, y)
    fitted.partial_fit(X, y)
    (X_xp,) = to_xp(xp, device_, X)
    assert_on(fitted.coefs_[0], X_xp)
    assert_allclose(flat_params(fitted), flat_params(reference), **tolerance(reference))


def test_warm_start_on_numpy_under_dispatch_gives_a_numpy_model(xp_device):
    """A device model warm-started on numpy X (dispatch on) predicts that X."""
    xp, device_ = xp_device
    X, y = problem("multiclass")
    estimator = make_estimator("multiclass", "adam", warm_start=True)
    reference, fitted = clone(estimator).fit(X, y).fit(X, y), clone(estimator)
    fit_on(fitted, xp, device_, X, y)
    with config_context(array_api_dispatch=True):
        fitted.fit(X, y)
        got = fitted.predict(X)
    assert_array_equal(got, reference.predict(X))
    assert_allclose(flat_params(fitted), flat_params(reference), **tolerance(reference))


def test_copy_of_a_device_model_has_its_own_parameters(xp_device):
    """``copy.copy`` copies the parameter vector on the device, as on numpy."""
    xp, device_ = xp_device
    X, y = problem("multiclass")
    fitted = fit_on(make_estimator("multiclass"), xp, device_, X, y)
    before = flat_params(fitted)
    duplicate = copy.copy(fitted)
    duplicate.coefs_[0] = np.zeros(tuple(fitted.coefs_[0].shape))
    assert_array_equal(flat_params(fitted), before)
    assert not host(duplicate.coefs_[0]).any()
    assert_on(duplicate.coefs_[0], fitted.coefs_[0])


@pytest.mark.parametrize("solver", registered_solvers())
def test_callbacks_score_a_device_fit_as_a_numpy_fit(xp_device, solver):
    """A ScoringMonitor scores each epoch of a device fit on the fit's own X."""
    callback = pytest.importorskip("sklearn.callback", reason="scikit-learn < 1.9")
    xp, device_ = xp_device
    X, y = problem("multiclass")
    logs = []
    for where in ((np, "cpu"), (xp, device_)):
        monitor = callback.ScoringMonitor(scoring=["accuracy", "neg_log_loss"])
        estimator = make_estimator("multiclass", solver).set_callbacks(monitor)
        fit_on(estimator, *where, X, y)
        log = monitor.get_logs().data_as_pandas
        logs.append(log[["accuracy", "neg_log_loss"]].to_numpy(dtype=float))
    assert logs[1].shape == logs[0].shape
    assert_allclose(logs[1], logs[0], rtol=1e-6)


# --------------------------------------------- dispatch off, or numpy input ---


@pytest.mark.parametrize("kind", ["multiclass", "multilabel", "squared_error"])
def test_torch_input_without_dispatch_is_the_numpy_fit(kind):
    """Dispatch off: torch tensors go through np.asarray, as any array-like."""
    torch = pytest.importorskip("torch")
    X, y = problem(kind)
    reference = make_estimator(kind).fit(X, y)
    fitted = make_estimator(kind).fit(torch.asarray(X), torch.asarray(y))
    assert_array_equal(flat_params(fitted), flat_params(reference))
    assert all(isinstance(a, np.ndarray) for a in fitted.coefs_ + fitted.intercepts_)
    for name, expected in outputs(reference, X).items():
        got = outputs(fitted, torch.asarray(X))[name]
        assert isinstance(got, np.ndarray)
        assert_array_equal(got, expected)


@pytest.mark.parametrize("gradient", list(GRADIENTS))
@pytest.mark.parametrize("solver", registered_solvers())
@pytest.mark.parametrize("kind", ["multiclass", "squared_error"])
def test_numpy_input_with_dispatch_is_bit_identical(kind, solver, gradient):
    """Dispatch on with numpy input keeps the numpy path and its kernels."""
    X, y = problem(kind)
    reference = make_estimator(kind, solver, gradient).fit(X, y)
    with config_context(array_api_dispatch=True):
        fitted = make_estimator(kind, solver, gradient).fit(X, y)
        got = outputs(fitted, X)
    assert_array_equal(flat_params(fitted), flat_params(reference))
    assert fitted.loss_curve_ == reference.loss_curve_
    for name, expected in outputs(reference, X).items():
        assert isinstance(got[name], np.ndarray)
        assert_array_equal(got[name], expected)


# ------------------------------------------- gradient_check and conversion ---


@pytest.mark.parametrize("kind", ["multiclass", "gamma"])
def test_gradient_check_on_a_torch_fitted_model(kind):
    xp, device_ = namespace("torch", "cpu")
    X, y = problem(kind)
    fitted = fit_on(make_estimator(kind), xp, device_, X, y)
    with config_context(array_api_dispatch=True):
        errors = gradient_check(fitted, *to_xp(xp, device_, X, y))
    expected = gradient_check(make_estimator(kind).fit(X, y), X, y)
    assert list(errors) == list(expected)
    assert all(isinstance(e, float) for e in errors.values())
    assert max(errors.values()) < 1e-7


def test_torch_fitted_model_pickles_on_torch():
    """Pickling keeps the device model's tensors (loading needs torch)."""
    xp, device_ = namespace("torch", "cpu")
    X, y = problem("binary")
    fitted = fit_on(make_estimator("binary", "adam"), xp, device_, X, y)
    loaded = pickle.loads(pickle.dumps(fitted))
    (X_xp,) = to_xp(xp, device_, X)
    with config_context(array_api_dispatch=True):
        expected, got = fitted.predict_proba(X_xp), loaded.predict_proba(X_xp)
    assert_on(got, X_xp)
    assert_array_equal(host(got), host(expected))
    for array in loaded.coefs_ + loaded.intercepts_:
        assert_on(array, X_xp)


@pytest.fixture
def moved_to_numpy():
    """A multiclass model fitted on torch-CPU float64, moved to numpy; the data."""
    xp, device_ = namespace("torch", "cpu")
    X, y = problem("multiclass")
    fitted = fit_on(make_estimator("multiclass", "adam"), xp, device_, X, y)
    (X_xp,) = to_xp(xp, device_, X)
    with config_context(array_api_dispatch=True):
        proba = host(fitted.predict_proba(X_xp))
        moved = move_estimator_to(fitted, np, "cpu")
    return moved, proba, X, y


def test_moved_model_is_a_numpy_model(moved_to_numpy):
    moved, proba, X, y = moved_to_numpy
    assert all(isinstance(a, np.ndarray) for a in moved.coefs_ + moved.intercepts_)
    assert_allclose(moved.predict_proba(X), proba, rtol=1e-12)
    # It is the numpy fit, and trains on as the numpy fit does.
    reference = make_estimator("multiclass", "adam").fit(X, y)
    assert_allclose(flat_params(moved), flat_params(reference), **tolerance(reference))
    moved.partial_fit(X, y)
    reference.partial_fit(X, y)
    assert_allclose(flat_params(moved), flat_params(reference), **tolerance(reference))


def test_moved_model_pickles(moved_to_numpy):
    moved, proba, X, _ = moved_to_numpy
    loaded = pickle.loads(pickle.dumps(moved))
    assert_array_equal(loaded.predict_proba(X), moved.predict_proba(X))


def test_moved_model_round_trips_through_skops(tmp_path, moved_to_numpy):
    sio = pytest.importorskip("skops.io", reason="needs the 'skops' extra")
    moved, _, X, _ = moved_to_numpy
    path = tmp_path / "model.skops"
    sio.dump(moved, path)
    untrusted = sio.get_untrusted_types(file=path)
    assert all(name.startswith("skbp.") for name in untrusted), untrusted
    loaded = sio.load(path, trusted=untrusted)
    assert_array_equal(loaded.predict_proba(X), moved.predict_proba(X))


def test_moved_model_exports_to_onnx(moved_to_numpy):
    skl2onnx = pytest.importorskip("skl2onnx", reason="needs the 'onnx' extra")
    rt = pytest.importorskip("onnxruntime", reason="needs the 'onnx' extra")
    pytest.importorskip("skbp.onnx")
    moved, _, X, _ = moved_to_numpy
    X32 = X.astype(np.float32)
    onx = skl2onnx.to_onnx(moved, X32[:1], options={"zipmap": False})
    sess = rt.InferenceSession(
        onx.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        labels, proba = sess.run(None, {sess.get_inputs()[0].name: X32})
    assert_allclose(proba, moved.predict_proba(X), atol=1e-5)
    assert_array_equal(labels, moved.predict(X))


def test_torch_fitted_model_exports_to_onnx_as_moved(moved_to_numpy):
    """The converter reads a device model's parameters from the host itself."""
    skl2onnx = pytest.importorskip("skl2onnx", reason="needs the 'onnx' extra")
    pytest.importorskip("skbp.onnx")
    xp, device_ = namespace("torch", "cpu")
    moved, _, X, y = moved_to_numpy
    fitted = fit_on(make_estimator("multiclass", "adam"), xp, device_, X, y)
    X32 = X.astype(np.float32)[:1]
    direct = skl2onnx.to_onnx(fitted, X32, options={"zipmap": False})
    via_numpy = skl2onnx.to_onnx(moved, X32, options={"zipmap": False})
    to_array = pytest.importorskip("onnx.numpy_helper").to_array
    initializers = [
        {t.name: to_array(t) for t in graph.graph.initializer}
        for graph in (direct, via_numpy)
    ]
    assert "coefficient0" in initializers[0]
    assert initializers[0].keys() == initializers[1].keys()
    for name, array in initializers[0].items():
        assert_array_equal(array, initializers[1][name])


def test_numpy_model_moved_to_torch_trains_on():
    """``move_estimator_to`` the other way: a host model continues on the device."""
    xp, device_ = namespace("torch", "cpu")
    X, y = problem("multiclass")
    reference = make_estimator("multiclass", "adam").fit(X, y)
    with config_context(array_api_dispatch=True):
        moved = move_estimator_to(reference, xp, device_)
    fit_on(moved, xp, device_, X, y, method="partial_fit")
    reference.partial_fit(X, y)
    assert_same_fit(reference, moved, xp, device_, X)


# ------------------------------------------------ the numerical gradient's budget ---


def test_numerical_chunks_take_half_a_gpus_free_memory(monkeypatch):
    """On a GPU (faked: none here), a quarter of half the free memory; else numpy's."""
    import skbp.gradients as gradients

    class FakeCupyDevice:
        mem_info = (6 * 2**30, 16 * 2**30)  # (free, total), as cupy.cuda.Device's

    FakeCupyArray = type("ndarray", (), {"__module__": "cupy._core.core"})
    cupy_params = FakeCupyArray()
    cupy_params.device = FakeCupyDevice()
    assert gradients._device_budget(cupy_params) == 3 * 2**30 // 4
    import array_api_strict

    array = array_api_strict.zeros(3)
    assert gradients._device_budget(array) == gradients._NUMERICAL_CHUNK_BYTES // 4

    torch = pytest.importorskip("torch")
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device: (40 * 2**30, 0))
    cuda_params = type("Tensor", (), {"device": torch.device("cuda:0")})()
    assert gradients._device_budget(cuda_params) == 8 * 2**30 // 4  # at most 8 GiB
    assert (
        gradients._device_budget(torch.zeros(3))
        == gradients._NUMERICAL_CHUNK_BYTES // 4
    )


def test_bfloat16_input_trains_as_its_float32_values():
    """numpy has no bfloat16: such X is read as float32, which holds it exactly."""
    torch = pytest.importorskip("torch")
    X, y = problem("multiclass")
    X_bf16 = torch.asarray(X).to(torch.bfloat16)
    X32 = X_bf16.to(torch.float32).numpy()
    reference = make_estimator("multiclass").fit(X32, y)
    with config_context(array_api_dispatch=True):
        fitted = make_estimator("multiclass").fit(X_bf16, torch.asarray(y))
        proba = fitted.predict_proba(X_bf16)
    assert fitted.coefs_[0].dtype == torch.float32
    assert_allclose(flat_params(fitted), flat_params(reference), rtol=1e-5, atol=1e-6)
    assert_allclose(host(proba), reference.predict_proba(X32), rtol=1e-5, atol=1e-6)
    # Without dispatch too (np.asarray would fail on bfloat16).
    assert_allclose(
        flat_params(make_estimator("multiclass").fit(X_bf16, y)), flat_params(reference)
    )
