"""The BLAS thread pools skbp adjusts, found once per process with threadpoolctl."""

import functools
from contextlib import nullcontext
from pathlib import Path

import scipy
from threadpoolctl import ThreadpoolController


@functools.cache
def controller():
    """The process's threadpool controller (inspecting the libraries is slow)."""
    return ThreadpoolController()


def blas_threads():
    """Threads BLAS may use now (respects ``threadpool_limits`` and joblib's caps)."""
    blas = controller().select(user_api="blas").lib_controllers
    return max([1] + [lib.num_threads for lib in blas])


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
    paths = [
        lib.filepath
        for lib in controller().select(user_api="blas").lib_controllers
        if any(Path(lib.filepath).resolve().is_relative_to(root) for root in roots)
    ]
    if not paths:
        return nullcontext()
    return controller().select(filepath=paths).limit(limits=1)
