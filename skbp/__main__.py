"""``python -m skbp``: re-run the reference experiment, backprop vs numerical.

Trains the Affine -> Sigmoid -> Affine -> SoftmaxWithLoss network on
scikit-learn's digits (pixels as loaded, 80/20 split, N(0, 0.01^2) weights,
plain SGD) twice from the same seed, once per gradient method, and reports
time per step, accuracy, and how closely the two fitted models agree. Then
(unless ``--no-equal-time``) backprop trains again, from the same seed, for
as long as the numerical fit took, and reports what it reached in that time.
"""

import argparse
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from . import BPClassifier, gradient_check
from ._callbacks import CALLBACKS_SUPPORTED

METHODS = ("backprop", "numerical")

# Figures of ``python -m skbp`` and of every example go to the current
# directory, in a PNG named after the command: skbp.png here,
# plot_grid_search.png for examples/plot_grid_search.py, and so on.
DEFAULT_PLOT = "skbp.png"
MAX_SEED = 2**32 - 1  # numpy's RandomState takes seeds in [0, 2**32 - 1]


def _prog():
    """``skbp`` when run as the installed console command, else ``python -m skbp``."""
    return "skbp" if Path(sys.argv[0]).name == "skbp" else "python -m skbp"


def _figure_path_problem(path):
    """Why a figure cannot be saved to ``path``, or None if it can.

    Checked before training, so that a typo costs nothing: the directory must
    exist, the format must be one matplotlib writes, and the file must be
    creatable (tried for real, then removed if it did not exist before).
    """
    path = Path(path)
    try:
        from matplotlib.backend_bases import FigureCanvasBase
    except ImportError:
        return None  # no figure will be drawn: nothing to check
    if path.is_dir():
        return f"{str(path)!r} is a directory; give a file name such as {DEFAULT_PLOT}"
    if not path.parent.is_dir():
        return f"no directory {str(path.parent)!r} to save {path.name!r} in"
    formats = FigureCanvasBase.get_supported_filetypes()
    if path.suffix.lstrip(".").lower() not in formats:
        return (
            f"cannot save a figure as {path.name!r}: the file name must end in "
            f"one of {', '.join('.' + ext for ext in sorted(formats))}"
        )
    existed = path.exists()
    try:
        with open(path, "ab"):
            pass
    except OSError as exc:
        return f"cannot write {str(path)!r}: {exc.strerror}"
    if not existed:
        path.unlink()
    return None


