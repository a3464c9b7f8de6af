"""Time skbp's numpy path at two git revisions, interleaved in one process.

    python benchmarks/compare.py main                 # main against the working tree
    python benchmarks/compare.py 9735bd4 1d157b9 --rounds 25 --blas-threads 1
    python benchmarks/compare.py HEAD --quick         # tiny sizes: checks that it runs

For claims that a change does not slow the numpy path. The ``skbp/`` folder
of each revision (``git archive``; the working tree's is copied) goes into a
temporary directory as the packages ``skbp_a`` and ``skbp_b``, imported side
by side: skbp's modules import one another relatively (``skbp.onnx`` imports
``skbp`` by name, and is never imported here). Each case builds the same data
and model for A and B, and times them as ``run.py`` does: one untimed run
each, then one run of each per round, the order alternating. A time is the
minimum over the rounds (median); B / A is the ratio of the minimums (the
median of the per-round ratios), below 1 when B is faster. The last column
says how far B's result (fitted parameters, probabilities) is from A's.
"""

import argparse
import functools
import importlib
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import run  # benchmarks/run.py: the timing and reporting helpers
from run import BATCH, HIDDEN, LR, Setup
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------- packages


def git(*args):
    """``git args`` in the repository; its stdout as bytes, or exit saying why not."""
    proc = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True)
    if proc.returncode:
        sys.exit(
            f"git {' '.join(args)} failed: {proc.stderr.decode().strip()}\n"
            "Give a branch, tag or commit of this repository."
        )
    return proc.stdout


def extract(rev, folder, name):
    """Import ``skbp/`` at ``rev`` (None: the working tree) as ``folder/name``."""
    if rev is None:
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(ROOT / "skbp", folder / name, ignore=ignore)
    else:
        archive = io.BytesIO(git("archive", rev, "skbp"))
        with tarfile.open(fileobj=archive) as tar:
            tar.extractall(folder / f"{name}-archive", filter="data")
        (folder / f"{name}-archive" / "skbp").rename(folder / name)
    return importlib.import_module(name)


def describe(rev):
    """``rev`` and its short commit, or the working tree's commit."""
    if rev is None:
        return f"the working tree ({run.git_revision()})"
    return f"{rev} ({git('rev-parse', '--short', rev).decode().strip()})"


# ------------------------------------------------------------------- cases


def classifiers(packages, hidden=HIDDEN, **params):
    """Each package's ``BPClassifier``: ``run.PLAIN_SGD``, then ``params``."""
    return {
        name: run.plain_sgd(package.BPClassifier, hidden, **params)
        for name, package in packages.items()
    }


def fit_setup(label, models, X, y, per=1):
    """A row timing fresh fits of ``models`` on ``X, y``, ``per`` units a fit."""
    contenders = run.fits(models, X, y)
    return Setup(label, contenders, [("B", "A")], dict.fromkeys(models, per), check)


def check(results):
    """How far B's result (a fitted model, an array) is from A's."""
    a, b = (
        run.parameters(r) if hasattr(r, "coefs_") else r
        for r in (results["A"], results["B"])
    )
    return f"{np.abs(b - a).max():.1e}"


def epochs(packages, quick, solver, rate):
    """Digits 64-50-10, batches of 100, time per epoch of ``solver`` (10 epochs)."""
    X, _, y, _ = run.digits(n_rows=300 if quick else None)
    n_epochs = 1 if quick else 10
    models = classifiers(
        packages, solver=solver, learning_rate_init=rate, batch_size=BATCH,
        max_iter=n_epochs,
    )  # fmt: skip
    label = f"{solver}, rate {rate}, digits 64-{HIDDEN}-10, batch {BATCH}, per epoch"
    return fit_setup(label, models, X, y, n_epochs)


def lbfgs(packages, quick):
    """Digits 64-50-10, time per L-BFGS fit of 30 iterations."""
    X, _, y, _ = run.digits(n_rows=300 if quick else None)
    iterations = 3 if quick else 30
    models = classifiers(packages, solver="lbfgs", max_iter=iterations)
    label = f"lbfgs, digits 64-{HIDDEN}-10, per fit of {iterations} iterations"
    return fit_setup(label, models, X, y)


