"""
Backpropagation vs numerical gradients under cross-validation
=============================================================

The same network is trained twice on scikit-learn's digits, once with
``gradient="backprop"`` and once with ``gradient="numerical"`` (central
differences of the loss, two forward passes per parameter), inside an ordinary
:func:`~sklearn.model_selection.cross_validate`. With the same
``random_state`` both runs start from the same weights and see the same
mini-batches, so each fold reaches the same accuracy; only the fit time
differs, by orders of magnitude. The numerical fits dominate the run time, so
the network is kept small (10 hidden units, a few epochs). A numerical step
costs two forward passes per parameter, so the speed-up grows with the size of
the network: the reference 64-50-10 network has five times the parameters of
this 64-10-10 one.
"""

# %%
# Settings
# --------
# The defaults cost 23 s of CPU time (12 to 23 seconds on an idle 2-core
# machine; 6 minutes measured on a busy one); the arguments let a test shrink
# the work.

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, cross_validate

from skbp import BPClassifier

parser = argparse.ArgumentParser(description=__doc__.strip().partition("\n")[0])
parser.add_argument(
    "--n-samples", type=int, default=None, help="use the first N digits (all)"
)
parser.add_argument("--cv", type=int, default=5, help="number of folds (5)")
parser.add_argument("--epochs", type=int, default=5, help="max_iter (5)")
parser.add_argument("--hidden", type=int, default=10, help="hidden units (10)")
parser.add_argument("--batch-size", type=int, default=32, help="batch size (32)")
parser.add_argument(
    "--output",
    type=Path,
    default=Path("plot_cross_val_backprop_vs_numerical.png"),
    help="where to save the figure (default: %(default)s in the current directory)",
)
parser.add_argument(
    "--no-save", action="store_true", help="draw the figure but save no file"
)
args = parser.parse_args()

X, y = load_digits(return_X_y=True)
X, y = X[: args.n_samples], y[: args.n_samples]
print(f"digits: {X.shape[0]} samples, {X.shape[1]} features, {args.cv}-fold CV")

# %%
# Cross-validate both gradient methods
# ------------------------------------
# The folds and the estimator's ``random_state`` are fixed, so the two runs
# differ in nothing but how each gradient is computed. ``n_jobs`` stays at 1
# so that the fit times are not skewed by parallel folds. The training
# settings are the reference experiment's, passed explicitly (plain SGD at
# rate 0.1, no momentum, no L2) with a smaller network, smaller batches and
# the default Glorot initialisation; each fit trains exactly ``--epochs``
# epochs (``n_iter_no_change=np.inf``).

