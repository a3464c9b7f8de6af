"""skbp's benchmarks: one harness, a table of cases, interleaved timing.

    python benchmarks/run.py                       # every case
    python benchmarks/run.py sgd-step predict      # some of them (--list names all)
    python benchmarks/run.py --quick               # tiny sizes: checks that all run
    python benchmarks/run.py --memory --repeat 5 --blas-threads 1

A case is a list of setups (data, network, dtype: one table row each) and
contenders (callables, each timed per unit of work: a step, an epoch, a fit,
a call). The contenders of a setup run interleaved, one run of each per round
in an order that rotates, after one untimed run each. A time is the minimum
over the rounds with the median in parentheses; a ratio is the ratio of the
minimums with the median of the per-round ratios in parentheses. With
``--memory`` each contender also runs in a fresh subprocess that reports its
tracemalloc peak and its peak RSS, both beyond the array it returns.
"""

import argparse
import functools
import gc
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path

# scikit-learn's array_api_dispatch (the array-api case) needs scipy's own
# array-API support, which scipy reads once, at import. numpy fits are
# bit-identical with it (tests/test_array_api.py). Only when run: a script
# that imports this harness (compare.py) keeps the environment it was given.
if __name__ == "__main__":
    os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import sklearn  # noqa: E402
from sklearn.datasets import load_diabetes, load_digits, make_classification  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier, MLPRegressor  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils._array_api import move_to  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

import skbp  # noqa: E402
from skbp import BPClassifier, BPRegressor  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the book-style loop is a test oracle
from reference_loop import (  # noqa: E402
    TwoLayerNet,
    choice_batches,
    init_params,
    one_hot,
    params_from_flat,
    params_to_flat,
    train,
)

# Every classifier and regressor here trains the same way, so that skbp and
# scikit-learn start from the same Glorot draw, see the same batches and end at
# the same weights up to rounding: logistic units, no L2, no momentum, a
# constant rate, exactly max_iter epochs of shuffled batches.
PLAIN_SGD = {
    "activation": "logistic",
    "solver": "sgd",
    "alpha": 0.0,
    "learning_rate": "constant",
    "momentum": 0.0,
    "nesterovs_momentum": False,
    "early_stopping": False,
    "shuffle": True,
    "tol": 0.0,
    "n_iter_no_change": np.inf,
}
# The reference experiment (DESIGN.md): digits 64-50-10, batches of 100, SGD 0.1.
HIDDEN, BATCH, LR = 50, 100, 0.1


# ----------------------------------------------------------------- machine


def cpu_line():
    """CPU model, cores and its AVX2/AVX-512 flags, from /proc/cpuinfo."""
    model, flags = platform.processor() or "unknown CPU", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass
    simd = [f for f in ("avx2", "fma", "avx512f") if f in flags] or ["no AVX2"]
    core = np._core if hasattr(np, "_core") else np.core  # numpy 2, numpy 1
    umath = core._multiarray_umath  # its SIMD dispatch, as np.show_runtime() reads
    found = [f for f in umath.__cpu_dispatch__ if umath.__cpu_features__.get(f)]
    numpy_simd = f", numpy SIMD up to {found[-1]}" if found else ""
    return f"{model}, {os.cpu_count()} cores, {' '.join(simd)}{numpy_simd}"


def machine_line(code=None, devices=True):
    """The CPU, each BLAS with its threads, the versions and the load average.

    ``code`` names the skbp measured (by default this checkout's version and
    commit); ``devices=False`` leaves out the array libraries (unimported).
    """
    code = code or f"skbp {skbp.__version__} at {git_revision()}"
    devices = f"; devices: {device_line()}" if devices else ""
    blas = "; ".join(
        f"{lib['internal_api']} {lib['version']} {lib.get('architecture')} "
        f"{lib['num_threads']} threads"
        for lib in threadpool_info()
        if lib["user_api"] == "blas"
    )
    env = " ".join(
        f"{k}={v}"
        for k, v in sorted(os.environ.items())
        if k.startswith("OPENBLAS_") or k == "SCIPY_ARRAY_API"
    )
    return (
        f"Machine: {cpu_line()}; BLAS {blas or 'none found'}{' ' + env if env else ''}"
        f"; Python {platform.python_version()}, numpy {np.__version__}, scipy "
        f"{scipy.__version__}, scikit-learn {sklearn.__version__}, {code}{devices}; "
        f"load average {load_average()}"
    )