def parse_args(argv=None):
    """Parse the command line; exit with a usage error on bad values."""
    parser = argparse.ArgumentParser(
        description=(
            "Train the same network on the digits data with backpropagation and "
            "with numerical gradients from the same seed, and compare time per SGD "
            "step, test accuracy and the fitted weights; then train backprop again "
            "for as long as the numerical fit took. The defaults (20 epochs, 300 "
            "steps) take about 1.5 minutes on an idle 2-core machine and several "
            "times that on a busy one; --no-equal-time halves it; --epochs 70 runs "
            "the reference's ~1000 steps."
        ),
        prog=_prog(),
    )
    parser.add_argument("--epochs", type=int, default=20, help="epochs (default 20)")
    parser.add_argument("--hidden", type=int, default=50, help="hidden units (50)")
    parser.add_argument(
        "--seed", type=int, default=0, help=f"random seed, 0 to {MAX_SEED} (0)"
    )
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
        default=DEFAULT_PLOT,
        help="where to save the figure of loss and accuracy against steps "
        "(default: %(default)s in the current directory)",
    )
    parser.add_argument("--no-plot", action="store_true", help="save no figure")
    parser.add_argument(
        "--no-equal-time",
        action="store_true",
        help="skip the third run: backprop trained for as long as the numerical "
        "fit took (it costs about as long as the numerical fit)",
    )
    args = parser.parse_args(argv)
    for name in ("epochs", "hidden", "batch_size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    for name in ("learning_rate", "weight_init_std"):
        if not 0 < getattr(args, name) < math.inf:
            parser.error(f"--{name.replace('_', '-')} must be positive and finite")
    if not 0 <= args.seed <= MAX_SEED:
        parser.error(f"--seed must be between 0 and {MAX_SEED}")
    if not args.no_plot:
        problem = _figure_path_problem(args.plot)
        if problem is not None:
            parser.error(f"--plot: {problem}")
    return args


def reference_classifier(method, args, batch_size):
    """The reference experiment's ``BPClassifier`` for ``method``, unfitted.

    Every setting is passed explicitly so that the results do not change with
    BPClassifier's defaults: logistic units, plain SGD at a constant rate, no
    momentum, no L2, N(0, std^2) weights, a fixed step count (no stopping
    rule). ``batch_size`` is ``--batch-size`` clipped to the training rows.
    """
    return BPClassifier(
        hidden_layer_sizes=(args.hidden,),
        activation="logistic",
        solver="sgd",
        gradient=method,
        alpha=0.0,
        batch_size=batch_size,
        learning_rate="constant",
        learning_rate_init=args.learning_rate,
        momentum=0.0,
        nesterovs_momentum=False,
        weight_init_std=args.weight_init_std,
        max_iter=args.epochs,
        n_iter_no_change=np.inf,
        random_state=args.seed,
    )


def _fit_quietly(clf, X, y, last_epoch=True):
    """``clf.fit(X, y)`` without the warnings a fixed number of epochs causes."""
    with warnings.catch_warnings():
        # A fixed number of epochs on purpose: the fit stops at max_iter,
        # which a ConvergenceWarning reports.
        warnings.simplefilter("ignore", ConvergenceWarning)
        if not last_epoch:  # an early epoch may still be on the plateau
            warnings.filterwarnings("ignore", ".*only one class", UserWarning)
        clf.fit(X, y)


def train(method, args, X_train, y_train, X_test, y_test, stream):
    """Fit ``args.epochs`` epochs, recording loss, test accuracy and fit time.

    Progress and the per-epoch record come from scikit-learn's callbacks
    (scikit-learn 1.9+): a ``ProgressBar`` on a terminal with ``rich``
    installed, else a line per epoch on ``stream``.
    """
    batch_size = min(args.batch_size, len(X_train))
    clf = reference_classifier(method, args, batch_size)
    steps_per_epoch = math.ceil(len(X_train) / batch_size)
    record = EpochRecord(X_test, y_test, steps_per_epoch)
    progress = PlainProgress(method, args.epochs, steps_per_epoch, stream)
    if CALLBACKS_SUPPORTED:
        bar = _progress_bar(stream)
        if bar is not None:
            print(f"{method}:", flush=True)  # the bar names the estimator only
        clf.set_callbacks(record, bar or progress)
        epochs = [args.epochs]
    else:  # no callbacks: one warm-started fit per epoch (each reshuffles afresh)
        clf.set_params(
            max_iter=1, warm_start=True, random_state=np.random.RandomState(args.seed)
        )
        epochs = range(1, args.epochs + 1)
    record.start = time.perf_counter()
    for epoch in epochs:
        _fit_quietly(clf, X_train, y_train, last_epoch=epoch == args.epochs)
        if not CALLBACKS_SUPPORTED:
            record.add(clf)
            progress.line(epoch)
    # Fit time only: the test-set scoring of each epoch is taken out.
    record.seconds = time.perf_counter() - record.start - record.overhead
    record.per_step = record.seconds / (args.epochs * steps_per_epoch)
    return clf, record


def train_for(seconds, args, X_train, y_train, X_test, y_test):
    """Train backprop from the same seed for ``seconds`` of measured fit time.

    The equal-time run: warm-started fits of 1, 2, 4, 8, ... epochs, each
    continuing from the previous weights and the same random stream (its
    first epoch is the fixed-length run's first epoch), each chunk no longer
    than the time left at the rate measured so far; it ends at the first
    chunk that brings the measured fit time to ``seconds``. After each chunk
    the test accuracy is recorded outside the timed fit, which gives the
    accuracy against elapsed seconds on a log scale. Chunks rather than one
    fit with a callback: a callback that reads the model every epoch costs a
    copy of it per epoch, which would take fit time from backprop.
    """
    batch_size = min(args.batch_size, len(X_train))
    clf = reference_classifier("backprop", args, batch_size)
    clf.set_params(warm_start=True, random_state=np.random.RandomState(args.seed))
    steps_per_epoch = math.ceil(len(X_train) / batch_size)
    record = EpochRecord(X_test, y_test, steps_per_epoch)
    epochs, chunk, elapsed = 0, 1, 0.0
    while True:
        clf.set_params(max_iter=chunk)
        start = time.perf_counter()
        _fit_quietly(clf, X_train, y_train, last_epoch=False)
        elapsed += time.perf_counter() - start
        epochs += chunk
        record.add(clf, steps=epochs * steps_per_epoch, seconds=elapsed)
        if elapsed >= seconds:
            break
        rate = elapsed / epochs  # seconds per epoch, measured so far
        chunk = max(1, min(2 * chunk, math.ceil((seconds - elapsed) / rate)))
    record.seconds = elapsed
    record.per_step = elapsed / (epochs * steps_per_epoch)
    return clf, record


def _progress_bar(stream):
    """scikit-learn's ``ProgressBar`` on a terminal if rich is installed, else None.

    rich draws on standard output; the plain lines would go to ``stream``.
    """
    if not (CALLBACKS_SUPPORTED and stream.isatty() and sys.stdout.isatty()):
        return None
    try:
        from sklearn.callback import ProgressBar

        return ProgressBar()
    except ImportError:  # rich is not installed
        return None


class EpochRecord:
    """Callback recording each epoch's loss, test accuracy and fit time.

    ``seconds`` holds the fit time elapsed at each record, the recording's
    own time (scoring the test set) taken out.
    """

    def __init__(self, X_test, y_test, steps_per_epoch):
        self.X_test, self.y_test = X_test, y_test
        self.steps_per_epoch = steps_per_epoch
        self.steps, self.loss, self.accuracy, self.times = [], [], [], []
        self.overhead = 0.0
        self.start = time.perf_counter()

    def setup(self, estimator, context):
        pass

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        if context.task_name == "epoch":
            self.add(fitted_estimator)

    def add(self, model, steps=None, seconds=None):
        """Record ``model`` after ``steps`` steps (default: one more epoch)."""
        start = time.perf_counter()
        if seconds is None:
            seconds = start - self.start - self.overhead
        if steps is None:
            steps = (len(self.steps) + 1) * self.steps_per_epoch
        self.steps.append(steps)
        self.times.append(seconds)
        self.loss.append(model.loss_)
        self.accuracy.append(model.score(self.X_test, self.y_test))
        self.overhead += time.perf_counter() - start

    def teardown(self, estimator, context):
        pass


class PlainProgress:
    """Callback writing a line per epoch (numerical) or per fit (backprop) to a stream.

    The fallback of scikit-learn's ``ProgressBar`` when the output is not a
    terminal (a log file, a pipe) or rich is not installed.
    """

    def __init__(self, method, epochs, steps_per_epoch, stream):
        self.method, self.epochs = method, epochs
        self.steps_per_epoch, self.stream = steps_per_epoch, stream
        self.start = time.perf_counter()

    def setup(self, estimator, context):
        self.start = time.perf_counter()

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context):
        if context.task_name == "epoch":
            self.line(context.task_id + 1)

    def line(self, epoch):
        """Write the progress after ``epoch`` epochs."""
        if self.method != "numerical" and epoch < self.epochs:
            return  # a backprop epoch takes milliseconds
        seconds = time.perf_counter() - self.start
        done, total = epoch * self.steps_per_epoch, self.epochs * self.steps_per_epoch
        eta = seconds / epoch * (self.epochs - epoch)
        self.stream.write(
            f"{self.method:>9}: {done:4d}/{total} steps  {100 * done / total:3.0f}%  "
            f"{seconds:6.1f} s elapsed  ETA {eta:6.1f} s\n"
        )
        self.stream.flush()

    def teardown(self, estimator, context):
        pass


