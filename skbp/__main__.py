"""``python -m skbp``: re-run the reference experiment, backprop vs numerical.

Trains the Affine -> Sigmoid -> Affine -> SoftmaxWithLoss network on
scikit-learn's digits (pixels as loaded, 80/20 split, N(0, 0.01^2) weights,
plain SGD) twice from the same seed, once per gradient method, and reports
time per step, accuracy, and how closely the two fitted models agree.
"""

import argparse
import math
import sys
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from . import BPClassifier, gradient_check

METHODS = ("backprop", "numerical")


def parse_args(argv=None):
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m skbp",
        description=(
            "Train the same network on the digits data with backpropagation and "
            "with numerical gradients from the same seed, and compare time per SGD "
            "step, test accuracy and the fitted weights. The defaults (20 epochs, "
            "300 steps) take about two minutes on 2 cores; --epochs 70 runs the "
            "reference's ~1000 steps."
        ),
    )
    parser.add_argument("--epochs", type=int, default=20, help="epochs (default 20)")
    parser.add_argument("--hidden", type=int, default=50, help="hidden units (50)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument("--batch-size", type=int, default=100, help="batch (100)")
    parser.add_argument(
        "--learning-rate", type=float, default=0.1, help="SGD step size (0.1)"
    )
    parser.add_argument(
        "--weight-init-std", type=float, default=0.01, help="weight std (0.01)"
    )
    parser.add_argument(
        "--plot",
        metavar="PATH",
        default="skbp_reference.png",
        help="where to save the figure (default skbp_reference.png)",
    )
    parser.add_argument("--no-plot", action="store_true", help="save no figure")
    args = parser.parse_args(argv)
    for name in ("epochs", "hidden", "batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    for name in ("learning_rate", "weight_init_std"):
        if not getattr(args, name) > 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    return args


def train(method, args, X_train, y_train, X_test, y_test, progress):
    """Fit one epoch at a time, recording loss, test accuracy and fit time."""
    clf = BPClassifier(
        (args.hidden,),
        gradient=method,
        learning_rate_init=args.learning_rate,
        batch_size=args.batch_size,
        max_iter=1,
        weight_init_std=args.weight_init_std,
        # A fixed step count, as the reference: no stopping rule, no warning.
        n_iter_no_change=np.inf,
        # A RandomState instance, not an int: each warm-started epoch continues
        # the same stream, so the batches are exactly those of a single fit.
        random_state=np.random.RandomState(args.seed),
        warm_start=True,
    )
    steps_per_epoch = math.ceil(len(X_train) / min(args.batch_size, len(X_train)))
    total = args.epochs * steps_per_epoch
    record = {"steps": [], "loss": [], "accuracy": [], "seconds": 0.0}
    for epoch in range(1, args.epochs + 1):
        start = time.perf_counter()
        clf.fit(X_train, y_train)
        record["seconds"] += time.perf_counter() - start
        record["steps"].append(epoch * steps_per_epoch)
        record["loss"].append(clf.loss_)
        record["accuracy"].append(clf.score(X_test, y_test))
        progress(method, epoch * steps_per_epoch, total, record["seconds"])
    record["per_step"] = record["seconds"] / total
    return clf, record


def make_progress(stream):
    """Return a progress callback: live line on a terminal, a line per epoch else."""
    live = stream.isatty()

    def progress(method, done, total, seconds):
        eta = seconds / done * (total - done)
        line = (
            f"{method:>9}: {done:4d}/{total} steps  {100 * done / total:3.0f}%  "
            f"{seconds:6.1f} s elapsed  ETA {eta:6.1f} s"
        )
        if live:
            stream.write("\r" + line + ("\n" if done == total else ""))
        elif method == "numerical" or done == total:
            stream.write(line + "\n")
        stream.flush()

    return progress


def save_plot(path, records):
    """Save loss and test accuracy against steps for both methods; return path."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    for method, style in zip(METHODS, ("-", "--"), strict=True):
        rec = records[method]
        ax_loss.plot(rec["steps"], rec["loss"], style, marker=".", label=method)
        ax_acc.plot(rec["steps"], rec["accuracy"], style, marker=".", label=method)
    ax_loss.set(xlabel="SGD steps", ylabel="training loss (mean per epoch)")
    ax_loss.set_yscale("log")
    ax_acc.set(xlabel="SGD steps", ylabel="test accuracy", ylim=(0, 1.02))
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.suptitle("Backpropagation vs numerical gradient on digits (same seed)")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def main(argv=None):
    """Run the experiment and print the report."""
    args = parse_args(argv)
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=args.seed
    )
    steps_per_epoch = math.ceil(len(X_train) / min(args.batch_size, len(X_train)))
    n_params = (64 + 1) * args.hidden + (args.hidden + 1) * 10
    print(
        f"Digits: {len(X_train)} training and {len(X_test)} test images, pixels 0-16.\n"
        f"Network: 64-{args.hidden}-10 (Affine -> Sigmoid -> Affine -> "
        f"SoftmaxWithLoss), {n_params} parameters, weights N(0, "
        f"{args.weight_init_std}^2).\n"
        f"Training: {args.epochs} epochs x {steps_per_epoch} steps = "
        f"{args.epochs * steps_per_epoch} SGD steps, batch {args.batch_size}, "
        f"learning rate {args.learning_rate}, seed {args.seed}.\n"
        f"A numerical step costs {2 * n_params} forward passes "
        f"(two per parameter); a backprop step one forward and one backward.\n"
    )
    progress = make_progress(sys.stderr)
    models, records = {}, {}
    for method in METHODS:
        models[method], records[method] = train(
            method, args, X_train, y_train, X_test, y_test, progress
        )

    print(
        f"\n{'method':<10} {'fit [s]':>9} {'per step [s]':>13} "
        f"{'test accuracy':>14} {'final loss':>11}"
    )
    for method in METHODS:
        rec = records[method]
        print(
            f"{method:<10} {rec['seconds']:9.2f} {rec['per_step']:13.6f} "
            f"{rec['accuracy'][-1]:14.4f} {rec['loss'][-1]:11.6f}"
        )
    speedup = records["numerical"]["per_step"] / records["backprop"]["per_step"]
    max_diff = np.abs(models["backprop"]._params - models["numerical"]._params).max()
    print(f"\nSpeed-up of backprop over numerical, per step: {speedup:,.0f}x")
    print(f"Largest difference between the two fitted weight sets: {max_diff:.2e}")

    errors = gradient_check(
        models["backprop"], X_train[: args.batch_size], y_train[: args.batch_size]
    )
    print(
        "gradient_check at the fitted backprop model (one batch), relative error "
        "||g_bp - g_num|| / (||g_bp|| + ||g_num||):"
    )
    print("  " + "  ".join(f"{name}: {err:.1e}" for name, err in errors.items()))

    if not args.no_plot:
        path = save_plot(args.plot, records)
        if path is None:
            print("\nmatplotlib is not installed: no figure (pip install matplotlib).")
        else:
            print(f"\nFigure of loss and test accuracy against steps saved to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
