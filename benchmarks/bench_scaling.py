"""How the cost grows: numerical vs backprop time per step against the parameter count.

For hidden sizes 10, 25, 50, 100, 200 and input sizes 16, 32 and 64 (digits'
64 pixels, and their first 16 and 32 principal components), one SGD step on a
batch of 100 digits with each gradient: ``skbp.gradients.backprop_gradient``
or ``skbp.gradients.numerical_gradient`` on a ``skbp.network.Network`` at
Glorot-uniform parameters, then the update ``params -= 0.1 * grads``.

A numerical step costs ``2 x n_params`` forward passes (each of the layers
downstream of the perturbed parameter), a backprop step about three passes'
worth of work, so the ratio should grow about linearly with the parameter
count: the last column, ratio / params, should stay roughly constant.

The table is printed; the figure (ratio and times against parameters,
log-log) is saved to ``--output`` when matplotlib is installed.
"""

import argparse
import tempfile
from itertools import pairwise
from pathlib import Path

import numpy as np
from _common import (
    REFERENCE,
    add_blas_threads_arg,
    blas_limit,
    digits_split,
    fmt_number,
    fmt_seconds,
    markdown_table,
    print_header,
    quiet,
    ratio,
    time_interleaved,
)
from sklearn.decomposition import PCA

from skbp.gradients import backprop_gradient, numerical_gradient
from skbp.network import Network


def parse_args(argv=None):
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.strip().partition("\n")[0])
    parser.add_argument(
        "--hidden",
        type=int,
        nargs="+",
        default=[10, 25, 50, 100, 200],
        help="hidden sizes (10 25 50 100 200)",
    )
    parser.add_argument(
        "--n-features",
        type=int,
        nargs="+",
        default=[16, 32, 64],
        help="input sizes, at most 64: PCA of digits below 64 (16 32 64)",
    )
    parser.add_argument("--batch-size", type=int, default=REFERENCE["batch_size"])
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed rounds per size (3)"
    )
    parser.add_argument(
        "--budget",
        type=float,
        default=15.0,
        help="seconds per size after which no new round starts (15)",
    )
    parser.add_argument(
        "--backprop-calls",
        type=int,
        default=50,
        help="backprop steps per timed run, to time more than a clock tick (50)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=Path(tempfile.gettempdir()) / "skbp_bench_scaling.png",
        help="where to save the figure",
    )
    parser.add_argument("--seed", type=int, default=0)
    add_blas_threads_arg(parser)
    return parser.parse_args(argv)


def glorot_params(layer_units, rng):
    """Glorot-uniform weights and biases for logistic units, in skbp's flat layout."""
    chunks = []
    for fan_in, fan_out in pairwise(layer_units):
        bound = np.sqrt(2.0 / (fan_in + fan_out))
        chunks += [rng.uniform(-bound, bound, fan_in * fan_out)]
        chunks += [rng.uniform(-bound, bound, fan_out)]
    return np.concatenate(chunks)


def inputs(n_features, X, seed):
    """Digits' pixels, or their first ``n_features`` principal components."""
    if n_features >= X.shape[1]:
        return X
    return PCA(n_features, random_state=seed).fit_transform(X)


def step_timings(network, X_b, T_b, args):
    """Interleaved timings of a backprop step and a numerical step."""
    lr = REFERENCE["learning_rate"]
    params = network.params
    start = params.copy()

    def backprop_steps():
        for _ in range(args.backprop_calls):
            backprop_gradient(network, X_b, T_b)
            params[...] -= lr * network.grads
        params[...] = start

    def numerical_step():
        numerical_gradient(network, X_b, T_b)
        params[...] -= lr * network.grads
        params[...] = start

    return time_interleaved(
        {"backprop": backprop_steps, "numerical": numerical_step},
        args.repeats,
        warmup=0,  # one warm-up call for all sizes in main
        scales={"backprop": args.backprop_calls},
        budget=args.budget,
    )