def save_plot(path, records, equal_time=None):
    """Save the figure of both runs (and the equal-time run); return path.

    Loss and test accuracy against SGD steps, where the two methods' curves
    coincide, and test accuracy against elapsed fit time (log scale), where
    backprop, given the numerical fit's time (``equal_time``, a record), runs
    far ahead. Returns None when matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, (ax_loss, ax_acc, ax_time) = plt.subplots(
        1, 3, figsize=(14, 4), layout="constrained"
    )
    for method, style in zip(METHODS, ("-", "--"), strict=True):
        rec = records[method]
        ax_loss.plot(rec.steps, rec.loss, style, marker=".", label=method)
        ax_acc.plot(rec.steps, rec.accuracy, style, marker=".", label=method)
    timed = {"numerical": records["numerical"]}
    if equal_time is not None:
        timed["backprop, for the numerical fit's time"] = equal_time
    else:
        timed["backprop"] = records["backprop"]
    for (label, rec), color in zip(sorted(timed.items()), ("C0", "C1"), strict=True):
        ax_time.plot(rec.times, rec.accuracy, marker=".", color=color, label=label)
    ax_loss.set(xlabel="SGD steps", ylabel="training loss (mean per epoch)")
    ax_loss.set_yscale("log")
    ax_acc.set(xlabel="SGD steps", ylabel="test accuracy", ylim=(0, 1.02))
    ax_time.set(
        xlabel="fit time [s] (log scale)",
        ylabel="test accuracy",
        xscale="log",
        ylim=(0, 1.02),
    )
    for ax in (ax_loss, ax_acc, ax_time):
        ax.grid(alpha=0.3)
    ax_loss.legend()
    ax_acc.legend(loc="lower right")
    ax_time.legend(loc="lower center")  # below both curves' plateaus
    fig.suptitle("Backpropagation vs numerical gradient on digits (same seed)")
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _count(n, noun):
    """``n`` and ``noun``, in the plural unless ``n`` is 1."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def print_setup(args, n_train, n_test):
    """Print what is trained, on what, and what a step of each method costs."""
    batch_size = min(args.batch_size, n_train)
    steps_per_epoch = math.ceil(n_train / batch_size)
    n_params = (64 + 1) * args.hidden + (args.hidden + 1) * 10
    clipped = (
        f" (--batch-size {args.batch_size} clipped to the training rows)"
        if batch_size < args.batch_size
        else ""
    )
    print(
        f"Digits: {n_train} training and {n_test} test images, pixels 0-16.\n"
        f"Network: 64-{args.hidden}-10 (Affine -> Sigmoid -> Affine -> "
        f"SoftmaxWithLoss), {n_params:,} parameters, weights N(0, "
        f"{args.weight_init_std}^2).\n"
        f"Training: {_count(args.epochs, 'epoch')} x "
        f"{_count(steps_per_epoch, 'step')} = "
        f"{_count(args.epochs * steps_per_epoch, 'SGD step')}, batch {batch_size}"
        f"{clipped}, learning rate {args.learning_rate}, seed {args.seed}.\n"
        f"A numerical step costs {2 * n_params:,} forward passes "
        f"(two per parameter); a backprop step one forward and one backward."
    )


