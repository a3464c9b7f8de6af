"""Shared helpers of the benchmark scripts: machine report, timing, data, baselines.

Every script measures its contenders side by side in one process run,
interleaving their repetitions round by round (the machines are shared and
noisy), and reports the minimum of the repeats with the median beside it. A
ratio is the ratio of the two minimums, with the median of the per-round
ratios (each pairing two runs made close together in time) beside it.
"""

import gc
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import scipy
import sklearn
from sklearn.datasets import load_digits, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from threadpoolctl import threadpool_info, threadpool_limits

import skbp
from skbp import BPClassifier

ROOT = Path(__file__).resolve().parents[1]

# The reference experiment of DESIGN.md: digits 64-50-10, batch 100, SGD 0.1,
# 80/20 split.
REFERENCE = {"hidden": 50, "batch_size": 100, "learning_rate": 0.1, "test_size": 0.2}

TIMING_NOTE = (
    "Times: minimum of {repeats} interleaved repeats (median in parentheses). "
    "Ratios: of the minimums (median of the per-round ratios in parentheses)."
)


# ---------------------------------------------------------------- reporting


def cpu_model():
    """Return the processor's model name as the kernel reports it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_revision():
    """Return the repository's short commit, noting uncommitted changes in skbp/."""
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "skbp"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return rev + (" (skbp/ has uncommitted changes)" if dirty else "")


def numpy_simd():
    """numpy's SIMD extensions found on this CPU (as ``numpy.show_runtime()``)."""
    try:
        from numpy._core import _multiarray_umath as umath
    except ImportError:  # numpy < 2
        from numpy.core import _multiarray_umath as umath
    found = [
        name
        for name in umath.__cpu_dispatch__
        if umath.__cpu_features__.get(name, False)
    ]
    return found or ["baseline " + " ".join(umath.__cpu_baseline__)]


def machine_line():
    """One line: CPU model, cores, numpy's SIMD found, each BLAS and its threads.

    Every benchmark prints it first: speed ratios depend on the CPU (numpy
    vectorises float64 ``exp`` only with AVX-512, for one), so each figure
    is quoted with the machine it comes from.
    """
    blas = [
        f"{lib.get('internal_api')} {lib.get('version')} "
        f"{lib.get('architecture')} {lib.get('num_threads')} threads"
        for lib in threadpool_info()
        if lib.get("user_api") == "blas"
    ]
    return (
        f"Machine: {cpu_model()}, {os.cpu_count()} cores, numpy SIMD "
        f"{' '.join(numpy_simd())}, BLAS {'; '.join(blas) or 'none found'}"
    )


