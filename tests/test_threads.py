"""The BLAS thread pools skbp adjusts."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy

from skbp import _threads


def _blas_by_owner():
    owners = {}
    for lib in _threads.controller().select(user_api="blas").lib_controllers:
        path = Path(lib.filepath).resolve()
        for package in (np, scipy):
            root = Path(package.__file__).resolve().parent
            if path.is_relative_to(root) or path.is_relative_to(
                root.with_name(f"{package.__name__}.libs")
            ):
                owners[package.__name__] = lib
    return owners


def test_single_threaded_scipy_blas_limits_scipy_only_and_restores():
    owners = _blas_by_owner()
    if "scipy" not in owners:
        pytest.skip("scipy uses no BLAS of its own here")
    scipy_lib = owners["scipy"]
    before = scipy_lib.num_threads
    numpy_before = owners["numpy"].num_threads if "numpy" in owners else None
    with _threads.single_threaded_scipy_blas():
        assert scipy_lib.num_threads == 1
        if numpy_before is not None and owners["numpy"] is not scipy_lib:
            assert owners["numpy"].num_threads == numpy_before
    assert scipy_lib.num_threads == before


def test_blas_threads_follows_threadpool_limits():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        assert _threads.blas_threads() == 1
    assert _threads.blas_threads() >= 1


# Run in a fresh process: threadpoolctl lets only the first thread that sets
# an OpenBLAS limit (while it lives) change it later, so what earlier tests did
# in this process would decide what these scenarios can show.
_CONCURRENT_FITS = """
import sys
import threading

import joblib
import threadpoolctl
from sklearn.datasets import load_iris
from sklearn.model_selection import cross_validate

from skbp import BPClassifier, _threads

X, y = load_iris(return_X_y=True)


def counts():
    return [info["num_threads"] for info in threadpoolctl.threadpool_info()]


def run_concurrently(jobs):
    threads = [threading.Thread(target=job) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def overlap(hold):
    # A enters, B enters, A leaves, B leaves: the order that lost the count.
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def a():
        with hold():
            a_in.set()
            b_in.wait(10)
        a_out.set()

    def b():
        a_in.wait(10)
        with hold():
            b_in.set()
            a_out.wait(10)

    run_concurrently([a, b])


def numerical(seed):
    return lambda: BPClassifier(
        (3,), gradient="numerical", solver="sgd", batch_size=50, max_iter=2,
        random_state=seed,
    ).fit(X, y)


def lbfgs(seed):
    return lambda: BPClassifier(
        (5,), solver="lbfgs", max_iter=20, random_state=seed
    ).fit(X, y)


before = counts()
scenarios = {
    "overlapping numerical limits": lambda: overlap(_threads.single_threaded_blas),
    "overlapping L-BFGS limits": lambda: overlap(_threads.single_threaded_scipy_blas),
    "4 numerical fits": lambda: run_concurrently([numerical(s) for s in range(4)]),
    "2 lbfgs fits": lambda: run_concurrently([lbfgs(0), lbfgs(1)]),
    "2 lbfgs and a numerical fit": lambda: run_concurrently(
        [lbfgs(0), lbfgs(1), numerical(2)]
    ),
}
for round in range(5):
    for name, scenario in scenarios.items():
        scenario()
        if counts() != before:
            sys.exit(f"{name}, round {round}: {before} before, {counts()} after")
estimator = BPClassifier((3,), gradient="numerical", max_iter=2, random_state=0)
for round in range(3):
    with joblib.parallel_backend("threading", n_jobs=3):
        cross_validate(estimator, X, y, cv=3)
    if counts() != before:
        sys.exit(f"cross_validate, round {round}: {before} before, {counts()} after")
"""


def test_concurrent_fits_leave_blas_thread_counts_as_they_found_them():
    """threadpool_info() after concurrent numerical, L-BFGS and joblib fits."""
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", _CONCURRENT_FITS],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