cv = StratifiedKFold(n_splits=args.cv, shuffle=True, random_state=0)
results = {}
for gradient in ("backprop", "numerical"):
    clf = BPClassifier(
        hidden_layer_sizes=(args.hidden,),
        gradient=gradient,
        solver="sgd",
        learning_rate_init=0.1,
        momentum=0.0,
        alpha=0.0,
        batch_size=args.batch_size,
        max_iter=args.epochs,
        n_iter_no_change=np.inf,
        random_state=0,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        # A short, fixed number of epochs on purpose: every fit stops at
        # max_iter, which a ConvergenceWarning would report once per fold.
        warnings.simplefilter("ignore", ConvergenceWarning)
        results[gradient] = cross_validate(clf, X, y, cv=cv, return_estimator=True)
    print(f"{gradient:>9}: cross_validate took {time.perf_counter() - start:.1f} s")

bp, num = results["backprop"], results["numerical"]
first = bp["estimator"][0]
n_params = sum(
    W.size + b.size for W, b in zip(first.coefs_, first.intercepts_, strict=True)
)
n_train = first.t_ // first.n_iter_
n_steps = first.n_iter_ * -(-n_train // min(args.batch_size, n_train))
layer_units = [first.n_features_in_, *(W.shape[1] for W in first.coefs_)]
print(
    f"network {layer_units}: {n_params} parameters; "
    f"{n_steps} SGD steps per fit ({args.epochs} epochs of {n_train} samples)"
)

# %%
# Accuracy and fit time per fold
# -------------------------------
# The last column is the largest difference between the weights the two
# methods end with: finite-difference noise, not a different model.

ratio = num["fit_time"] / bp["fit_time"]
header = (
    f"{'fold':>4}  {'acc bp':>7}  {'acc num':>7}  {'fit bp (s)':>10}  "
    f"{'fit num (s)':>11}  {'speed-up':>8}  {'max |dW|':>8}"
)
print()
print(header)
print("-" * len(header))
for k in range(args.cv):
    est_bp, est_num = bp["estimator"][k], num["estimator"][k]
    max_dw = max(
        np.abs(a - b).max()
        for a, b in zip(
            est_bp.coefs_ + est_bp.intercepts_,
            est_num.coefs_ + est_num.intercepts_,
            strict=True,
        )
    )
    print(
        f"{k:>4}  {bp['test_score'][k]:>7.4f}  {num['test_score'][k]:>7.4f}  "
        f"{bp['fit_time'][k]:>10.4f}  {num['fit_time'][k]:>11.3f}  "
        f"{ratio[k]:>7.0f}x  {max_dw:>8.1e}"
    )
print("-" * len(header))
print(
    f"{'mean':>4}  {bp['test_score'].mean():>7.4f}  {num['test_score'].mean():>7.4f}  "
    f"{bp['fit_time'].mean():>10.4f}  {num['fit_time'].mean():>11.3f}  "
    f"{num['fit_time'].mean() / bp['fit_time'].mean():>7.0f}x"
)

speed_up = num["fit_time"].mean() / bp["fit_time"].mean()
print()
print(
    f"accuracy: backprop {bp['test_score'].mean():.4f} "
    f"+/- {bp['test_score'].std():.4f}, numerical {num['test_score'].mean():.4f} "
    f"+/- {num['test_score'].std():.4f}"
)
print(
    f"mean speed-up of backprop (ratio of mean fit times): {speed_up:.0f}x; "
    f"per SGD step {1e3 * bp['fit_time'].mean() / n_steps:.2f} ms vs "
    f"{1e3 * num['fit_time'].mean() / n_steps:.0f} ms"
)

# %%
# Plot
# ----
# Fit time is on a log scale: on a linear one the backprop bars would not
# show.

try:
    import matplotlib
except ImportError:
    print("matplotlib is not installed: skipping the plot (pip install matplotlib)")
else:
    matplotlib.use("Agg")  # no display needed: the figure is saved to a file
    import matplotlib.pyplot as plt

    folds = np.arange(args.cv)
    width = 0.4
    fig, (ax_time, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for offset, (gradient, res) in zip(
        (-width / 2, width / 2), results.items(), strict=True
    ):
        ax_time.bar(folds + offset, res["fit_time"], width, label=gradient)
        ax_acc.bar(folds + offset, res["test_score"], width, label=gradient)
    ax_time.set_yscale("log")
    ax_time.set_ylabel("fit time (s, log scale)")
    ax_time.set_title(f"Fit time: backprop is {speed_up:.0f}x faster")
    ax_acc.set_ylabel("test accuracy")
    ax_acc.set_ylim(0, 1)
    gap = np.abs(bp["test_score"] - num["test_score"]).max()
    ax_acc.set_title(
        "Accuracy: the same on every fold"
        if gap == 0
        else f"Accuracy: differs by at most {gap:.4f}"
    )
    for ax in (ax_time, ax_acc):
        ax.set_xticks(folds, [f"fold {k}" for k in folds])
    fig.suptitle(f"BPClassifier on digits, {args.cv}-fold cross-validation")
    fig.legend(*ax_time.get_legend_handles_labels(), loc="lower center", ncols=2)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    if not args.no_save:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.output, dpi=100)
        print(f"figure saved to {args.output}")