def load_average():
    """The 1-, 5- and 15-minute load averages."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def device_line():
    """The devices the array-api case runs on, and those it found none of."""
    found = array_devices()
    line = ", ".join(f"{name} ({device.about})" for name, device in found.items())
    expected = ("torch-cpu", "torch-cuda", "cupy")
    missing = [name for name in expected if name not in found]
    return line + (f"; no {', '.join(missing)}" if missing else "")


def git_revision():
    """The repository's short commit, with ``+`` when skbp/ has changes."""
    try:
        git = ["git", "-C", str(ROOT)]
        rev = subprocess.run([*git, "rev-parse", "--short", "HEAD"], **_CAPTURE)
        dirty = subprocess.run([*git, "status", "--porcelain", "skbp"], **_CAPTURE)
    except (OSError, subprocess.CalledProcessError):
        return "unknown commit"
    return rev.stdout.strip() + ("+" if dirty.stdout.strip() else "")


_CAPTURE = {"capture_output": True, "text": True, "check": True}


# ------------------------------------------------------------------ timing


@dataclass
class Setup:
    """One row of a case: its contenders and what to report about them."""

    label: str
    contenders: dict  # short name -> callable(); its last result is kept
    ratios: list  # (a, b) pairs: time of a / time of b
    units: dict = field(default_factory=dict)  # name -> units of work per call
    check: object = None  # callable(results) -> text: accuracy, agreement
    n_params: int = 0  # the network's size, for the scaling study


@dataclass
class Case:
    """A benchmark: what it measures, per what unit, and how to build its setups."""

    title: str
    unit: str
    build: object  # callable(quick) -> list of Setup
    repeats: int
    budget: float = 60.0  # seconds per setup after which no round starts
    summary: object = None  # callable(setups, timings) -> lines


def time_interleaved(setup, repeats, budget):
    """Per contender, its times per unit over the rounds; keep each last result."""
    names = list(setup.contenders)
    results = {name: setup.contenders[name]() for name in names}  # warm-up
    gc.collect()
    gc.freeze()  # the collections between runs then skip what exists now
    times = {name: [] for name in names}
    started = time.perf_counter()
    for r in range(repeats):
        if r and time.perf_counter() - started > budget:
            break
        for name in names[r % len(names) :] + names[: r % len(names)]:
            gc.collect()
            start = time.perf_counter()
            results[name] = setup.contenders[name]()
            elapsed = time.perf_counter() - start
            times[name].append(elapsed / setup.units.get(name, 1))
    return times, results


def ratio(times, a, b):
    """``(min a / min b, median of the per-round ratios)``."""
    per_round = [x / y for x, y in zip(times[a], times[b], strict=True)]
    return min(times[a]) / min(times[b]), statistics.median(per_round)


# ------------------------------------------------------------------ memory


