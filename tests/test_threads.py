"""The BLAS thread pools skbp adjusts."""

import os
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


# Run in a fresh process, which forks: the child reports through its exit code.
_FORK_WHILE_HELD = """
import os
import sys
import threading
import time

import threadpoolctl
from sklearn.datasets import load_iris

from skbp import BPClassifier, _threads

X, y = load_iris(return_X_y=True)


def blas_counts():
    return [i["num_threads"] for i in threadpoolctl.threadpool_info()
            if i["user_api"] == "blas"]


def child():
    if blas_counts() != before:
        return 2  # still held at 1 thread, although no thread of ours holds it
    BPClassifier(
        (3,), gradient="numerical", solver="sgd", batch_size=50, max_iter=2,
        random_state=0,
    ).fit(X, y)
    return 0 if blas_counts() == before else 3


def run_child():
    code = 1
    try:
        code = child()
    finally:
        os._exit(code)


def fork_and_wait(forked=None, timeout=120):
    pid = os.fork()
    if pid == 0:
        run_child()
    if forked is not None:
        forked.set()
    return fork_status(pid, timeout)


def fork_status(pid, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return "hung"


def while_another_thread(hold, seconds=60):
    # Fork while another thread is inside ``hold()`` (until the fork, or
    # ``seconds`` if the fork waits for it to leave).
    inside, forked = threading.Event(), threading.Event()

    def holder():
        with hold():
            inside.set()
            forked.wait(seconds)

    thread = threading.Thread(target=holder)
    thread.start()
    inside.wait()
    result = fork_and_wait(forked)
    thread.join()
    return result


before = blas_counts()
results = {
    "_LOCK held": while_another_thread(lambda: _threads._LOCK, seconds=1),
    "single_threaded_blas held": while_another_thread(_threads.single_threaded_blas),
    "single_threaded_scipy_blas held": while_another_thread(
        _threads.single_threaded_scipy_blas
    ),
}
with _threads.single_threaded_blas():
    results["single_threaded_blas held by the forking thread"] = fork_and_wait()


def leave_in_child():
    # The child leaves the context entered before the fork, then fits.
    with _threads.single_threaded_blas():
        pid = os.fork()
    if pid == 0:
        run_child()
    return fork_status(pid)


results["single_threaded_blas left in the child"] = leave_in_child()
if set(results.values()) != {0}:
    sys.exit(f"child outcomes (0 = fit done, counts {before} restored): {results}")
"""


def test_a_child_forked_while_blas_is_held_fits_at_the_original_thread_counts():
    """A fork inherits neither skbp's lock held nor BLAS held at 1 thread.

    Before the at-fork reset, the child of a fork taken while another thread
    held the lock blocked forever in its first numerical fit, a child forked
    inside ``single_threaded_blas`` kept BLAS at 1 thread for good, and one
    leaving a context entered before the fork raised a KeyError.
    """
    if not hasattr(os, "fork"):
        pytest.skip("no os.fork on this platform")
    result = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", _FORK_WHILE_HELD],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