def print_table(rows):
    """Print one line per run: steps, fit time, time per step, accuracy, loss."""
    print(
        f"\n{'method':<21} {'steps':>7} {'fit [s]':>9} {'per step [s]':>13} "
        f"{'test accuracy':>14} {'final loss':>11}"
    )
    for label, rec in rows:
        print(
            f"{label:<21} {rec.steps[-1]:7d} {rec.seconds:9.2f} "
            f"{rec.per_step:13.6f} {rec.accuracy[-1]:14.4f} {rec.loss[-1]:11.6f}"
        )


def main(argv=None):
    """Run the experiment and print the report."""
    args = parse_args(argv)
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.2, random_state=args.seed
    )
    print_setup(args, len(X_train), len(X_test))
    models, records = {}, {}
    for method in METHODS:
        try:
            models[method], records[method] = train(
                method, args, X_train, y_train, X_test, y_test, sys.stderr
            )
        except ValueError as exc:  # divergence: a rate or an init too large
            print(
                f"\n{_prog()}: error: {method} training failed with "
                f"--learning-rate {args.learning_rate:g} and --weight-init-std "
                f"{args.weight_init_std:g}: {exc}",
                file=sys.stderr,
            )
            return 1
    rows = [(method, records[method]) for method in METHODS]
    equal_time = None
    if not args.no_equal_time:
        seconds = records["numerical"].seconds
        print(
            f"backprop: training again for the numerical fit's {seconds:.1f} s ...",
            file=sys.stderr,
            flush=True,
        )
        _, equal_time = train_for(seconds, args, X_train, y_train, X_test, y_test)
        rows.append(("backprop, equal time", equal_time))

    print_table(rows)
    speedup = records["numerical"].per_step / records["backprop"].per_step
    max_diff = max(
        np.abs(a - b).max()
        for a, b in zip(
            models["backprop"].coefs_ + models["backprop"].intercepts_,
            models["numerical"].coefs_ + models["numerical"].intercepts_,
            strict=True,
        )
    )
    print(f"\nSpeed-up of backprop over numerical, per step: {speedup:,.0f}x")
    print(f"Largest difference between the two fitted weight sets: {max_diff:.2e}")
    if equal_time is not None:
        print(
            f"In the numerical fit's time, backprop trained "
            f"{_count(equal_time.steps[-1], 'step')} "
            f"({equal_time.steps[-1] / records['numerical'].steps[-1]:,.0f}x as "
            f"many): test accuracy {equal_time.accuracy[-1]:.4f} against "
            f"{records['numerical'].accuracy[-1]:.4f}."
        )

    errors = gradient_check(
        models["backprop"], X_train[: args.batch_size], y_train[: args.batch_size]
    )
    print(
        "gradient_check at the fitted backprop model (one batch), relative error "
        "||g_bp - g_num|| / (||g_bp|| + ||g_num||):"
    )
    print("  " + "  ".join(f"{name}: {err:.1e}" for name, err in errors.items()))

    if not args.no_plot:
        path = save_plot(args.plot, records, equal_time)
        if path is None:
            print("\nmatplotlib is not installed: no figure (pip install matplotlib).")
        else:
            print(
                f"\nFigure of loss and test accuracy against steps and against "
                f"fit time saved to {path}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
