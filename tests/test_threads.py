"""The BLAS thread pools skbp adjusts."""

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
