"""Time per SGD step: BPClassifier vs MLPClassifier vs the reference loop.

The reference configuration (digits as loaded, 80/20 split, 64-50-10 logistic
network, batches of 100, plain SGD with learning rate 0.1), in float64 and
float32. ``BPClassifier`` and ``MLPClassifier`` are configured identically
(no momentum, no L2 penalty, no early stop, same seed) and trained the same
number of epochs; the reference loop (``reference_loop.py``, tutorial style)
runs the same number of steps. All three start from the same Glorot-uniform
weights (``MLPClassifier`` knows no other initialisation), so their test
accuracies are comparable; ``--init normal`` gives BPClassifier and the
reference loop the reference's N(0, 0.01^2) weights instead (MLPClassifier
stays Glorot).

A step's time is a whole ``fit`` (or the whole reference loop, network
construction included) divided by its number of steps, so it includes each
contender's per-fit overhead (validation, label encoding, initialisation).

Targets (issue 4): BP <= 0.40 x MLP and <= 0.80 x reference (float64);
BP <= 0.40 x MLP (float32).
"""

import argparse

import numpy as np
from _common import (
    REFERENCE,
    add_blas_threads_arg,
    blas_limit,
    bp_classifier,
    digits_split,
    fmt_ratio,
    markdown_table,
    max_param_diff,
    mlp_classifier,
    print_header,
    quiet,
    ratio,
    steps_per_epoch,
    target_verdict,
    time_interleaved,
)
from reference_loop import TwoLayerNet, init_params, one_hot, train

TARGETS = {"float64": {"MLP": 0.40, "reference": 0.80}, "float32": {"MLP": 0.40}}


def parse_args(argv=None):
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.strip().partition("\n")[0])
    parser.add_argument(
        "--dtype",
        nargs="+",
        choices=["float64", "float32"],
        default=["float64", "float32"],
        help="dtypes to measure (both)",
    )
    parser.add_argument("--epochs", type=int, default=20, help="epochs per fit (20)")
    parser.add_argument("--repeats", type=int, default=15, help="timed rounds (15)")
    parser.add_argument(
        "--n-samples", type=int, default=None, help="use the first N digits (all)"
    )
    parser.add_argument("--hidden", type=int, default=REFERENCE["hidden"])
    parser.add_argument("--batch-size", type=int, default=REFERENCE["batch_size"])
    parser.add_argument(
        "--learning-rate", type=float, default=REFERENCE["learning_rate"]
    )
    parser.add_argument(
        "--init",
        choices=["glorot", "normal"],
        default="glorot",
        help="initial weights of BP and the reference loop (glorot, as MLP's)",
    )
    parser.add_argument("--seed", type=int, default=0)
    add_blas_threads_arg(parser)
    return parser.parse_args(argv)


def measure(args, dtype):
    """Time the three contenders in ``dtype``; print the table and the ratios."""
    X_train, X_test, y_train, y_test = digits_split(dtype, args.n_samples, args.seed)
    n_steps = args.epochs * steps_per_epoch(len(X_train), args.batch_size)
    config = {
        "learning_rate_init": args.learning_rate,
        "batch_size": args.batch_size,
        "max_iter": args.epochs,
        "seed": args.seed,
    }
    std = {"weight_init_std": 0.01} if args.init == "normal" else {}
    T_train = one_hot(y_train, 10).astype(dtype)
    T_test = one_hot(y_test, 10).astype(dtype)

    def fit_bp():
        return bp_classifier(args.hidden, **config, **std).fit(X_train, y_train)

    def fit_mlp():
        return mlp_classifier(args.hidden, **config).fit(X_train, y_train)

    def fit_reference():
        rng = np.random.RandomState(args.seed)
        params = init_params(X_train.shape[1], args.hidden, 10, rng, args.init)
        params = {key: value.astype(dtype) for key, value in params.items()}
        net = TwoLayerNet(X_train.shape[1], args.hidden, 10, params=params)
        train(net, X_train, T_train, n_steps, args.batch_size, args.learning_rate, rng)
        return net

    with blas_limit(args.blas_threads):
        timings = time_interleaved(
            {"BP": fit_bp, "MLP": fit_mlp, "reference": fit_reference},
            args.repeats,
            scales={"BP": n_steps, "MLP": n_steps, "reference": n_steps},
        )
    bp, mlp, ref = timings["BP"].result, timings["MLP"].result, timings["reference"]
    accuracy = {
        "BP": bp.score(X_test, y_test),
        "MLP": mlp.score(X_test, y_test),
        "reference": ref.result.accuracy(X_test, T_test),
    }
    labels = {
        "BP": f"BPClassifier ({args.init})",
        "MLP": "MLPClassifier (glorot)",
        "reference": f"reference loop ({args.init})",
    }
    print(
        f"## {dtype}: {len(X_train)} training / {len(X_test)} test digits, "
        f"64-{args.hidden}-10, batch {args.batch_size}, SGD {args.learning_rate}, "
        f"{args.epochs} epochs = {n_steps} steps\n"
    )
    rows = [
        [labels[name], t.cell(), f"{accuracy[name]:.4f}"] for name, t in timings.items()
    ]
    print(markdown_table(["contender", "time per step", "test accuracy"], rows))
    print()
    for other, limit in TARGETS[dtype].items():
        r, _ = ratio(timings["BP"], timings[other])
        print(
            f"{dtype} time per step, BP / {other}: "
            f"{fmt_ratio(timings['BP'], timings[other])}, "
            f"target <= {limit:.2f}: {target_verdict(r, limit)}"
        )
    if "reference" not in TARGETS[dtype]:
        print(
            f"{dtype} time per step, BP / reference: "
            f"{fmt_ratio(timings['BP'], timings['reference'])}"
        )
    print(
        f"Largest |BP - MLP| difference of the fitted parameters: "
        f"{max_param_diff(bp, mlp):.2e}"
        + (" (same start, same batches)" if args.init == "glorot" else "")
    )
    print()


def main(argv=None):
    """Run the benchmark for each requested dtype."""
    args = parse_args(argv)
    quiet()
    print_header("Time per SGD step, reference configuration", args, args.repeats)
    for dtype in args.dtype:
        measure(args, dtype)


if __name__ == "__main__":
    main()