def machine_lines():
    """Lines describing the machine, the versions and the BLAS thread pools."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",) * 3
    lines = [
        machine_line(),
        f"Load average {' '.join(f'{x:.2f}' for x in load)}",
        f"Python {platform.python_version()}, numpy {np.__version__}, "
        f"scipy {scipy.__version__}, scikit-learn {sklearn.__version__}, "
        f"skbp {skbp.__version__} at commit {git_revision()}",
    ]
    env = {
        k: v
        for k, v in os.environ.items()
        if k.startswith(("OPENBLAS_", "OMP_", "MKL_", "GOTO", "BLIS_"))
    }
    lines.append(
        "Environment: "
        + (", ".join(f"{k}={v}" for k, v in sorted(env.items())) or "no BLAS variable")
    )
    for lib in threadpool_info():
        lines.append(
            "threadpoolctl: "
            + ", ".join(
                f"{key}={lib.get(key)}"
                for key in (
                    "user_api",
                    "internal_api",
                    "version",
                    "num_threads",
                    "architecture",
                    "threading_layer",
                )
                if lib.get(key) is not None
            )
            + f", {Path(lib['filepath']).name}"
        )
    return lines


def print_header(title, args, repeats=None):
    """Print the title, the command, the date, the machine and the timing rule."""
    print(machine_line())
    print(f"\n# {title}\n")
    command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
    print(f"Command: python benchmarks/{command}")
    print(f"Date: {datetime.now().isoformat(timespec='seconds')}")
    for line in machine_lines():
        print(line)
    if repeats is not None:
        print(TIMING_NOTE.format(repeats=repeats))
    print(flush=True)


def markdown_table(headers, rows):
    """Return ``rows`` as a Markdown table (cells already formatted as text)."""
    cells = [[str(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row):
        return (
            "| "
            + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
            + " |"
        )

    sep = "| " + " | ".join("-" * w for w in widths) + " |"
    return "\n".join([line(cells[0]), sep, *(line(r) for r in cells[1:])])


def fmt_seconds(seconds):
    """Format a duration with a unit that keeps three significant digits."""
    if seconds >= 1:
        return f"{seconds:.3g} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def fmt_mib(n_bytes):
    """Format a byte count in MiB."""
    return f"{n_bytes / 2**20:.1f} MiB"


def target_verdict(value, limit, *, at_most=True):
    """Return ``"met"`` or ``"NOT met"`` for ``value <= limit`` (or ``>=``)."""
    ok = value <= limit if at_most else value >= limit
    return "met" if ok else "NOT met"


# ------------------------------------------------------------------- timing


@dataclass
class Timing:
    """The wall-clock times of one contender, and the result of its last run."""

    name: str
    times: list = field(default_factory=list)
    result: object = None
    scale: float = 1.0  # divide each time by this (e.g. the number of steps)

    @property
    def per_unit(self):
        """Times divided by ``scale``."""
        return [t / self.scale for t in self.times]

    @property
    def min(self):
        """Minimum time per unit."""
        return min(self.per_unit)

    @property
    def median(self):
        """Median time per unit."""
        return statistics.median(self.per_unit)

    def cell(self):
        """``min (median)``, formatted."""
        return f"{fmt_seconds(self.min)} ({fmt_seconds(self.median)})"


def time_interleaved(contenders, repeats, *, warmup=1, scales=None, budget=None):
    """Time each callable ``repeats`` times, one run of each per round.

    Parameters
    ----------
    contenders : dict of str to callable
        Callables taking no argument; each one's last return value is kept.
    repeats : int
        Rounds. The order of the contenders rotates from round to round so
        that none always runs first (or right after the same one).
    warmup : int
        Untimed runs of each contender first (imports, thread pools, caches).
    scales : dict of str to float, optional
        Units of work per run (steps, epochs): times are reported per unit.
    budget : float, optional
        Seconds after which no new round starts (at least one round runs),
        for contenders whose cost varies by orders of magnitude with size.

    Returns
    -------
    dict of str to Timing
    """
    scales = scales or {}
    timings = {name: Timing(name, scale=scales.get(name, 1.0)) for name in contenders}
    names = list(contenders)
    for _ in range(warmup):
        for name in names:
            timings[name].result = contenders[name]()
    started = time.perf_counter()
    for r in range(repeats):
        if r and budget is not None and time.perf_counter() - started > budget:
            break
        k = r % len(names)
        for name in names[k:] + names[:k]:
            gc.collect()
            start = time.perf_counter()
            result = contenders[name]()
            timings[name].times.append(time.perf_counter() - start)
            timings[name].result = result
    return timings


def ratio(a, b):
    """Return ``(min(a)/min(b), median of the per-round ratios a_i/b_i)``."""
    per_round = [x / y for x, y in zip(a.per_unit, b.per_unit, strict=True)]
    return a.min / b.min, statistics.median(per_round)


def fmt_ratio(a, b):
    """``r (median r_i)`` for ``ratio(a, b)``."""
    return "{} ({})".format(*(fmt_number(x) for x in ratio(a, b)))


def fmt_number(x):
    """Three decimals below 10, one below 100, none above."""
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.1f}" if x >= 10 else f"{x:.3f}"


def add_blas_threads_arg(parser):
    """Add ``--blas-threads``: one BLAS thread limit applied to every contender."""
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="limit BLAS to N threads for every contender alike (default: as is)",
    )


def blas_limit(n_threads):
    """Context limiting BLAS to ``n_threads`` (None: leave the thread pools alone)."""
    if n_threads is None:
        return nullcontext()
    return threadpool_limits(limits=n_threads, user_api="blas")


def quiet():
    """Silence the warnings that deliberately short benchmark fits raise."""
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    warnings.filterwarnings("ignore", message="Got `batch_size` less than 1")


# --------------------------------------------------------------------- data


def digits_split(dtype=np.float64, n_samples=None, seed=0):
    """Digits as loaded (pixels 0-16), the first ``n_samples`` of them, 80/20 split."""
    X, y = load_digits(return_X_y=True)
    X, y = X[:n_samples].astype(dtype), y[:n_samples]
    return train_test_split(
        X, y, test_size=REFERENCE["test_size"], random_state=seed, stratify=None
    )


def mnist_like(n_samples, n_test, n_features=784, n_informative=50, seed=0):
    """``make_classification`` data of MNIST's size: ``n_samples`` to train on.

    Returns float64 ``X_train, X_test, y_train, y_test``; the features are
    already centred and of unit scale (noise is N(0, 1), the informative
    features are Gaussian clusters at +-1 per dimension), so they are not
    rescaled.
    """
    n_informative = min(n_informative, n_features)
    X, y = make_classification(
        n_samples + n_test,
        n_features,
        n_informative=n_informative,
        n_redundant=0,
        n_classes=10,
        random_state=seed,
    )
    X = np.ascontiguousarray(X, dtype=np.float64)
    return X[:n_samples], X[n_samples:], y[:n_samples], y[n_samples:]


# ---------------------------------------------------------------- baselines


# What every baseline is configured with, so that BPClassifier and MLPClassifier
# train identically and the figures do not depend on either's defaults:
# logistic units, plain SGD, no L2, no momentum, constant rate, exactly
# max_iter epochs of shuffled batches.
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


def _plain_sgd(estimator, hidden, learning_rate_init, batch_size, max_iter, seed, kw):
    return estimator(
        (hidden,),
        learning_rate_init=learning_rate_init,
        batch_size=batch_size,
        max_iter=max_iter,
        random_state=seed,
        **{**PLAIN_SGD, **kw},
    )


def bp_classifier(hidden, *, learning_rate_init, batch_size, max_iter, seed, **kw):
    """A ``BPClassifier`` that trains exactly ``max_iter`` epochs (no early stop).

    Configured as ``mlp_classifier`` (``PLAIN_SGD``), with backprop and the
    Glorot start passed too; ``kw`` overrides any of it.
    """
    kw = {"gradient": "backprop", "weight_init_std": None, **kw}
    return _plain_sgd(
        BPClassifier, hidden, learning_rate_init, batch_size, max_iter, seed, kw
    )


def mlp_classifier(hidden, *, learning_rate_init, batch_size, max_iter, seed, **kw):
    """An ``MLPClassifier`` configured as ``bp_classifier``: logistic units, plain SGD.

    No momentum, no L2 penalty, constant learning rate, exactly ``max_iter``
    epochs, shuffled batches from the same ``random_state``: with the same
    Glorot initialisation, ``BPClassifier`` and ``MLPClassifier`` then start
    from the same weights, see the same batches and end at the same weights
    up to rounding (``max_param_diff`` shows it).
    """
    return _plain_sgd(
        MLPClassifier, hidden, learning_rate_init, batch_size, max_iter, seed, kw
    )


def flat_params(clf):
    """Concatenate a fitted model's ``W1, b1, W2, b2, ...`` (skbp's layout)."""
    chunks = []
    for W, b in zip(clf.coefs_, clf.intercepts_, strict=True):
        chunks += [np.ravel(W), np.ravel(b)]
    return np.concatenate(chunks)


def max_param_diff(a, b):
    """Largest absolute difference between two fitted models' parameters."""
    return float(
        np.abs(flat_params(a).astype(np.float64) - flat_params(b)).max(initial=0)
    )


