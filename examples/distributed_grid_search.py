"""
Grid search on a Dask cluster
=============================

Numerical-gradient grid searches are exactly the work that outgrows one
machine. scikit-learn parallelises :class:`~sklearn.model_selection.GridSearchCV`
through joblib, and joblib's ``"dask"`` backend sends each fit to the workers
of a Dask cluster instead of local processes, with no change to the search
itself.

With no arguments this script starts a :class:`dask.distributed.LocalCluster`
on this machine (loopback only, 127.0.0.1); ``--scheduler tcp://host:port``
connects to an existing cluster instead. It runs a backprop-vs-numerical grid
over :class:`~skbp.BPClassifier` on the digits on the cluster, then the same
grid with the local joblib backend (loky), and prints the cluster's dashboard
address, the grid table and both wall times. The two runs score every
candidate identically: where a fit runs does not change what it computes.

Needs the ``distributed`` extra: ``pip install -e ".[distributed]"``. The
defaults take about 20 s on an idle 2-core machine.
"""

# %%
# Settings
# --------
# The arguments let a test shrink the work. Workers started by a
# ``LocalCluster`` are separate processes (``multiprocessing`` "spawn"), which
# re-import this file: hence the ``if __name__ == "__main__"`` guard at the end.

import argparse
import importlib.util
import time
import warnings

import joblib
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skbp import BPClassifier


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.strip().partition("\n")[0])
    parser.add_argument(
        "--scheduler",
        default=None,
        help="address of an existing scheduler, e.g. tcp://10.0.0.5:8786 "
        "(default: start a LocalCluster on 127.0.0.1)",
    )
    parser.add_argument(
        "--n-workers", type=int, default=2, help="LocalCluster workers (2)"
    )
    parser.add_argument(
        "--n-samples", type=int, default=None, help="use the first N digits (all)"
    )
    parser.add_argument("--cv", type=int, default=3, help="number of folds (3)")
    parser.add_argument("--epochs", type=int, default=3, help="max_iter (3)")
    parser.add_argument(
        "--hidden-sizes",
        type=int,
        nargs="+",
        default=[10],
        help="hidden layer sizes to search (10)",
    )
    parser.add_argument(
        "--learning-rates",
        type=float,
        nargs="+",
        default=[0.1, 1.0],
        help="learning_rate_init values to search (0.1 1.0)",
    )
    parser.add_argument(
        "--skip-local",
        action="store_true",
        help="do not repeat the grid with the local joblib backend",
    )
    return parser.parse_args(argv)


# %%
# The search
# ----------
# An ordinary ``GridSearchCV`` over a ``Pipeline(StandardScaler, BPClassifier)``
# with ``n_jobs=-1``: every fit may run in
# parallel, on as many workers as the active joblib backend offers. Fixed
# folds and ``random_state`` make each candidate's fits deterministic.


def make_search(args):
    """The grid search: gradient method x hidden size x learning rate."""
    pipe = make_pipeline(
        StandardScaler(),
        BPClassifier(
            solver="sgd",  # plain SGD, as the reference experiment
            momentum=0.0,
            alpha=0.0,
            batch_size=32,
            max_iter=args.epochs,
            n_iter_no_change=np.inf,  # a fixed number of epochs, no early stop
            random_state=0,
        ),
    )
    param_grid = {
        "bpclassifier__gradient": ["backprop", "numerical"],
        "bpclassifier__hidden_layer_sizes": [(h,) for h in args.hidden_sizes],
        "bpclassifier__learning_rate_init": args.learning_rates,
    }
    return GridSearchCV(
        pipe,
        param_grid,
        cv=StratifiedKFold(n_splits=args.cv, shuffle=True, random_state=0),
        n_jobs=-1,
    )


def count(n, noun):
    """``n`` and ``noun``, plural unless ``n`` is 1."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


def timed_fit(search, X, y):
    """Fit ``search``; return its wall time in seconds."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        # A short, fixed number of epochs on purpose: every fit stops at
        # max_iter, which a ConvergenceWarning would report once per fit.
        # scikit-learn passes these filters on to the workers with each fit.
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X, y)
    return time.perf_counter() - start