def _proc_status_kib(key):
    """A ``/proc/self/status`` field (VmRSS, VmHWM) in KiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def peak_memory(run):
    """Peak RSS and tracemalloc peak of ``run()``, beyond the array it returns.

    RSS: the kernel's high-water mark, reset just before the call
    (``/proc/self/clear_refs``), minus the resident size then; it counts
    everything, BLAS buffers included (None where Linux's /proc is missing).
    tracemalloc: a second call's peak of Python and numpy allocations.
    """
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")
        before = _proc_status_kib("VmRSS")
    except (OSError, KeyError):
        before = None
    out = run()
    returned = getattr(out, "nbytes", 0)
    rss = None if before is None else (_proc_status_kib("VmHWM") - before) * 1024
    del out
    gc.collect()
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    run()
    traced = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return {"rss": None if rss is None else rss - returned, "traced": traced - returned}


def measure_memory(case_name, index, setup, args):
    """Run each contender of setup ``index`` once in a fresh subprocess."""
    memory = {}
    for name in setup.contenders:
        command = [sys.executable, __file__, case_name, "--child", f"{index}:{name}"]
        command += ["--quick"] * args.quick + _blas_flag(args)
        out = subprocess.run(command, **_CAPTURE).stdout
        memory[name] = json.loads(out.splitlines()[-1])
    return memory


def _blas_flag(args):
    return (
        [] if args.blas_threads is None else ["--blas-threads", str(args.blas_threads)]
    )


# ----------------------------------------------------------------- devices


@dataclass
class ArrayDevice:
    """An array library on a device, for the array-api case."""

    put: object  # callable(numpy array) -> the library's array on the device
    sync: object  # callable(): wait until the device's queued work is done
    about: str  # the library's version and the device, for the machine line


def _no_wait():
    """Nothing to wait for: the CPU computes as it is asked."""


@functools.cache
def array_devices():
    """numpy, and torch on the CPU, torch on CUDA and CuPy where each is present."""
    found = {"numpy": ArrayDevice(np.asarray, _no_wait, "cpu")}
    if importlib.util.find_spec("torch"):
        import torch

        version = f"torch {torch.__version__}"
        put = functools.partial(torch.asarray, device="cpu")
        about = f"{version}, cpu, {torch.get_num_threads()} threads"
        found["torch-cpu"] = ArrayDevice(put, _no_wait, about)
        if torch.cuda.is_available():
            put = functools.partial(torch.asarray, device="cuda")
            about = f"{version}, {torch.cuda.get_device_name()}"
            found["torch-cuda"] = ArrayDevice(put, torch.cuda.synchronize, about)
    if importlib.util.find_spec("cupy"):
        import cupy

        try:
            n_devices = cupy.cuda.runtime.getDeviceCount()
        except cupy.cuda.runtime.CUDARuntimeError:
            n_devices = 0
        if n_devices:
            sync = cupy.cuda.Device().synchronize
            about = f"cupy {cupy.__version__}, CUDA device 0"
            found["cupy"] = ArrayDevice(cupy.asarray, sync, about)
    return found


def host(array):
    """A numpy copy of an array of any library, on any device."""
    if isinstance(array, np.ndarray):
        return array.copy()
    return np.array(move_to(array, xp=np, device="cpu"))


# -------------------------------------------------------------------- data


def digits(dtype=np.float64, n_rows=None):
    """Digits as loaded (pixels 0-16), the first ``n_rows``, an 80/20 split."""
    X, y = load_digits(return_X_y=True)
    X, y = X[:n_rows].astype(dtype), y[:n_rows]
    return train_test_split(X, y, test_size=0.2, random_state=0)


def plain_sgd(estimator, hidden, **params):
    """``estimator`` configured by ``PLAIN_SGD``, then ``params``."""
    config = {**PLAIN_SGD, "hidden_layer_sizes": (hidden,), "random_state": 0}
    return estimator(**{**config, **params})


def classifiers(hidden=HIDDEN, **params):
    """``BPClassifier`` and ``MLPClassifier`` configured identically (Glorot start)."""
    return {
        "BP": plain_sgd(BPClassifier, hidden, **params),
        "MLP": plain_sgd(MLPClassifier, hidden, **params),
    }


def fits(models, X, y):
    """A contender per model: fit a fresh clone of it on ``X, y``."""
    return {
        name: (lambda m=m: sklearn.clone(m).fit(X, y)) for name, m in models.items()
    }


def parameters(model):
    """A fitted model's ``W1, b1, W2, b2, ...`` as one float64 array."""
    pairs = zip(model.coefs_, model.intercepts_, strict=True)
    return np.concatenate([np.ravel(a) for pair in pairs for a in pair]).astype(float)


def same_start(results, *, X_test, y_test):
    """Test score of BP and MLP, and how far apart their fitted parameters end."""
    bp, mlp = results["BP"], results["MLP"]
    gap = np.abs(parameters(bp) - parameters(mlp)).max()
    return (
        f"score {bp.score(X_test, y_test):.4f} / {mlp.score(X_test, y_test):.4f}, "
        f"max |BP - MLP| {gap:.1e}"
    )


def glorot(units, seed=0):
    """Glorot-uniform parameters of an ``n_in-hidden-n_out`` network, skbp's layout."""
    return params_to_flat(init_params(*units, np.random.RandomState(seed), "glorot"))


def skbp_steps(method, units, theta, X, T, calls=1, device=None):
    """A callable: ``calls`` SGD steps of skbp's ``method`` gradient from ``theta``.

    It returns the gradient at ``theta`` (a numpy copy). The one place that
    reaches inside the package (a network at given parameters, the gradient
    functions), to time a step without ``fit`` around it. ``device`` (an
    ``ArrayDevice``) holds the network and the data; numpy by default.
    """
    from skbp.gradients import GRADIENTS
    from skbp.network import Network

    device = device or array_devices()["numpy"]
    network, gradient = Network(units, device.put(theta.copy())), GRADIENTS[method]
    theta, X, T = device.put(theta), device.put(X), device.put(T)

    def run():
        first = None
        for _ in range(calls):
            gradient(network, X, T)
            if first is None:
                first = host(network.grads)
            network.params -= LR * network.grads
        network.params[...] = theta
        device.sync()
        return first

    return run


# ------------------------------------------------------------------- cases


def sgd_step(quick):
    """The reference configuration, float64 and float32, 20 epochs a fit."""
    setups = []
    for dtype in ("float64", "float32"):
        X, X_test, y, y_test = digits(dtype, 300 if quick else None)
        epochs = 1 if quick else 20
        steps = epochs * -(-len(X) // BATCH)
        models = classifiers(learning_rate_init=LR, batch_size=BATCH, max_iter=epochs)
        T = one_hot(y, 10).astype(dtype)

        def loop(X=X, T=T, dtype=dtype, steps=steps):
            rng = np.random.RandomState(0)
            params = init_params(X.shape[1], HIDDEN, 10, rng, "glorot")
            params = {key: value.astype(dtype) for key, value in params.items()}
            net = TwoLayerNet(X.shape[1], HIDDEN, 10, params=params)
            train(net, X, T, choice_batches(rng, len(X), BATCH, steps), LR)
            return net

        def check(results, X_test=X_test, y_test=y_test):
            acc = results["loop"].accuracy(X_test, one_hot(y_test, 10))
            same = same_start(results, X_test=X_test, y_test=y_test)
            return f"{same}, loop score {acc:.4f}"

        setups.append(
            Setup(
                f"{dtype}, {len(X)} rows, 64-{HIDDEN}-10, {steps} steps",
                {**fits(models, X, y), "loop": loop},
                [("BP", "MLP"), ("BP", "loop")],
                dict.fromkeys(("BP", "MLP", "loop"), steps),
                check,
            )
        )
    return setups


def solver(name, quick):
    """Adam per epoch (20 epochs) or L-BFGS per fit (50 iterations), digits."""
    X, X_test, y, y_test = digits(n_rows=300 if quick else None)
    epochs = (1 if quick else 20) if name == "adam" else (3 if quick else 50)
    models = classifiers(
        solver=name, learning_rate_init=0.001, batch_size=BATCH, max_iter=epochs
    )
    per = dict.fromkeys(models, epochs if name == "adam" else 1)

    def check(results):
        n_iter = "/".join(str(m.n_iter_) for m in results.values())
        return (
            f"{same_start(results, X_test=X_test, y_test=y_test)}, iterations {n_iter}"
        )

    unit = f"{epochs} epochs" if name == "adam" else f"{epochs} iterations"
    return [
        Setup(
            f"64-{HIDDEN}-10, {unit}", fits(models, X, y), [("BP", "MLP")], per, check
        )
    ]


def regressor(quick):
    """Diabetes, standardised, 10-50-1, batches of 32, SGD 0.01, 50 epochs."""
    X, y = load_diabetes(return_X_y=True)
    X, X_test, y, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
    x_scale, y_mean, y_std = StandardScaler().fit(X), y.mean(), y.std()
    X, X_test = x_scale.transform(X), x_scale.transform(X_test)
    y, y_test = (y - y_mean) / y_std, (y_test - y_mean) / y_std
    epochs = 1 if quick else 50
    steps = epochs * -(-len(X) // 32)
    config = {"learning_rate_init": 0.01, "batch_size": 32, "max_iter": epochs}
    models = {
        "BP": plain_sgd(BPRegressor, HIDDEN, **config),
        "MLP": plain_sgd(MLPRegressor, HIDDEN, **config),
    }
    check = functools.partial(same_start, X_test=X_test, y_test=y_test)
    label = f"diabetes, {len(X)} rows, 10-{HIDDEN}-1, {steps} steps"
    per = dict.fromkeys(models, steps)
    return [Setup(label, fits(models, X, y), [("BP", "MLP")], per, check)]


def predict(quick):
    """``predict_proba`` of 64-50-10 models fitted on digits, on many rows."""
    X, X_test, y, y_test = digits(n_rows=300 if quick else None)
    epochs = 1 if quick else 20
    models = classifiers(learning_rate_init=LR, batch_size=BATCH, max_iter=epochs)
    fitted = {name: m.fit(X, y) for name, m in models.items()}
    rng = np.random.RandomState(0)
    setups = []
    for n_rows in (500, 2000) if quick else (100_000, 1_000_000):
        rows = np.concatenate([X, X_test])[rng.randint(0, len(X) + len(X_test), n_rows)]

        def check(results):
            bp, mlp = results["BP"], results["MLP"]
            same = np.mean(bp.argmax(axis=1) == mlp.argmax(axis=1))
            return (
                f"same argmax {same:.4f}, max |BP - MLP| {np.abs(bp - mlp).max():.1e}"
            )

        contenders = {
            name: (lambda m=m, rows=rows: m.predict_proba(rows))
            for name, m in fitted.items()
        }
        setups.append(
            Setup(f"{n_rows:,} rows", contenders, [("BP", "MLP")], check=check)
        )
    return setups


def mnist_data(quick):
    """MNIST-sized ``make_classification``: ``(X, X_test, y, y_test)``, 10 classes."""
    n, n_test, n_features = (600, 100, 20) if quick else (60_000, 10_000, 784)
    X, y = make_classification(
        n + n_test, n_features, n_informative=min(50, n_features), n_redundant=0,
        n_classes=10, random_state=0,
    )  # fmt: skip
    return X[:n], X[n:], y[:n], y[n:]


def mnist(quick):
    """``make_classification`` of MNIST's size, 784-100-10, batches of 200, 2 epochs."""
    X, X_test, y, y_test = mnist_data(quick)
    n, n_features = X.shape
    models = classifiers(100, learning_rate_init=LR, batch_size=200, max_iter=2)
    check = functools.partial(same_start, X_test=X_test, y_test=y_test)
    label = f"{n:,} x {n_features}, 2 epochs"
    return [Setup(label, fits(models, X, y), [("BP", "MLP")], check=check)]


def numerical(quick):
    """One numerical step at a Glorot start, skbp vs the per-element loop."""
    X, _, y, _ = digits(n_rows=200 if quick else None)
    hidden, batch, calls = (3, 10, 2) if quick else (HIDDEN, BATCH, 50)
    rng = np.random.RandomState(0)
    rows = rng.choice(len(X), batch)
    X_b, T_b = X[rows], one_hot(y[rows], 10)
    units = [64, hidden, 10]
    theta = glorot(units)
    loop = TwoLayerNet(*units, params=params_from_flat(theta, units), eps=0.0)

    def check(results):
        g, g_loop, g_bp = (results[k] for k in ("numerical", "loop", "backprop"))
        return (
            f"max |skbp - loop| {np.abs(g - g_loop).max():.1e} (target 1e-9), "
            f"|numerical - backprop| {np.abs(g - g_bp).max():.1e}"
        )

    contenders = {
        "numerical": skbp_steps("numerical", units, theta, X_b, T_b),
        "loop": lambda: params_to_flat(loop.numerical_gradient(X_b, T_b)),
        "backprop": skbp_steps("backprop", units, theta, X_b, T_b, calls),
    }
    label = f"64-{hidden}-10, {theta.size:,} params, batch {batch}"
    ratios = [("loop", "numerical"), ("numerical", "backprop")]
    return [Setup(label, contenders, ratios, {"backprop": calls}, check)]


def scaling(quick):
    """A step of each gradient for 16, 32, 64 inputs (PCA of digits) x 5 widths."""
    X, _, y, _ = digits()
    rows = np.random.RandomState(0).choice(len(X), BATCH, replace=False)
    T_b = one_hot(y[rows], 10)
    calls = 2 if quick else 50
    setups = []
    for n_in in (8, 64) if quick else (16, 32, 64):
        X_b = (
            X[rows] if n_in == 64 else PCA(n_in, random_state=0).fit_transform(X)[rows]
        )
        for hidden in (2, 4) if quick else (10, 25, 50, 100, 200):
            units = [n_in, hidden, 10]
            theta = glorot(units)
            contenders = {
                "backprop": skbp_steps("backprop", units, theta, X_b, T_b, calls),
                "numerical": skbp_steps("numerical", units, theta, X_b, T_b),
            }
            label = f"{n_in}-{hidden}-10, {theta.size:,} params"
            ratios = [("numerical", "backprop")]
            per = {"backprop": calls}
            setups.append(Setup(label, contenders, ratios, per, n_params=theta.size))
    return setups


def array_api(quick):
    """numpy vs torch (CPU, CUDA) and CuPy: the reference steps, an MNIST-sized fit.

    The numerical and the backprop step of the reference experiment (64-50-10,
    batches of 100, at a Glorot start) and the ``mnist`` case's fit, each on
    every device ``array_devices`` finds, the data already there; fits run
    under ``array_api_dispatch`` (numpy's path is then unchanged).
    """
    found = array_devices()
    ratios = [(name, "numpy") for name in found if name != "numpy"]
    X, _, y, _ = digits(n_rows=200 if quick else None)
    hidden, calls = (3, 2) if quick else (HIDDEN, 50)
    rows = np.random.RandomState(0).choice(len(X), BATCH)
    X_b, T_b = X[rows], one_hot(y[rows], 10)
    units = [64, hidden, 10]
    theta = glorot(units)
    setups = []
    for method, n_calls in (("numerical", 1), ("backprop", calls)):
        contenders = {
            name: skbp_steps(method, units, theta, X_b, T_b, n_calls, device)
            for name, device in found.items()
        }
        label = f"{method} step, 64-{hidden}-10, {theta.size:,} params, batch {BATCH}"
        per = dict.fromkeys(found, n_calls)
        setups.append(Setup(label, contenders, ratios, per, same_as_numpy))
    setups.append(array_api_fit(found, quick))
    return setups


def array_api_fit(found, quick):
    """The ``mnist`` case's fit (one per call) on every device in ``found``."""
    X, X_test, y, y_test = mnist_data(quick)
    n, n_features = X.shape
    model = plain_sgd(
        BPClassifier, 100, learning_rate_init=LR, batch_size=200, max_iter=2
    )

    def fit_on(device):
        X_d, y_d = device.put(X), device.put(y)

        def run():
            with sklearn.config_context(array_api_dispatch=True):
                fitted = sklearn.clone(model).fit(X_d, y_d)
            device.sync()
            return fitted

        return run

    def check(results):
        score = results["numpy"].score(X_test, y_test)
        return f"{same_as_numpy(results)}; numpy test score {score:.4f}"

    contenders = {name: fit_on(device) for name, device in found.items()}
    ratios = [(name, "numpy") for name in found if name != "numpy"]
    label = f"MNIST-sized fit, {n:,} x {n_features}, {n_features}-100-10, 2 epochs"
    return Setup(label, contenders, ratios, check=check)


def same_as_numpy(results):
    """How far each device's result (a gradient, a fitted model) is from numpy's."""
    values = {
        name: host_parameters(r) if hasattr(r, "coefs_") else host(r)
        for name, r in results.items()
    }
    return (
        ", ".join(
            f"max |{name} - numpy| {np.abs(value - values['numpy']).max():.1e}"
            for name, value in values.items()
            if name != "numpy"
        )
        or "numpy only"
    )


def host_parameters(model):
    """A fitted model's ``W1, b1, W2, b2, ...`` as one numpy float64 array."""
    pairs = zip(model.coefs_, model.intercepts_, strict=True)
    return np.concatenate([host(a).ravel() for pair in pairs for a in pair])


def scaling_slope(setups, timings):
    """The log-log slope of the numerical / backprop ratio against the parameters."""
    params = [setup.n_params for setup in setups]
    ratios = [ratio(t, "numerical", "backprop")[0] for t in timings]
    per_param = [r / p for r, p in zip(ratios, params, strict=True)]
    slope = np.polyfit(np.log(params), np.log(ratios), 1)[0]
    return [
        f"Log-log slope of numerical / backprop against the parameters: {slope:.2f} "
        f"(1 = linear); ratio / params from {min(per_param):.3f} to "
        f"{max(per_param):.3f}."
    ]


CASES = {
    "sgd-step": Case("time per SGD step, digits, plain SGD 0.1, batch 100", "step",
                     sgd_step, repeats=15),
    "adam": Case("Adam, time per epoch", "epoch",
                 lambda quick: solver("adam", quick), repeats=5),
    "lbfgs": Case("L-BFGS, time per fit", "fit",
                  lambda quick: solver("lbfgs", quick), repeats=5),
    "regressor": Case("BPRegressor vs MLPRegressor, time per SGD step", "step",
                      regressor, repeats=15),
    "predict": Case("predict_proba, time per call (--memory: working memory)", "call",
                    predict, repeats=3),
    "mnist": Case("MNIST-sized fit, time per fit (--memory: peak memory)", "fit",
                  mnist, repeats=3),
    "numerical": Case("one gradient step, numerical vs the book's per-element loop",
                      "step", numerical, repeats=3),
    "scaling": Case("numerical vs backprop step against the parameter count", "step",
                    scaling, repeats=3, budget=15.0, summary=scaling_slope),
    "array-api": Case("numpy vs torch (CPU, CUDA) and CuPy under array_api_dispatch: "
                      "the reference steps, an MNIST-sized fit", "step (fit: per fit)",
                      array_api, repeats=3),
}  # fmt: skip


# ----------------------------------------------------------------- reports


def fmt_seconds(seconds):
    """A duration with three significant digits and a unit."""
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale or unit == "µs":
            return f"{seconds / scale:.3g} {unit}"


def fmt_number(x):
    """Three significant digits, whole numbers from 1,000 on."""
    return f"{x:,.0f}" if x >= 1000 else f"{x:.3g}"


def fmt_mib(n_bytes):
    """A byte count in MiB, or n/a."""
    return "n/a" if n_bytes is None else f"{n_bytes / 2**20:.1f} MiB"


def time_cell(times):
    """``minimum (median)`` of a contender's times."""
    return f"{fmt_seconds(min(times))} ({fmt_seconds(statistics.median(times))})"


def markdown_table(headers, rows):
    """``rows`` (lists of text) under ``headers`` as a Markdown table."""
    return "\n".join(map(table_row, [headers, ["---"] * len(headers), *rows]))


def table_row(cells):
    """One line of a Markdown table."""
    return "| " + " | ".join(map(str, cells)) + " |"


def run_case(name, args):
    """Time (and measure) every setup of case ``name``; print its table."""
    case = CASES[name]
    setups = case.build(args.quick)
    names = list(dict.fromkeys(n for s in setups for n in s.contenders))
    ratio_names = list(dict.fromkeys(r for s in setups for r in s.ratios))
    headers = ["setup", *(f"{n} per {case.unit}" for n in names)]
    headers += [f"{a} / {b}" for a, b in ratio_names]
    if args.memory:
        headers += [f"{n} peak (traced / RSS)" for n in names]
    headers.append("check")
    rows, timings = [], []
    repeats = args.repeat or case.repeats
    for index, setup in enumerate(setups):
        times, results = time_interleaved(setup, repeats, case.budget)
        timings.append(times)
        row = [setup.label]
        for n in names:
            row.append(time_cell(times[n]) if n in times else "")
        for a, b in ratio_names:
            cells = map(fmt_number, ratio(times, a, b))
            row.append("{} ({})".format(*cells) if (a, b) in setup.ratios else "")
        if args.memory:
            mem = measure_memory(name, index, setup, args)
            row += [
                f"{fmt_mib(mem[n]['traced'])} / {fmt_mib(mem[n]['rss'])}"
                if n in mem
                else ""
                for n in names
            ]
        row.append(setup.check(results) if setup.check else "")
        rows.append(row)
    print(f"\n## {name}: {case.title}\n\n{markdown_table(headers, rows)}")
    if case.summary:
        print("\n" + "\n".join(case.summary(setups, timings)))
    sys.stdout.flush()


def parse_args(argv=None):
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument(
        "cases", nargs="*", metavar="CASE", help="(all): " + ", ".join(CASES)
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes, to check they run"
    )
    parser.add_argument("--repeat", type=int, help="timed rounds (each case's own)")
    parser.add_argument(
        "--memory",
        action="store_true",
        help="also peak memory, each contender in a fresh process",
    )
    parser.add_argument(
        "--blas-threads",
        type=int,
        help="limit BLAS (and torch on the CPU) to N threads, for all",
    )
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument("--child", help=argparse.SUPPRESS)  # INDEX:CONTENDER
    args = parser.parse_args(argv)
    unknown = set(args.cases) - set(CASES)
    if unknown:
        parser.error(
            f"unknown case {', '.join(sorted(unknown))}; choose from {', '.join(CASES)}"
        )
    return args


def main(argv=None):
    """Run the chosen cases (or one memory measurement, as a child process)."""
    args = parse_args(argv)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    warnings.filterwarnings("ignore", message="Got `batch_size`")
    warnings.filterwarnings("ignore", message="BPClassifier predicts only one class")
    limits = (
        nullcontext()
        if args.blas_threads is None
        else threadpool_limits(args.blas_threads, "blas")
    )
    if args.blas_threads is not None and importlib.util.find_spec("torch"):
        import torch  # its own thread pool, which threadpoolctl does not limit

        torch.set_num_threads(args.blas_threads)
    with limits:
        if args.child:
            index, name = args.child.split(":")
            setup = CASES[args.cases[0]].build(args.quick)[int(index)]
            print(json.dumps(peak_memory(setup.contenders[name])))
            return
        if args.list:
            for name, case in CASES.items():
                print(f"{name}: {case.title}")
            return
        print(machine_line())
        print(
            "Times: minimum over interleaved rounds (median); ratios: of the "
            "minimums (median of the per-round ratios)."
        )
        started = time.perf_counter()
        for name in args.cases or CASES:
            run_case(name, args)
        elapsed = time.perf_counter() - started
        print(f"\n({elapsed:.0f} s; load average now {load_average()})")


if __name__ == "__main__":
    main()