def save_figure(path, records):
    """Plot the ratio and both times against the parameter count; None without mpl."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, (ax_ratio, ax_time) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    for i, n_in in enumerate(sorted({r["n_in"] for r in records})):
        rs = [r for r in records if r["n_in"] == n_in]
        params = [r["params"] for r in rs]
        color = f"C{i}"
        ax_ratio.plot(
            params, [r["ratio"] for r in rs], "o-", color=color, label=f"{n_in} inputs"
        )
        ax_time.plot(
            params,
            [r["numerical"] for r in rs],
            "o-",
            color=color,
            label=f"numerical, {n_in} inputs",
        )
        ax_time.plot(
            params,
            [r["backprop"] for r in rs],
            "s--",
            color=color,
            label=f"backprop, {n_in} inputs",
        )
    all_params = np.array(sorted(r["params"] for r in records))
    fit = np.median([r["ratio"] / r["params"] for r in records])
    ax_ratio.plot(all_params, fit * all_params, "k:", label="ratio ∝ params")
    ax_ratio.set(
        xscale="log",
        yscale="log",
        xlabel="parameters",
        ylabel="numerical / backprop time per step",
    )
    ax_time.set(
        xscale="log", yscale="log", xlabel="parameters", ylabel="seconds per step"
    )
    for ax in (ax_ratio, ax_time):
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="small")
    fig.suptitle("Cost of a numerical vs a backprop step (batch of digits)")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv=None):
    """Measure every (input size, hidden size) pair; print the table, save a figure."""
    args = parse_args(argv)
    quiet()
    print_header("Numerical vs backprop: scaling with the parameter count", args)
    print(
        f"Per size: minimum of {args.repeats} interleaved repeats (fewer once a "
        f"size has taken {args.budget:g} s), backprop timed "
        f"over {args.backprop_calls} steps per run; ratio = numerical / backprop "
        "(of the minimums). A step is one gradient of a batch of "
        f"{args.batch_size} plus the SGD update.\n",
        flush=True,
    )
    X_train, _, y_train, _ = digits_split()
    rng = np.random.RandomState(args.seed)
    batch = rng.choice(len(X_train), args.batch_size, replace=False)
    T_b = np.eye(10)[y_train[batch]]
    records = []
    with blas_limit(args.blas_threads):
        # Warm up once (imports, the numerical gradient's thread pool).
        units = [X_train.shape[1], 2, 10]
        for gradient in (backprop_gradient, numerical_gradient):
            params = glorot_params(units, np.random.RandomState(0))
            gradient(Network(units, params), X_train[batch], T_b)
        for n_in in args.n_features:
            X_b = np.ascontiguousarray(inputs(n_in, X_train, args.seed)[batch])
            for hidden in args.hidden:
                units = [X_b.shape[1], hidden, 10]
                network = Network(units, glorot_params(units, rng))
                timings = step_timings(network, X_b, T_b, args)
                r, _ = ratio(timings["numerical"], timings["backprop"])
                records.append(
                    {
                        "n_in": X_b.shape[1],
                        "hidden": hidden,
                        "params": network.params.size,
                        "backprop": timings["backprop"].min,
                        "numerical": timings["numerical"].min,
                        "ratio": r,
                        "rounds": len(timings["numerical"].times),
                    }
                )
    rows = [
        [
            f"{r['n_in']}-{r['hidden']}-10",
            f"{r['params']:,}",
            f"{2 * r['params']:,}",
            fmt_seconds(r["backprop"]),
            fmt_seconds(r["numerical"]),
            fmt_number(r["ratio"]),
            f"{r['ratio'] / r['params']:.3f}",
            str(r["rounds"]),
        ]
        for r in records
    ]
    headers = [
        "network",
        "params",
        "forward passes (2 x params)",
        "backprop s/step",
        "numerical s/step",
        "ratio",
        "ratio / params",
        "rounds",
    ]
    print(markdown_table(headers, rows))
    params = np.array([r["params"] for r in records], dtype=float)
    ratios = np.array([r["ratio"] for r in records])
    if len(records) > 1 and np.ptp(params) > 0:
        slope = np.polyfit(np.log(params), np.log(ratios), 1)[0]
        print(
            f"\nLog-log slope of ratio against params: {slope:.2f} (1 = linear growth)"
        )
    path = save_figure(args.output, records)
    if path is None:
        print("\nmatplotlib is not installed: no figure.")
    else:
        print(f"\nFigure saved to {path}")


if __name__ == "__main__":
    main()
