"""``predict_proba`` on many rows: time and working memory, BP vs MLPClassifier.

Both models are fitted on digits with the same configuration (64-50-10,
logistic, batch 100, SGD 0.1, same Glorot start and batches), then predict the
class probabilities of ``--n-rows`` rows (digits rows drawn with replacement,
float64, 64 features): 100 000 and 1 000 000 by default.

Working memory is what a call allocates beyond its input and its output: the
``tracemalloc`` peak during the call (numpy reports its data allocations to
tracemalloc) minus the size of the returned array, measured in separate
untimed calls. A chunked implementation keeps it constant as the rows grow;
one that computes all rows at once grows with them.

Target (issue 4): BP's time <= MLP's at 1 000 000 rows, with bounded working
memory.
"""

import argparse
import gc
import tracemalloc

import numpy as np
from _common import (
    REFERENCE,
    add_blas_threads_arg,
    blas_limit,
    bp_classifier,
    digits_split,
    fmt_mib,
    fmt_ratio,
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
    parser.add_argument(
        "--n-rows",
        type=int,
        nargs="+",
        default=[100_000, 1_000_000],
        help="row counts to predict (100000 1000000)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds (3)")
    parser.add_argument("--epochs", type=int, default=20, help="training epochs (20)")
    parser.add_argument("--seed", type=int, default=0)
    add_blas_threads_arg(parser)
    return parser.parse_args(argv)


def working_memory(predict, X):
    """Peak bytes allocated by ``predict(X)`` beyond the array it returns."""
    gc.collect()
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        out = predict(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - base - out.nbytes


def main(argv=None):
    """Fit both models, then time and measure ``predict_proba`` per row count."""
    args = parse_args(argv)
    quiet()
    print_header("predict_proba on many rows", args, args.repeats)
    X_train, X_test, y_train, y_test = digits_split()
    config = {
        "learning_rate_init": REFERENCE["learning_rate"],
        "batch_size": REFERENCE["batch_size"],
        "max_iter": args.epochs,
        "seed": args.seed,
    }
    models = {
        "BP": bp_classifier(REFERENCE["hidden"], **config).fit(X_train, y_train),
        "MLP": mlp_classifier(REFERENCE["hidden"], **config).fit(X_train, y_train),
    }
    print(
        f"Models: 64-{REFERENCE['hidden']}-10 fitted {args.epochs} epochs on digits; "
        f"test accuracy BP {models['BP'].score(X_test, y_test):.4f}, "
        f"MLP {models['MLP'].score(X_test, y_test):.4f}; largest |BP - MLP| "
        f"parameter difference {max_param_diff(models['BP'], models['MLP']):.2e}.\n",
        flush=True,
    )
    X_all = np.concatenate([X_train, X_test])
    rng = np.random.RandomState(args.seed)
    rows, last, bp_memory = [], None, []
    for n_rows in args.n_rows:
        X = X_all[rng.randint(0, len(X_all), n_rows)]
        with blas_limit(args.blas_threads):
            timings = time_interleaved(
                {
                    name: (lambda m=m, X=X: m.predict_proba(X))
                    for name, m in models.items()
                },
                args.repeats,
            )
            memory = {
                name: working_memory(m.predict_proba, X) for name, m in models.items()
            }
        agree = float(
            np.mean(
                timings["BP"].result.argmax(axis=1)
                == timings["MLP"].result.argmax(axis=1)
            )
        )
        max_diff = float(np.abs(timings["BP"].result - timings["MLP"].result).max())
        rows.append(
            [
                f"{n_rows:,}",
                timings["BP"].cell(),
                timings["MLP"].cell(),
                fmt_ratio(timings["BP"], timings["MLP"]),
                fmt_mib(memory["BP"]),
                fmt_mib(memory["MLP"]),
                f"{agree:.4f}, {max_diff:.1e}",
            ]
        )
        bp_memory.append(memory["BP"])
        for timing in timings.values():
            timing.result = None  # free the outputs before the next size
        last = (n_rows, timings, memory)
        del X
    print(
        markdown_table(
            [
                "rows",
                "BP time",
                "MLP time",
                "BP / MLP",
                "BP working memory",
                "MLP working memory",
                "same argmax, max abs diff",
            ],
            rows,
        )
    )
    print()
    n_rows, timings, memory = last
    r, _ = ratio(timings["BP"], timings["MLP"])
    print(
        f"predict_proba time at {n_rows:,} rows, BP / MLP: "
        f"{fmt_ratio(timings['BP'], timings['MLP'])}"
        f", target <= 1: {target_verdict(r, 1.0)}"
    )
    print(
        f"Working memory at {n_rows:,} rows (input {fmt_mib(n_rows * 64 * 8)}, output "
        f"{fmt_mib(n_rows * 10 * 8)} not counted): BP {fmt_mib(memory['BP'])}, "
        f"MLP {fmt_mib(memory['MLP'])}"
    )
    # Bounded: no growth with the row count beyond 10 % (and 1 MiB of slack).
    bounded = max(bp_memory) <= 1.1 * min(bp_memory) + 2**20
    print(
        f"BP working memory from {args.n_rows[0]:,} to {args.n_rows[-1]:,} rows: "
        f"{fmt_mib(bp_memory[0])} to {fmt_mib(bp_memory[-1])}, target bounded: "
        f"{'met' if bounded else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