def numerical(packages, quick):
    """SGD on numerical gradients, 300 digits rows in batches of 100, per epoch."""
    X, _, y, _ = run.digits()
    X, y, hidden = X[:300], y[:300], 2 if quick else 10
    models = classifiers(
        packages, hidden, gradient="numerical", learning_rate_init=LR,
        batch_size=BATCH, max_iter=1,
    )  # fmt: skip
    label = (
        f"sgd on numerical gradients, {len(X)} digits rows, 64-{hidden}-10, "
        f"batch {BATCH}, per epoch"
    )
    return fit_setup(label, models, X, y)


def predict(packages, quick):
    """``predict_proba`` of 64-50-10 digits models on ~90k rows, per call."""
    X, X_test, y, _ = run.digits()
    models = classifiers(packages, learning_rate_init=LR, batch_size=BATCH, max_iter=1)
    fitted = {name: model.fit(X, y) for name, model in models.items()}
    rows = np.tile(np.concatenate([X, X_test]), (1 if quick else 50, 1))
    contenders = {
        name: (lambda model=model: model.predict_proba(rows))
        for name, model in fitted.items()
    }
    label = f"predict_proba, 64-{HIDDEN}-10, {len(rows):,} rows, per call"
    return Setup(label, contenders, [("B", "A")], check=check)


def tiny(packages, quick):
    """8-8-3 on 300 rows in batches of 10: per-step Python overhead, per step."""
    X, y = make_classification(300, 8, n_informative=4, n_classes=3, random_state=0)
    n_epochs = 1 if quick else 10
    models = classifiers(
        packages, 8, learning_rate_init=LR, batch_size=10, max_iter=n_epochs
    )
    steps = n_epochs * len(X) // 10
    label = f"sgd, rate {LR}, 8-8-3, {len(X)} rows, batch 10, per step"
    return fit_setup(label, models, X, y, steps)


CASES = (
    functools.partial(epochs, solver="sgd", rate=LR),
    functools.partial(epochs, solver="adam", rate=0.001),
    lbfgs,
    numerical,
    predict,
    tiny,
)


# ------------------------------------------------------------------ report


def compare(packages, rounds, quick):
    """Time every case; print its row: times, ratio and how far apart A and B end."""
    print(run.markdown_table(["case", "A", "B", "B / A", "max abs(B - A)"], []))
    for build in CASES:
        setup = build(packages, quick)
        times, results = run.time_interleaved(setup, rounds, budget=float("inf"))
        b_over_a = "{} ({})".format(*map(run.fmt_number, run.ratio(times, "B", "A")))
        cells = [run.time_cell(times["A"]), run.time_cell(times["B"]), b_over_a]
        row = [setup.label, *cells, setup.check(results)]
        print(run.table_row(row), flush=True)


def parse_args(argv=None):
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("rev_a", metavar="REV_A", help="the revision before")
    parser.add_argument(
        "rev_b", metavar="REV_B", nargs="?", help="the revision after (working tree)"
    )
    parser.add_argument("--rounds", type=int, default=20, help="timed rounds (20)")
    parser.add_argument("--blas-threads", type=int, help="limit BLAS to N threads")
    parser.add_argument("--quick", action="store_true", help="tiny, to check it runs")
    return parser.parse_args(argv)


def main(argv=None):
    """Extract both revisions, time every case, print the table."""
    args = parse_args(argv)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    warnings.filterwarnings("ignore", message="BPClassifier predicts only one class")
    limits = (
        nullcontext()
        if args.blas_threads is None
        else threadpool_limits(args.blas_threads, "blas")
    )
    revs = {"A": args.rev_a, "B": args.rev_b}
    with tempfile.TemporaryDirectory() as folder, limits:
        sys.path.insert(0, folder)
        packages = {
            name: extract(rev, Path(folder), f"skbp_{name.lower()}")
            for name, rev in revs.items()
        }
        code = "; ".join(f"{name}: skbp at {describe(r)}" for name, r in revs.items())
        print(run.machine_line(code, devices=False))
        print(
            f"\nTimes: minimum over {args.rounds} interleaved rounds (median); "
            "B / A: ratio of the minimums (median of the per-round ratios), "
            "below 1 when B is faster.\n"
        )
        started = time.perf_counter()
        compare(packages, args.rounds, args.quick)
    elapsed = time.perf_counter() - started
    print(f"\n({elapsed:.0f} s; load average now {run.load_average()})")


if __name__ == "__main__":
    main()