def print_table(search):
    """Print ``mean_fit_time`` and ``mean_test_score`` per candidate, best first."""
    res = search.cv_results_
    header = (
        f"{'rank':>4}  {'gradient':<9}  {'hidden':>6}  {'lr':>5}  "
        f"{'mean_test_score':>15}  {'mean_fit_time (s)':>17}"
    )
    print(header)
    print("-" * len(header))
    gradients = res["param_bpclassifier__gradient"].astype(str)
    for i in np.lexsort((gradients, res["rank_test_score"])):
        params = {
            key.removeprefix("bpclassifier__"): value
            for key, value in res["params"][i].items()
        }
        print(
            f"{res['rank_test_score'][i]:>4}  {params['gradient']:<9}  "
            f"{str(params['hidden_layer_sizes']):>6}  "
            f"{params['learning_rate_init']:>5g}  {res['mean_test_score'][i]:>15.4f}  "
            f"{res['mean_fit_time'][i]:>17.4f}"
        )


# %%
# Run on the cluster, then locally
# --------------------------------
# ``Client`` makes itself the default client, which the ``"dask"`` joblib
# backend uses. The cluster is closed when the ``with`` block ends.


def main(argv=None):
    args = parse_args(argv)
    from dask.distributed import Client, LocalCluster

    X, y = load_digits(return_X_y=True)
    X, y = X[: args.n_samples], y[: args.n_samples]

    if args.scheduler is None:
        # Loopback only: the scheduler, the workers and the dashboard listen on
        # 127.0.0.1 and are unreachable from other machines.
        cluster = LocalCluster(
            n_workers=args.n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        )
        where = f"a LocalCluster of {count(args.n_workers, 'worker')} on 127.0.0.1"
    else:
        cluster = None
        where = f"the cluster at {args.scheduler}"

    try:
        with Client(cluster or args.scheduler, timeout="30s") as client:
            n_threads = sum(client.nthreads().values())
            threads = count(n_threads, "worker thread")
            print(f"connected to {where}: {threads}")
            if importlib.util.find_spec("bokeh") is None:
                print("dashboard: not served (pip install bokeh)")
            else:
                print(f"dashboard: {client.dashboard_link}")
            print(
                f"digits: {X.shape[0]} samples, {X.shape[1]} features, "
                f"{args.cv}-fold CV"
            )
            on_dask = make_search(args)
            with joblib.parallel_backend("dask"):
                dask_time = timed_fit(on_dask, X, y)
    finally:
        if cluster is not None:
            cluster.close(timeout=30)

    n_fits = len(on_dask.cv_results_["params"]) * args.cv
    print()
    print(f"GridSearchCV on Dask: {n_fits} fits in {dask_time:.1f} s")
    print()
    print_table(on_dask)
    print()
    print(f"best_params_: {on_dask.best_params_}")

    # %%
    # The same grid with the local joblib backend (loky processes on this
    # machine's cores). The scores must match the cluster's exactly.

    if not args.skip_local:
        local = make_search(args)
        local_time = timed_fit(local, X, y)
        same = all(
            np.array_equal(on_dask.cv_results_[key], local.cv_results_[key])
            for key in on_dask.cv_results_
            if key.startswith("split") or key in ("mean_test_score", "rank_test_score")
        )
        print()
        rows = [
            (f"dask ({threads})", dask_time),
            (f"loky ({joblib.cpu_count()} local cores)", local_time),
        ]
        print(f"{'joblib backend':<28}  {'wall time (s)':>13}")
        for label, seconds in rows:
            print(f"{label:<28}  {seconds:>13.1f}")
        print()
        print(f"test scores identical on both backends: {'yes' if same else 'NO'}")
        if not same:
            raise SystemExit("the two backends scored the grid differently")


if __name__ == "__main__":
    main()