def steps_per_epoch(n_samples, batch_size):
    """Mini-batches per epoch (the last one may be partial)."""
    return -(-n_samples // min(batch_size, n_samples))


class GemmFloor:
    """The bare matrix products of SGD epochs of an ``n_in-hidden-n_out`` network.

    Per batch, exactly the five products of one backprop step and nothing
    else: ``Xb @ W1``, ``Z @ W2``, ``Z.T @ D2``, ``D2 @ W2.T``, ``Xb.T @ D1``,
    written with ``out=`` into buffers allocated once. ``Xb`` is a slice of
    contiguous rows (no gather of shuffled rows, no activation, no loss, no
    update). No implementation of the same epochs can be faster with the same
    BLAS, so it is the floor.
    """

    def __init__(self, X, n_hidden, n_out, batch_size, seed=0):
        rng = np.random.RandomState(seed)
        dtype = X.dtype
        n_in = X.shape[1]
        self.X = X
        self.batch_size = min(batch_size, X.shape[0])
        self.W1 = rng.standard_normal((n_in, n_hidden)).astype(dtype)
        self.W2 = rng.standard_normal((n_hidden, n_out)).astype(dtype)
        self.Z = np.empty((self.batch_size, n_hidden), dtype)
        self.A2 = np.empty((self.batch_size, n_out), dtype)
        self.D2 = rng.standard_normal((self.batch_size, n_out)).astype(dtype)
        self.D1 = np.empty((self.batch_size, n_hidden), dtype)
        self.dW1 = np.empty_like(self.W1)
        self.dW2 = np.empty_like(self.W2)

    def run(self, epochs=1):
        """Run the products of ``epochs`` epochs; return the number of batches."""
        n, bs = self.X.shape[0], self.batch_size
        W1, W2, W2T = self.W1, self.W2, self.W2.T
        n_batches = 0
        for _ in range(epochs):
            for start in range(0, n, bs):
                Xb = self.X[start : start + bs]
                m = Xb.shape[0]
                Z, A2, D2, D1 = self.Z[:m], self.A2[:m], self.D2[:m], self.D1[:m]
                np.matmul(Xb, W1, out=Z)
                np.matmul(Z, W2, out=A2)
                np.matmul(Z.T, D2, out=self.dW2)
                np.matmul(D2, W2T, out=D1)
                np.matmul(Xb.T, D1, out=self.dW1)
                n_batches += 1
        return n_batches


class GatherFloor:
    """The gather of each shuffled batch and the first layer's two products.

    Per epoch a fresh permutation of the rows; per batch, its rows gathered
    into a buffer (``X.take(rows, axis=0, out=...)``), then ``Xb @ W1`` and
    ``Xb.T @ D1``, the two products whose cost grows with the 784 inputs.
    Everything an SGD fit on wide data cannot avoid, and nothing else (no
    activation, no second layer, no loss, no update, no validation): the
    floor against which the MNIST-sized fit is measured (issue 12).
    """

    def __init__(self, X, n_hidden, batch_size, seed=0):
        rng = np.random.RandomState(seed)
        dtype = X.dtype
        self.X = X
        self.rng = rng
        self.batch_size = min(batch_size, X.shape[0])
        self.W1 = rng.standard_normal((X.shape[1], n_hidden)).astype(dtype)
        self.Xb = np.empty((self.batch_size, X.shape[1]), dtype)
        self.Z = np.empty((self.batch_size, n_hidden), dtype)
        self.D1 = rng.standard_normal((self.batch_size, n_hidden)).astype(dtype)
        self.dW1 = np.empty_like(self.W1)

    def run(self, epochs=1):
        """Run ``epochs`` epochs of gathers and products; return the batches."""
        n, bs, W1 = self.X.shape[0], self.batch_size, self.W1
        n_batches = 0
        for _ in range(epochs):
            order = self.rng.permutation(n)
            for start in range(0, n, bs):
                rows = order[start : start + bs]
                m = len(rows)
                Xb, Z, D1 = self.Xb[:m], self.Z[:m], self.D1[:m]
                self.X.take(rows, axis=0, out=Xb, mode="clip")
                np.matmul(Xb, W1, out=Z)
                np.matmul(Xb.T, D1, out=self.dW1)
                n_batches += 1
        return n_batches


class FusedLoop:
    """BPClassifier's SGD epochs as one hand-fused numpy loop: the least numpy work.

    ``GatherFloor``'s permutation, gather and first-layer products, plus
    everything else the same step must compute, each written once into
    preallocated arrays with no layer objects, validation, history or
    checks: the bias adds, the sigmoid as ``1/(1+exp(-x))``, the second
    layer, the softmax and its cross-entropy (the loss of each step), the
    softmax's and the sigmoid's gradients, the bias gradients (as
    matrix-vector products) and the plain SGD update ``g *= lr; p -= g``
    over one flat parameter array. Same start (Glorot uniform) and same
    batches as ``BPClassifier(random_state=seed)``; it ends at BP's
    parameters (``params``), so it bounds what a numpy implementation of
    the same fit can reach (issue 12). Not an estimator.
    """

    def __init__(self, X, y, n_hidden, batch_size, learning_rate, seed=0):
        self.X, self.seed, self.lr = X, seed, learning_rate
        self.classes, self.t = np.unique(y, return_inverse=True)
        self.n_hidden = n_hidden
        self.batch_size = min(batch_size, X.shape[0])

    def run(self, epochs=1):
        """Train ``epochs`` epochs from the initial weights; return the batches."""
        X, dtype, lr = self.X, self.X.dtype, self.lr
        (n, n_in), hidden, n_out = X.shape, self.n_hidden, len(self.classes)
        rng = np.random.RandomState(self.seed)
        chunks = []
        for fan_in, fan_out in ((n_in, hidden), (hidden, n_out)):
            bound = np.sqrt(2.0 / (fan_in + fan_out))
            chunks += [rng.uniform(-bound, bound, (fan_in, fan_out)).ravel()]
            chunks += [rng.uniform(-bound, bound, fan_out)]
        self.params = params = np.concatenate(chunks).astype(dtype)
        grads = np.empty_like(params)
        shapes = ((n_in, hidden), (hidden,), (hidden, n_out), (n_out,))
        bounds = np.cumsum([0, *(int(np.prod(shape)) for shape in shapes)])
        W1, b1, W2, b2 = (
            params[a:b].reshape(shape)
            for a, b, shape in zip(bounds[:-1], bounds[1:], shapes, strict=True)
        )
        dW1, db1, dW2, db2 = (
            grads[a:b].reshape(shape)
            for a, b, shape in zip(bounds[:-1], bounds[1:], shapes, strict=True)
        )
        bs = self.batch_size
        Xb, H, Z = (np.empty((bs, k), dtype) for k in (n_in, hidden, n_out))
        dH, D1 = np.empty((bs, hidden), dtype), np.empty((bs, hidden), dtype)
        ones, starts = np.ones(bs, dtype), np.arange(0, bs * n_out, n_out)
        order = np.arange(n)
        n_batches = 0
        with np.errstate(over="ignore", under="ignore"):
            for _ in range(epochs):
                rng.shuffle(order)
                for begin in range(0, n, bs):
                    idx = order[begin : begin + bs]
                    m = len(idx)
                    xb, h, z, dh, d1 = Xb[:m], H[:m], Z[:m], dH[:m], D1[:m]
                    X.take(idx, axis=0, out=xb, mode="clip")
                    flat_t = starts[:m] + self.t[idx]
                    np.matmul(xb, W1, out=h)
                    h += b1
                    np.negative(h, out=h)
                    np.exp(h, out=h)
                    h += 1.0
                    np.reciprocal(h, out=h)
                    np.matmul(h, W2, out=z)
                    z += b2
                    z -= z.max()
                    true_logit = z.ravel()[flat_t]
                    np.exp(z, out=z)
                    row_sum = np.add.reduce(z, axis=1, keepdims=True)
                    float(np.add.reduce(np.log(row_sum[:, 0]) - true_logit) / m)  # loss
                    z /= row_sum
                    z *= 1.0 / m
                    z.ravel()[flat_t] -= 1.0 / m
                    np.matmul(h.T, z, out=dW2)
                    np.matmul(ones[:m], z, out=db2)
                    np.matmul(z, W2.T, out=dh)
                    np.subtract(1.0, h, out=d1)  # the sigmoid's (1 - y) y dout
                    d1 *= h
                    d1 *= dh
                    np.matmul(xb.T, d1, out=dW1)
                    np.matmul(ones[:m], d1, out=db1)
                    grads *= lr
                    params -= grads
                    n_batches += 1
        return n_batches
