"""Numerical gradient per step: skbp vs the reference loop's per-element ``nditer``.

Reference configuration (digits 64-50-10, batch 100). Both gradients are
computed at the same parameters on the same batch: the parameters of a
``BPClassifier`` trained ``--train-epochs`` epochs from the reference's
N(0, 0.01^2) start (so that no gradient is vanishingly small), the batch drawn
with ``choice`` as the reference loop draws it. Contenders, timed per step
(one gradient of one batch):

- ``skbp.gradients.numerical_gradient`` on a ``skbp.network.Network`` holding
  those parameters (batched, honest central differences);
- the reference loop's ``TwoLayerNet.numerical_gradient``: one element at a
  time with ``np.nditer``, two full forward passes per element, with the
  exact cross-entropy (``eps=0``) so that both differentiate the same loss;
- ``BPClassifier(gradient="numerical")``: a ``fit`` of ``--steps`` steps
  (one epoch over ``steps x batch`` rows), divided by the steps;
- ``skbp.gradients.backprop_gradient`` at the same point, for scale.

The values must agree to 1e-9 (largest absolute difference). With the book's
``log(y + 1e-7)`` the reference differentiates a slightly different loss; that
difference is printed too.

Target (issue 4): skbp's numerical gradient >= 2.5 x faster than the
reference loop's, same values to 1e-9.
"""

import argparse

import numpy as np
from _common import (
    REFERENCE,
    add_blas_threads_arg,
    blas_limit,
    bp_classifier,
    digits_split,
    flat_params,
    fmt_ratio,
    markdown_table,
    print_header,
    quiet,
    ratio,
    target_verdict,
    time_interleaved,
)
from reference_loop import (
    BOOK_EPS,
    TwoLayerNet,
    one_hot,
    params_from_flat,
    params_to_flat,
)

from skbp.gradients import backprop_gradient, numerical_gradient
from skbp.network import Network


def parse_args(argv=None):
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.strip().partition("\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds (3)")
    parser.add_argument(
        "--steps", type=int, default=3, help="steps of the BPClassifier fit (3)"
    )
    parser.add_argument(
        "--backprop-calls",
        type=int,
        default=50,
        help="backprop gradients per timed run, to time more than a tick (50)",
    )
    parser.add_argument(
        "--train-epochs",
        type=int,
        default=20,
        help="epochs of training to reach the parameters (20)",
    )
    parser.add_argument(
        "--n-samples", type=int, default=None, help="use the first N digits (all)"
    )
    parser.add_argument("--hidden", type=int, default=REFERENCE["hidden"])
    parser.add_argument("--batch-size", type=int, default=REFERENCE["batch_size"])
    parser.add_argument("--seed", type=int, default=0)
    add_blas_threads_arg(parser)
    return parser.parse_args(argv)


def main(argv=None):
    """Time the numerical gradients, check their values, print the table."""
    args = parse_args(argv)
    quiet()
    print_header("Numerical gradient per step", args, args.repeats)
    X_train, X_test, y_train, y_test = digits_split(np.float64, args.n_samples)
    n_classes = 10
    clf = bp_classifier(
        args.hidden,
        learning_rate_init=REFERENCE["learning_rate"],
        batch_size=args.batch_size,
        max_iter=args.train_epochs,
        seed=args.seed,
        weight_init_std=0.01,
    ).fit(X_train, y_train)
    layer_units = [X_train.shape[1], args.hidden, n_classes]
    theta = flat_params(clf)
    n_params = theta.size

    rng = np.random.RandomState(args.seed)
    batch = rng.choice(len(X_train), args.batch_size)
    X_b, T_b = X_train[batch], one_hot(y_train[batch], n_classes)

    network = Network(layer_units, theta.copy())
    reference = TwoLayerNet(
        *layer_units, params=params_from_flat(theta, layer_units), eps=0.0
    )
    book = TwoLayerNet(
        *layer_units, params=params_from_flat(theta, layer_units), eps=BOOK_EPS
    )
    steps = args.steps
    X_fit = X_train[: steps * args.batch_size]
    y_fit = y_train[: steps * args.batch_size]
    n_fit_steps = -(-len(X_fit) // args.batch_size)

    def skbp_numerical():
        numerical_gradient(network, X_b, T_b)
        return network.grads.copy()

    def reference_numerical():
        return params_to_flat(reference.numerical_gradient(X_b, T_b))

    def classifier_numerical():
        return bp_classifier(
            args.hidden,
            learning_rate_init=REFERENCE["learning_rate"],
            batch_size=args.batch_size,
            max_iter=1,
            seed=args.seed,
            gradient="numerical",
        ).fit(X_fit, y_fit)

    def skbp_backprop():
        for _ in range(args.backprop_calls):
            backprop_gradient(network, X_b, T_b)
        return network.grads.copy()

    print(
        f"Network {'-'.join(map(str, layer_units))}: {n_params} parameters, "
        f"{2 * n_params} forward passes per numerical step; batch "
        f"{args.batch_size}; parameters after {args.train_epochs} epochs of "
        f"backprop from N(0, 0.01^2) (test accuracy {clf.score(X_test, y_test):.4f})."
        "\n",
        flush=True,
    )
    with blas_limit(args.blas_threads):
        timings = time_interleaved(
            {
                "skbp": skbp_numerical,
                "reference": reference_numerical,
                "classifier": classifier_numerical,
                "backprop": skbp_backprop,
            },
            args.repeats,
            scales={"classifier": n_fit_steps, "backprop": args.backprop_calls},
        )
        g_book = params_to_flat(book.numerical_gradient(X_b, T_b))

    g_skbp = timings["skbp"].result
    g_ref = timings["reference"].result
    g_bp = timings["backprop"].result
    rows = [
        ["skbp.gradients.numerical_gradient", timings["skbp"].cell()],
        ["reference loop, per-element nditer", timings["reference"].cell()],
        [
            f"BPClassifier(gradient='numerical'), {n_fit_steps}-step fit / steps",
            timings["classifier"].cell(),
        ],
        [
            f"skbp.gradients.backprop_gradient ({args.backprop_calls} per run)",
            timings["backprop"].cell(),
        ],
    ]
    print(markdown_table(["contender", "time per step"], rows))
    print()
    r, _ = ratio(timings["reference"], timings["skbp"])
    print(
        "Numerical gradient per step, speed-up of skbp over the reference loop: "
        f"{fmt_ratio(timings['reference'], timings['skbp'])}, target >= 2.5: "
        f"{target_verdict(r, 2.5, at_most=False)}"
    )
    print(
        "Speed-up of backprop over skbp's numerical gradient: "
        f"{fmt_ratio(timings['skbp'], timings['backprop'])}"
    )
    diff = float(np.abs(g_skbp - g_ref).max())
    print(
        f"Numerical gradient, largest |skbp - reference| difference: {diff:.2e}, "
        f"target <= 1e-9: {target_verdict(diff, 1e-9)}"
    )
    print(
        "Largest |skbp numerical - skbp backprop| difference: "
        f"{float(np.abs(g_skbp - g_bp).max()):.2e} (finite-difference error)"
    )
    print(
        "Largest |skbp - reference with the book's log(y + 1e-7)| difference: "
        f"{float(np.abs(g_skbp - g_book).max()):.2e} (a different loss)"
    )
    print(
        f"Largest |gradient| component: {float(np.abs(g_bp).max()):.2e}; "
        f"test accuracy after the {n_fit_steps}-step numerical fit: "
        f"{timings['classifier'].result.score(X_test, y_test):.4f}"
    )


if __name__ == "__main__":
    main()
