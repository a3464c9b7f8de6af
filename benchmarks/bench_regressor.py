"""Time per SGD step for regression: BPRegressor vs MLPRegressor at equal R².

scikit-learn's diabetes data, standardised (features and target), 80/20
split, a 10-50-1 logistic network, batches of 32, plain SGD at rate 0.01 (no
momentum, no L2, no early stop, same seed), a fixed number of epochs. Both
estimators start from the same Glorot-uniform weights and see the same
batches, so they end at the same weights (the largest difference is printed)
and the same test R²; only the time differs. ``--targets 3`` trains a
three-target ``make_regression`` problem instead.

A step's time is a whole ``fit`` divided by its number of steps, so it
includes each estimator's per-fit overhead (validation, initialisation).
"""

import argparse

from _common import (
    PLAIN_SGD,
    add_blas_threads_arg,
    blas_limit,
    fmt_ratio,
    markdown_table,
    max_param_diff,
    print_header,
    quiet,
    steps_per_epoch,
    time_interleaved,
)
from sklearn.datasets import load_diabetes, make_regression
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

from skbp import BPRegressor


def parse_args(argv=None):
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.strip().partition("\n")[0])
    parser.add_argument("--epochs", type=int, default=50, help="epochs per fit (50)")
    parser.add_argument("--repeats", type=int, default=15, help="timed rounds (15)")
    parser.add_argument(
        "--n-samples", type=int, default=None, help="use the first N samples (all)"
    )
    parser.add_argument("--hidden", type=int, default=50, help="hidden units (50)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size (32)")
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument(
        "--targets",
        type=int,
        default=1,
        help="1: diabetes; more: a make_regression problem with that many (1)",
    )
    parser.add_argument("--seed", type=int, default=0)
    add_blas_threads_arg(parser)
    return parser.parse_args(argv)


def data(args):
    """Standardised train/test split of diabetes, or of a multi-target problem."""
    if args.targets == 1:
        X, y = load_diabetes(return_X_y=True)
        name = "diabetes"
    else:
        X, y = make_regression(
            442, 10, n_informative=6, n_targets=args.targets, noise=10.0,
            random_state=args.seed,
        )  # fmt: skip
        name = f"make_regression, {args.targets} targets"
    X, y = X[: args.n_samples], y[: args.n_samples]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=args.seed
    )
    x_scaler = StandardScaler().fit(X_train)
    y_scaler = StandardScaler().fit(y_train.reshape(len(y_train), -1))

    def scale_y(t):
        return y_scaler.transform(t.reshape(len(t), -1)).reshape(t.shape)

    return (
        name,
        x_scaler.transform(X_train),
        x_scaler.transform(X_test),
        scale_y(y_train),
        scale_y(y_test),
    )


def main(argv=None):
    """Time both regressors; print the table and the ratio."""
    args = parse_args(argv)
    quiet()
    print_header("Time per SGD step, regression", args, args.repeats)
    name, X_train, X_test, y_train, y_test = data(args)
    n_steps = args.epochs * steps_per_epoch(len(X_train), args.batch_size)
    # Every setting passed to both, so neither depends on its defaults.
    config = dict(
        hidden_layer_sizes=(args.hidden,),
        batch_size=args.batch_size,
        learning_rate_init=args.learning_rate,
        max_iter=args.epochs,
        random_state=args.seed,
        **PLAIN_SGD,
    )

    def fit_bp():
        return BPRegressor(**config).fit(X_train, y_train)

    def fit_mlp():
        return MLPRegressor(**config).fit(X_train, y_train)

    with blas_limit(args.blas_threads):
        timings = time_interleaved(
            {"BP": fit_bp, "MLP": fit_mlp},
            args.repeats,
            scales={"BP": n_steps, "MLP": n_steps},
        )
    bp, mlp = timings["BP"].result, timings["MLP"].result
    print(
        f"## {name}: {len(X_train)} training / {len(X_test)} test samples, "
        f"{X_train.shape[1]}-{args.hidden}-{args.targets}, batch {args.batch_size}, "
        f"SGD {args.learning_rate}, {args.epochs} epochs = {n_steps} steps\n"
    )
    rows = [
        ["BPRegressor", timings["BP"].cell(), f"{bp.score(X_test, y_test):.4f}"],
        ["MLPRegressor", timings["MLP"].cell(), f"{mlp.score(X_test, y_test):.4f}"],
    ]
    print(markdown_table(["contender", "time per step", "test R²"], rows))
    print()
    print(
        f"time per step, BPRegressor / MLPRegressor: "
        f"{fmt_ratio(timings['BP'], timings['MLP'])}"
    )
    print(
        "Largest |BP - MLP| difference of the fitted parameters: "
        f"{max_param_diff(bp, mlp):.2e} (same start, same batches)"
    )


if __name__ == "__main__":
    main()
