"""The BLAS thread pools skbp adjusts, found once per process with threadpoolctl.

A BLAS thread count is process-wide state, and fits may run in several
threads at once (``cross_validate`` under joblib's "threading" backend, or
the caller's own threads). Each context here therefore counts its holders
per library under one lock: the first to enter saves the library's thread
count and sets it to 1, the last to leave restores it. Two threads that
each saved and restored the count themselves would interleave their
restores and leave the library at 1 thread for the rest of the process.

A fork copies this state but none of the holders, which stay in the parent:
the child of a fork taken while a fit held BLAS at 1 thread restores every
library it holds and starts with a fresh lock (see ``_reset_in_child``).
"""

import functools
import os
import threading
from contextlib import contextmanager
from pathlib import Path

import scipy
from threadpoolctl import ThreadpoolController


@functools.cache
def controller():
    """The process's threadpool controller (inspecting the libraries is slow)."""
    return ThreadpoolController()


_LOCK = threading.Lock()
# filepath -> [number of holders, thread count before the first one entered].
_HELD = {}


def _lock_for_fork():
    """Before a fork: wait until no thread is changing ``_HELD`` and the libraries."""
    _LOCK.acquire()


def _unlock_after_fork_in_parent():
    """After a fork, in the parent: let its threads change ``_HELD`` again."""
    _LOCK.release()


def _reset_in_child():
    """After a fork, in the child: no holder exists here, so none holds anything.

    Every library a holder had set to 1 thread gets back the thread count
    saved before the first holder entered, and the lock (copied acquired by
    ``_lock_for_fork``) is replaced by a fresh one.
    """
    global _LOCK
    _LOCK = threading.Lock()
    if _HELD:
        libs = {lib.filepath: lib for lib in _blas_libs()}
        for filepath, (_, n_threads) in _HELD.items():
            _set_threads(libs[filepath], n_threads)
        _HELD.clear()


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(
        before=_lock_for_fork,
        after_in_parent=_unlock_after_fork_in_parent,
        after_in_child=_reset_in_child,
    )


def _blas_libs():
    return controller().select(user_api="blas").lib_controllers


def _set_threads(lib, n_threads):
    """Set a library's thread count from whichever thread calls.

    threadpoolctl >= 3.7 lets only one "controlling" thread (the first to
    set a limit, while it lives) change an OpenBLAS with its own thread pool
    and silently ignores the others: a joblib worker thread that limited BLAS
    would stay the controller, and another thread's restore would be lost.
    The counting in ``_single_threaded`` already serialises skbp's changes.
    """
    getattr(lib, "_real_set_num_threads", lib.set_num_threads)(n_threads)


def blas_threads():
    """Threads BLAS may use (respects ``threadpool_limits`` and joblib's caps).

    A library that skbp itself holds at 1 thread for another fit counts with
    the thread count it had before.
    """
    with _LOCK:
        return max(
            [1]
            + [
                _HELD[lib.filepath][1] if lib.filepath in _HELD else lib.num_threads
                for lib in _blas_libs()
            ]
        )


@contextmanager
def _single_threaded(libs):
    """Hold ``libs`` at 1 thread, counted with every other holder (see module).

    Left in a forked child (the fork taken inside), it changes nothing: the
    child's reset has already restored the libraries, and its counts belong
    to the child's own holders.
    """
    pid = os.getpid()
    with _LOCK:
        for lib in libs:
            entry = _HELD.get(lib.filepath)
            if entry is None:
                entry = _HELD[lib.filepath] = [0, lib.num_threads]
                _set_threads(lib, 1)
            entry[0] += 1
    try:
        yield
    finally:
        if os.getpid() == pid:
            _release(libs)


def _release(libs):
    """One holder of ``libs`` leaves; the last restores their thread counts."""
    with _LOCK:
        for lib in libs:
            entry = _HELD[lib.filepath]
            entry[0] -= 1
            if entry[0] == 0:
                del _HELD[lib.filepath]
                _set_threads(lib, entry[1])


def single_threaded_blas():
    """Context in which every BLAS library of the process uses 1 thread."""
    return _single_threaded(_blas_libs())


def single_threaded_scipy_blas():
    """Context in which a BLAS shipped inside scipy (apart from numpy's) uses 1 thread.

    The numpy and scipy wheels each bundle their own OpenBLAS. Code that
    alternates between the two, like scipy's L-BFGS-B between numpy's matrix
    products, leaves the idle threads of one library spinning while the other
    computes: on a 2-core machine every call then waits for a core (an
    L-BFGS fit on digits ran 4x slower). L-BFGS-B's vector operations gain
    nothing from threads. Nothing is limited when scipy shares numpy's BLAS.
    """
    scipy_dir = Path(scipy.__file__).resolve().parent
    roots = (scipy_dir, scipy_dir.with_name("scipy.libs"))
    libs = [
        lib
        for lib in _blas_libs()
        if any(Path(lib.filepath).resolve().is_relative_to(root) for root in roots)
    ]
    return _single_threaded(libs)
