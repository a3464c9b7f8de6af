"""Grid searches on a Dask cluster score and fit exactly as local ones do.

A ``LocalCluster`` of two worker processes listening on 127.0.0.1 only; every
wait is bounded, and a watchdog ends the run with a traceback if the cluster
hangs. Deselect with ``pytest -m "not distributed"``.
"""

import faulthandler

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate
from test_examples import run_example

from skbp import BPClassifier

pytest.importorskip("distributed", reason="needs the 'distributed' extra")
import dask  # noqa: E402
from dask.distributed import Client, LocalCluster  # noqa: E402

pytestmark = pytest.mark.distributed

# Seconds before a hung cluster ends the test run with a traceback.
WATCHDOG_SECONDS = 180


SMALL_GRID = (
    *("--n-samples", "300", "--cv", "2", "--epochs", "1"),
    *("--hidden-sizes", "3", "--learning-rates", "0.5"),
)


def test_example_starts_a_local_cluster():
    # First in the file, before the module's cluster starts: fewer processes
    # compete for the cores. One worker keeps the start-up short.
    stdout = run_example("distributed_grid_search.py", "--n-workers", "1", *SMALL_GRID)
    assert "a LocalCluster of 1 worker on 127.0.0.1: 1 worker thread" in stdout
    assert "dashboard: " in stdout
    assert "GridSearchCV on Dask: 4 fits" in stdout
    assert "mean_test_score" in stdout and "mean_fit_time" in stdout
    assert "dask (1 worker thread)" in stdout and "loky (" in stdout
    assert "test scores identical on both backends: yes" in stdout


@pytest.fixture(scope="module")
def client():
    """A client of a two-worker LocalCluster on loopback, closed afterwards."""
    faulthandler.dump_traceback_later(WATCHDOG_SECONDS, exit=True)
    try:
        with (
            dask.config.set(
                {
                    "distributed.comm.timeouts.connect": "30s",
                    "distributed.comm.timeouts.tcp": "30s",
                }
            ),
            LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            Client(cluster, timeout="30s") as client,
        ):
            assert all(
                address.startswith("tcp://127.0.0.1:")
                for address in [cluster.scheduler_address, *client.nthreads()]
            )
            yield client
    finally:
        faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="module")
def digits_300_raw():
    X, y = load_digits(return_X_y=True)
    return X[:300], y[:300]


def small_search():
    return GridSearchCV(
        BPClassifier(
            (4,), batch_size=50, max_iter=2, n_iter_no_change=np.inf, random_state=0
        ),
        {"gradient": ["backprop", "numerical"], "learning_rate_init": [0.1, 0.5]},
        cv=StratifiedKFold(n_splits=2, shuffle=True, random_state=0),
        n_jobs=-1,
    )


def test_grid_search_on_dask_equals_local(client, digits_300_raw):
    X, y = digits_300_raw
    on_dask = small_search()
    with joblib.parallel_backend("dask"):
        on_dask.fit(X, y)
    local = small_search().set_params(n_jobs=1).fit(X, y)

    for key in ("params", "mean_test_score", "rank_test_score"):
        assert list(on_dask.cv_results_[key]) == list(local.cv_results_[key]), key
    for k in range(2):
        key = f"split{k}_test_score"
        np.testing.assert_array_equal(on_dask.cv_results_[key], local.cv_results_[key])
    assert on_dask.best_params_ == local.best_params_
    np.testing.assert_array_equal(
        on_dask.best_estimator_.predict(X), local.best_estimator_.predict(X)
    )
    np.testing.assert_array_equal(
        on_dask.best_estimator_.predict_proba(X),
        local.best_estimator_.predict_proba(X),
    )


def test_models_fitted_on_workers_equal_local_ones(client, digits_300_raw):
    """Estimators fitted in the worker processes come back and predict the same."""
    X, y = digits_300_raw
    cv = StratifiedKFold(n_splits=2, shuffle=True, random_state=0)
    clf = BPClassifier(
        (4,), gradient="numerical", max_iter=2, n_iter_no_change=np.inf, random_state=0
    )
    with joblib.parallel_backend("dask"):
        on_dask = cross_validate(clf, X, y, cv=cv, n_jobs=-1, return_estimator=True)
    local = cross_validate(clf, X, y, cv=cv, return_estimator=True)

    np.testing.assert_array_equal(on_dask["test_score"], local["test_score"])
    for remote_est, local_est in zip(
        on_dask["estimator"], local["estimator"], strict=True
    ):
        assert remote_est.loss_curve_ == local_est.loss_curve_
        np.testing.assert_array_equal(remote_est.predict(X), local_est.predict(X))
        np.testing.assert_array_equal(
            remote_est.predict_proba(X), local_est.predict_proba(X)
        )


def test_example_connects_to_a_scheduler(client):
    address = client.scheduler.address
    stdout = run_example(
        "distributed_grid_search.py",
        "--scheduler",
        address,
        "--skip-local",
        *SMALL_GRID,
    )
    assert f"the cluster at {address}: 2 worker threads" in stdout
    assert "GridSearchCV on Dask: 4 fits" in stdout
    assert "mean_test_score" in stdout and "best_params_" in stdout
    assert "loky" not in stdout
