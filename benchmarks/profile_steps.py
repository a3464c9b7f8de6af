"""Where the time goes: cProfile of a backprop epoch and of a numerical step.

Profiles, each printed as its top functions by own time ("tottime") and by
cumulative time:

1. one epoch of ``BPClassifier.fit`` in the reference configuration (digits,
   64-50-10, batch 100, SGD 0.1), and the same epoch of the identically
   configured ``MLPClassifier``;
2. one epoch of both on MNIST-sized data (``--mnist-samples`` rows of
   ``make_classification`` with 784 features, hidden 100, batch 200), where the
   matrix products dominate;
3. one numerical step, ``skbp.gradients.numerical_gradient`` at the
   reference configuration, and the reference loop's per-element step.

cProfile sees only the thread it runs in, and skbp's numerical gradient
spreads its chunks over a thread pool when BLAS may use several threads: the
numerical profiles therefore run with BLAS limited to one thread, so that
every chunk runs in the profiled thread (their unprofiled wall time, threaded
as usual, is printed beside them). Operators such as ``x @ W`` do not show up
as functions of their own: their time is the own time of the Python function
that applies them.
"""

import argparse
import cProfile
import pstats
import time

import numpy as np
from _common import (
    REFERENCE,
    add_blas_threads_arg,
    blas_limit,
    bp_classifier,
    digits_split,
    fmt_seconds,
    markdown_table,
    mlp_classifier,
    mnist_like,
    print_header,
    quiet,
)
from reference_loop import (
    TwoLayerNet,
    init_params,
    one_hot,
    params_from_flat,
    params_to_flat,
)
from threadpoolctl import threadpool_limits

from skbp.gradients import numerical_gradient
from skbp.network import Network


def parse_args(argv=None):
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.strip().partition("\n")[0])
    parser.add_argument("--top", type=int, default=15, help="functions listed (15)")
    parser.add_argument(
        "--epochs", type=int, default=1, help="epochs profiled per fit (1)"
    )
    parser.add_argument(
        "--n-samples", type=int, default=None, help="use the first N digits (all)"
    )
    parser.add_argument("--hidden", type=int, default=REFERENCE["hidden"])
    parser.add_argument(
        "--mnist-samples",
        type=int,
        default=10_000,
        help="rows of the MNIST-sized epoch (10000; 0 skips it)",
    )
    parser.add_argument(
        "--mnist-features", type=int, default=784, help="its features (784)"
    )
    parser.add_argument(
        "--no-reference",
        action="store_true",
        help="skip the reference loop's numerical step (about 1.5 s)",
    )
    parser.add_argument("--seed", type=int, default=0)
    add_blas_threads_arg(parser)
    return parser.parse_args(argv)


def profile(title, func, top):
    """Run ``func`` under cProfile; print its wall time and top functions."""
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    func()
    profiler.disable()
    seconds = time.perf_counter() - start
    print(f"## {title}\n\nProfiled wall time: {fmt_seconds(seconds)}\n")
    stats = pstats.Stats(profiler).strip_dirs().stats
    total = sum(own for _, _, own, _, _ in stats.values()) or 1.0
    for index, what in ((2, "own time"), (3, "cumulative time")):
        ranked = sorted(stats.items(), key=lambda item: item[1][index], reverse=True)
        rows = [
            [
                str(calls) if calls == primitive else f"{calls}/{primitive}",
                f"{own * 1e3:.2f}",
                f"{100 * own / total:.1f}",
                f"{cumulative * 1e3:.2f}",
                pstats.func_std_string(function),
            ]
            for function, (primitive, calls, own, cumulative, _) in ranked[:top]
        ]
        headers = ["calls", "own ms", "own %", "cumulative ms", "function"]
        print(f"Top {top} by {what}:\n")
        print(markdown_table(headers, rows))
        print()


def wall_time(func, repeats=3):
    """Minimum unprofiled wall time of ``func`` over ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def fits(X, y, hidden, batch_size, learning_rate, args):
    """BP and MLP ``fit`` callables for ``args.epochs`` epochs."""
    config = {
        "learning_rate_init": learning_rate,
        "batch_size": batch_size,
        "max_iter": args.epochs,
        "seed": args.seed,
    }
    return {
        "BPClassifier": lambda: bp_classifier(hidden, **config).fit(X, y),
        "MLPClassifier": lambda: mlp_classifier(hidden, **config).fit(X, y),
    }


def main(argv=None):
    """Print the profiles."""
    args = parse_args(argv)
    quiet()
    print_header("Profiles of a backprop epoch and a numerical step", args)
    X_train, _, y_train, _ = digits_split(n_samples=args.n_samples)
    epochs = f"{args.epochs} epoch" + ("s" if args.epochs > 1 else "")

    with blas_limit(args.blas_threads):
        reference = fits(
            X_train,
            y_train,
            args.hidden,
            REFERENCE["batch_size"],
            REFERENCE["learning_rate"],
            args,
        )
        for name, fit in reference.items():
            fit()  # warm up: imports, caches
            profile(
                f"{name}.fit, {epochs}, reference configuration "
                f"({len(X_train)} digits, 64-{args.hidden}-10, batch 100)",
                fit,
                args.top,
            )

        if args.mnist_samples:
            X, _, y, _ = mnist_like(
                args.mnist_samples, 0, args.mnist_features, seed=args.seed
            )
            for name, fit in fits(X, y, 100, 200, 0.1, args).items():
                profile(
                    f"{name}.fit, {epochs}, MNIST-sized rows ({len(X)} x "
                    f"{X.shape[1]}, hidden 100, batch 200)",
                    fit,
                    args.top,
                )

    units = [X_train.shape[1], args.hidden, 10]
    rng = np.random.RandomState(args.seed)
    theta = params_to_flat(init_params(*units, rng))  # the reference's N(0, 0.01^2)
    batch = rng.choice(len(X_train), REFERENCE["batch_size"])
    X_b, T_b = X_train[batch], one_hot(y_train[batch], 10)
    network = Network(units, theta)

    def skbp_step():
        numerical_gradient(network, X_b, T_b)

    with blas_limit(args.blas_threads):
        threaded = wall_time(skbp_step)
    with threadpool_limits(limits=1, user_api="blas"):
        skbp_step()  # warm up
        profile(
            f"skbp.gradients.numerical_gradient, one step ({theta.size} parameters, "
            f"batch {len(X_b)}), BLAS limited to 1 thread (threaded, unprofiled: "
            f"{fmt_seconds(threaded)})",
            skbp_step,
            args.top,
        )
        if not args.no_reference:
            net = TwoLayerNet(*units, params=params_from_flat(theta, units), eps=0.0)
            profile(
                "reference loop's per-element numerical step, BLAS limited to 1 thread",
                lambda: net.numerical_gradient(X_b, T_b),
                args.top,
            )


if __name__ == "__main__":
    main()
