"""What one backprop SGD step is made of: each numpy operation timed on its own.

The step of ``BPClassifier`` (logistic hidden layer, softmax output, class
indices as targets, plain SGD) is split into its numpy operations, in the
order it runs them, and each operation is timed alone on arrays of the
step's shapes (minimum over repeats). They are grouped:

- ``matrix product``: the five products of the step (the bare-GEMM floor);
- ``exp``: the transcendental functions, ``expit`` over the hidden layer and
  ``exp`` over the logits, which no implementation of the same maths avoids;
- ``other``: the gather of the shuffled batch rows, bias additions,
  reductions, the loss and the update.

In the same run, ``BPClassifier``, an identically configured
``MLPClassifier`` and a hand-fused numpy loop of the same training
(``fused_fit``: no layers, no validation, no history) are timed per step (a
whole fit divided by its steps, as ``bench_sgd_step.py`` and
``bench_mnist_sized.py`` do). The table then
shows what fraction of MLPClassifier's step the unavoidable work alone
takes: the floor that bounds the step-time targets of issue 4.

The default is the reference configuration (digits, 64-50-10, batch 100);
``--mnist`` gives the MNIST-sized one (784-100-10, batch 200, on
``--n-samples`` rows of ``make_classification``).
"""

import argparse
import timeit

import numpy as np
from _common import (
    REFERENCE,
    add_blas_threads_arg,
    blas_limit,
    bp_classifier,
    digits_split,
    flat_params,
    fmt_ratio,
    fmt_seconds,
    markdown_table,
    mlp_classifier,
    mnist_like,
    print_header,
    quiet,
    steps_per_epoch,
    time_interleaved,
)
from scipy.special import expit


def parse_args(argv=None):
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.strip().partition("\n")[0])
    parser.add_argument(
        "--mnist", action="store_true", help="MNIST-sized shapes (784-100-10)"
    )
    parser.add_argument(
        "--n-samples", type=int, default=None, help="training rows (all / 20000)"
    )
    parser.add_argument("--epochs", type=int, default=None, help="fit epochs (20/1)")
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds (7)")
    parser.add_argument("--seed", type=int, default=0)
    add_blas_threads_arg(parser)
    return parser.parse_args(argv)


