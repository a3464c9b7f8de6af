"""Adam per epoch and L-BFGS per fit: BPClassifier vs MLPClassifier.

Digits as loaded, 80/20 split, a 64-50-10 logistic network, no L2 penalty,
the same Glorot start for both. Adam: batches of 100, learning rate 0.001,
scikit-learn's beta and epsilon defaults, ``--epochs`` epochs without early
stop; the time is per epoch (a fit divided by its epochs). L-BFGS: full batch,
``tol=0`` so that both run their ``--lbfgs-iter`` iterations (unless the line
search stops earlier: the iterations run are printed); the time is per fit,
and per iteration beside it.

Target (issue 4): BP no slower than MLP for either solver.
"""

import argparse

from _common import (
    REFERENCE,
    add_blas_threads_arg,
    blas_limit,
    bp_classifier,
    digits_split,
    fmt_ratio,
    fmt_seconds,
    markdown_table,
    max_param_diff,
    mlp_classifier,
    print_header,
    quiet,
    ratio,
    target_verdict,
    time_interleaved,
)


def parse_args(argv=None):
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.strip().partition("\n")[0])
    parser.add_argument("--epochs", type=int, default=20, help="Adam epochs (20)")
    parser.add_argument(
        "--lbfgs-iter", type=int, default=50, help="L-BFGS iterations (50)"
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (5)")
    parser.add_argument(
        "--n-samples", type=int, default=None, help="use the first N digits (all)"
    )
    parser.add_argument("--hidden", type=int, default=REFERENCE["hidden"])
    parser.add_argument("--seed", type=int, default=0)
    add_blas_threads_arg(parser)
    return parser.parse_args(argv)


def main(argv=None):
    """Time both solvers for both estimators; print the table and the ratios."""
    args = parse_args(argv)
    quiet()
    print_header("Adam and L-BFGS", args, args.repeats)
    X_train, X_test, y_train, y_test = digits_split(n_samples=args.n_samples)
    print(
        f"Digits: {len(X_train)} training / {len(X_test)} test rows, network "
        f"64-{args.hidden}-10, logistic, alpha 0.\n",
        flush=True,
    )
    solvers = {
        "adam": {
            "solver": "adam",
            "learning_rate_init": 0.001,
            "batch_size": REFERENCE["batch_size"],
            "max_iter": args.epochs,
        },
        "lbfgs": {
            "solver": "lbfgs",
            "learning_rate_init": 0.001,
            "batch_size": REFERENCE["batch_size"],
            "max_iter": args.lbfgs_iter,
        },
    }
    rows, verdicts = [], []
    for solver, config in solvers.items():
        config = {**config, "seed": args.seed}
        contenders = {
            "BP": lambda config=config: bp_classifier(args.hidden, **config).fit(
                X_train, y_train
            ),
            "MLP": lambda config=config: mlp_classifier(args.hidden, **config).fit(
                X_train, y_train
            ),
        }
        per = args.epochs if solver == "adam" else 1
        with blas_limit(args.blas_threads):
            timings = time_interleaved(
                contenders, args.repeats, scales={"BP": per, "MLP": per}
            )
        fitted = {name: t.result for name, t in timings.items()}
        unit = "epoch" if solver == "adam" else "fit"
        for name, label in (("BP", "BPClassifier"), ("MLP", "MLPClassifier")):
            model, timing = fitted[name], timings[name]
            per_iter = fmt_seconds(timing.min * per / model.n_iter_)
            rows.append(
                [
                    solver,
                    label,
                    f"{timing.cell()} per {unit}",
                    f"{model.n_iter_} ({per_iter} each)",
                    f"{model.loss_:.6f}",
                    f"{model.score(X_test, y_test):.4f}",
                ]
            )
        r, _ = ratio(timings["BP"], timings["MLP"])
        verdicts.append(
            f"{solver}: BP / MLP time per {unit} "
            f"{fmt_ratio(timings['BP'], timings['MLP'])}, target <= 1: "
            f"{target_verdict(r, 1.0)}; largest |BP - MLP| parameter difference "
            f"{max_param_diff(fitted['BP'], fitted['MLP']):.2e}"
        )
    headers = [
        "solver",
        "contender",
        "time",
        "iterations run (min time each)",
        "final loss",
        "test accuracy",
    ]
    print(markdown_table(headers, rows))
    print()
    print("\n".join(verdicts))


if __name__ == "__main__":
    main()