def step_operations(X, y, hidden, batch_size, rng):
    """``{name: (group, callable)}``: the step's operations on its own arrays."""
    n_in, n_out = X.shape[1], int(y.max()) + 1
    b = min(batch_size, len(X))
    W1, b1 = rng.normal(0, 0.1, (n_in, hidden)), np.zeros(hidden)
    W2, b2 = rng.normal(0, 0.1, (hidden, n_out)), np.zeros(n_out)
    params = np.concatenate([W1.ravel(), b1, W2.ravel(), b2])
    gradient = rng.normal(0, 1e-3, params.size)  # a fixed gradient to apply
    grads = np.empty_like(params)
    # Fresh shuffled rows at every call, as in training (not the same, cached ones).
    batches = [rng.permutation(len(X))[:b] for _ in range(64)]
    counter = iter(range(10**12))
    idx = batches[0]
    t = y[idx]
    Xb, H, Z = np.empty((b, n_in)), np.empty((b, hidden)), np.empty((b, n_out))
    dZ, dH, tmp = np.empty_like(Z), np.empty_like(H), np.empty_like(H)
    dW1, dW2, db1, db2 = np.empty_like(W1), np.empty_like(W2), b1.copy(), b2.copy()
    ones = np.ones(b)
    X.take(idx, axis=0, out=Xb, mode="clip")
    np.matmul(Xb, W1, out=H)
    expit(H, out=H)
    np.matmul(H, W2, out=Z)
    flat_t = np.arange(0, b * n_out, n_out) + t
    probs = np.full_like(Z, 1.0 / n_out)
    row_sum = probs.sum(axis=1)

    def output_gradient():
        np.multiply(probs, 1.0 / b, out=dZ)
        dZ.ravel()[flat_t] -= 1.0 / b

    def update():
        np.multiply(gradient, 0.1, out=grads)
        np.subtract(params, grads, out=params)

    return {
        "gather the batch rows": (
            "other",
            lambda: X.take(batches[next(counter) % 64], 0, Xb, "clip"),
        ),
        "Xb @ W1": ("matrix product", lambda: np.matmul(Xb, W1, out=H)),
        "+= b1": ("other", lambda: np.add(H, b1, out=tmp)),
        "expit (hidden)": ("exp", lambda: expit(H, out=tmp)),
        "H @ W2": ("matrix product", lambda: np.matmul(H, W2, out=Z)),
        "+= b2": ("other", lambda: np.add(Z, b2, out=dZ)),
        "span of the logits (max, min)": ("other", lambda: (Z.max(), Z.min())),
        "subtract the max": ("other", lambda: np.subtract(Z, 1.0, out=dZ)),
        "logits of the true classes": ("other", lambda: Z.ravel()[flat_t]),
        "exp (logits)": ("exp", lambda: np.exp(Z, out=dZ)),
        "row sums": ("other", lambda: np.add.reduce(probs, axis=1)),
        "loss (log, subtract, sum)": (
            "other",
            lambda: np.add.reduce(np.log(row_sum) - row_sum),
        ),
        "normalise": ("other", lambda: np.divide(probs, row_sum[:, None], out=dZ)),
        "dZ = y / n, minus 1 / n at t": ("other", output_gradient),
        "H.T @ dZ": ("matrix product", lambda: np.matmul(H.T, dZ, out=dW2)),
        "db2 = ones @ dZ": ("other", lambda: np.matmul(ones, dZ, out=db2)),
        "dZ @ W2.T": ("matrix product", lambda: np.matmul(dZ, W2.T, out=dH)),
        "sigmoid backward (3 ops)": (
            "other",
            lambda: (
                np.subtract(1.0, H, out=tmp),
                np.multiply(tmp, H, out=tmp),
                np.multiply(tmp, dH, out=tmp),
            ),
        ),
        "Xb.T @ dH": ("matrix product", lambda: np.matmul(Xb.T, dH, out=dW1)),
        "db1 = ones @ dH": ("other", lambda: np.matmul(ones, dH, out=db1)),
        "update (2 ops)": ("other", update),
    }


def fused_fit(X, y, hidden, batch_size, epochs, seed):
    """The same SGD training as BPClassifier, hand-fused: no layers, no checks.

    One function, every array preallocated, the bias added by broadcasting
    and the softmax shifted by the batch max: the least numpy work the step
    needs, as a yardstick for the layered implementation (not a usable
    estimator: no validation, no history, no stopping rule).
    """
    rng = np.random.RandomState(seed)
    n, n_in = X.shape
    n_out = int(y.max()) + 1
    # Glorot-uniform, drawn as MLPClassifier and BPClassifier draw it (logistic).
    bound = np.sqrt(2 / (n_in + hidden)), np.sqrt(2 / (hidden + n_out))
    W1 = rng.uniform(-bound[0], bound[0], (n_in, hidden))
    b1 = rng.uniform(-bound[0], bound[0], hidden)
    W2 = rng.uniform(-bound[1], bound[1], (hidden, n_out))
    b2 = rng.uniform(-bound[1], bound[1], n_out)
    scratch = {}
    order = np.arange(n)
    for _ in range(epochs):
        rng.shuffle(order)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            b = len(idx)
            if b not in scratch:
                scratch[b] = (
                    np.empty((b, n_in)),
                    np.empty((b, hidden)),
                    np.empty((b, n_out)),
                    np.empty((b, hidden)),
                    np.ones(b),
                    np.arange(0, b * n_out, n_out),
                )
            Xb, H, Z, dH, ones, starts = scratch[b]
            X.take(idx, 0, Xb, "clip")
            flat_t = starts + y[idx]
            np.matmul(Xb, W1, out=H)
            H += b1
            expit(H, out=H)
            np.matmul(H, W2, out=Z)
            Z += b2
            Z -= Z.max()
            np.exp(Z, out=Z)
            Z /= Z.sum(axis=1)[:, None]
            Z *= 1.0 / b
            Z.ravel()[flat_t] -= 1.0 / b
            np.matmul(Z, W2.T, out=dH)
            W2 -= 0.1 * (H.T @ Z)
            b2 -= 0.1 * (ones @ Z)
            dH *= H
            H -= 1.0
            dH *= H
            W1 += 0.1 * (Xb.T @ dH)  # dH holds -gradient: H - 1 flipped the sign
            b1 += 0.1 * (ones @ dH)
    return W1, b1, W2, b2


def op_time(func, seconds=0.01, repeats=7):
    """Minimum time per call of ``func``, over ``repeats`` batches of calls.

    Each batch lasts about ``seconds``.
    """
    timer = timeit.Timer(func)
    once = min(timer.repeat(repeat=3, number=1))
    number = max(1, int(seconds / max(once, 1e-7)))
    return min(timer.repeat(repeat=repeats, number=number)) / number


def main(argv=None):
    """Time the operations and the two classifiers' steps; print the table."""
    args = parse_args(argv)
    quiet()
    print_header("Anatomy of one backprop SGD step", args, args.repeats)
    rng = np.random.RandomState(args.seed)
    if args.mnist:
        X, _, y, _ = mnist_like(args.n_samples or 20_000, 0, seed=args.seed)
        hidden, batch_size, epochs = 100, 200, args.epochs or 1
    else:
        X, _, y, _ = digits_split(n_samples=args.n_samples, seed=args.seed)
        hidden, batch_size, epochs = REFERENCE["hidden"], REFERENCE["batch_size"], 20
        epochs = args.epochs or epochs
    n_steps = epochs * steps_per_epoch(len(X), batch_size)
    config = {
        "learning_rate_init": 0.1,
        "batch_size": batch_size,
        "max_iter": epochs,
        "seed": args.seed,
    }
    with blas_limit(args.blas_threads):
        ops = {
            name: (group, op_time(func))
            for name, (group, func) in step_operations(
                X, y, hidden, batch_size, rng
            ).items()
        }
        timings = time_interleaved(
            {
                "BP": lambda: bp_classifier(hidden, **config).fit(X, y),
                "MLP": lambda: mlp_classifier(hidden, **config).fit(X, y),
                "fused": lambda: fused_fit(X, y, hidden, batch_size, epochs, args.seed),
            },
            args.repeats,
            scales={"BP": n_steps, "MLP": n_steps, "fused": n_steps},
        )
    mlp = timings["MLP"].min
    print(
        f"{len(X)} rows x {X.shape[1]} features, {X.shape[1]}-{hidden}-"
        f"{int(y.max()) + 1}, batch {batch_size}, float64; classifiers: "
        f"{epochs} epochs = {n_steps} steps per fit\n"
    )
    rows = [
        [name, group, fmt_seconds(seconds), f"{seconds / mlp:.3f}"]
        for name, (group, seconds) in ops.items()
    ]
    print(markdown_table(["operation", "group", "time", "/ MLP step"], rows))
    print()
    totals = {}
    for group, seconds in ops.values():
        totals[group] = totals.get(group, 0.0) + seconds
    cumulative, summary = 0.0, []
    for group in ("matrix product", "exp", "other"):
        cumulative += totals.get(group, 0.0)
        summary.append(
            [
                f"+ {group}" if summary else group,
                fmt_seconds(cumulative),
                f"{cumulative / mlp:.3f}",
            ]
        )
    summary += [
        [
            "hand-fused numpy loop, per step",
            timings["fused"].cell(),
            fmt_ratio(timings["fused"], timings["MLP"]),
        ],
        [
            "BPClassifier, per step of fit",
            timings["BP"].cell(),
            fmt_ratio(timings["BP"], timings["MLP"]),
        ],
        ["MLPClassifier, per step of fit", timings["MLP"].cell(), "1"],
    ]
    print(markdown_table(["cumulative", "time", "/ MLP step"], summary))
    fused = np.concatenate([p.ravel() for p in timings["fused"].result])
    difference = np.abs(fused - flat_params(timings["BP"].result)).max()
    print(
        "\nLargest |fused loop - BPClassifier| parameter difference after the "
        f"fit: {difference:.2e} (the same training)"
    )


if __name__ == "__main__":
    main()
