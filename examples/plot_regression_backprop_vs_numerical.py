"""
Backpropagation vs numerical gradients for regression
=====================================================

The same regression network is trained twice, once with
``gradient="backprop"`` and once with ``gradient="numerical"`` (central
differences of the loss, two forward passes per parameter), inside an
ordinary :func:`~sklearn.model_selection.cross_validate`, on two problems:
scikit-learn's diabetes data (one target) and a three-target
:func:`~sklearn.datasets.make_regression` problem. Each model is a
:class:`~sklearn.pipeline.Pipeline` that standardises the features before a
:class:`~skbp.BPRegressor`, and the targets are standardised too
(:class:`~sklearn.compose.TransformedTargetRegressor`), so that plain SGD
needs no tuning per problem; R² is computed on the original targets. With the
same ``random_state`` both runs start from the same weights and see the same
mini-batches, so each fold reaches the same R²; only the fit time differs.
"""

# %%
# Settings
# --------
# The defaults (50 hidden units, as the reference experiment's network)
# cost 28 s of CPU time (14 to 28 seconds on an idle 2-core machine; 3.5
# minutes measured on a busy one); the arguments let a test shrink the work.
# A numerical step costs two forward passes per parameter, so the speed-up
# grows with the size of the network.

import argparse
import warnings
from pathlib import Path

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_diabetes, make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skbp import BPRegressor

parser = argparse.ArgumentParser(description=__doc__.strip().partition("\n")[0])
parser.add_argument(
    "--n-samples", type=int, default=None, help="use the first N samples (all)"
)
parser.add_argument("--cv", type=int, default=5, help="number of folds (5)")
parser.add_argument("--epochs", type=int, default=20, help="max_iter (20)")
parser.add_argument("--hidden", type=int, default=50, help="hidden units (50)")
parser.add_argument("--batch-size", type=int, default=32, help="batch size (32)")
parser.add_argument(
    "--output",
    type=Path,
    default=Path("plot_regression_backprop_vs_numerical.png"),
    help="where to save the figure (default: %(default)s in the current directory)",
)
parser.add_argument(
    "--no-save", action="store_true", help="draw the figure but save no file"
)
args = parser.parse_args()

X_multi, y_multi = make_regression(
    n_samples=400, n_features=10, n_informative=6, n_targets=3, noise=10.0,
    random_state=0,
)  # fmt: skip
problems = {
    "diabetes": load_diabetes(return_X_y=True),
    "make_regression, 3 targets": (X_multi, y_multi),
}
problems = {
    name: (X[: args.n_samples], y[: args.n_samples])
    for name, (X, y) in problems.items()
}
for name, (X, y) in problems.items():
    n_targets = 1 if y.ndim == 1 else y.shape[1]
    print(f"{name}: {X.shape[0]} samples, {X.shape[1]} features, {n_targets} target(s)")
print(
    f"{args.cv}-fold CV, {args.epochs} epochs of plain SGD, {args.hidden} hidden units"
)


# %%
# Cross-validate both gradient methods on both problems
# -----------------------------------------------------
# The folds and the estimator's ``random_state`` are fixed, so the two runs
# of a problem differ in nothing but how each gradient is computed. Each fit
# trains exactly ``--epochs`` epochs of SGD at rate 0.01 with momentum 0.9
# (``n_iter_no_change=np.inf``); ``n_jobs`` stays at 1 so that the fit
# times are not skewed by parallel folds.


def model(gradient):
    """Standardised features and targets around a BPRegressor."""
    regressor = BPRegressor(
        hidden_layer_sizes=(args.hidden,),
        gradient=gradient,
        solver="sgd",
        learning_rate_init=0.01,
        batch_size=args.batch_size,
        max_iter=args.epochs,
        n_iter_no_change=np.inf,
        random_state=0,
    )
    return TransformedTargetRegressor(
        make_pipeline(StandardScaler(), regressor), transformer=StandardScaler()
    )


cv = KFold(n_splits=args.cv, shuffle=True, random_state=0)
results = {}
for name, (X, y) in problems.items():
    for gradient in ("backprop", "numerical"):
        with warnings.catch_warnings():
            # A fixed number of epochs on purpose: every fit stops at
            # max_iter, which a ConvergenceWarning would report once per fold.
            warnings.simplefilter("ignore", ConvergenceWarning)
            results[name, gradient] = cross_validate(
                model(gradient), X, y, cv=cv, return_estimator=True
            )


def fitted_network(result, k):
    """The BPRegressor of fold ``k``."""
    return result["estimator"][k].regressor_[-1]


# %%
# R² and fit time per fold
# ------------------------
# The last column is the largest difference between the weights the two
# methods end with: finite-difference noise, not a different model.

speed_ups = {}
for name in problems:
    bp, num = results[name, "backprop"], results[name, "numerical"]
    first = fitted_network(bp, 0)
    n_params = sum(
        W.size + b.size for W, b in zip(first.coefs_, first.intercepts_, strict=True)
    )
    n_train = first.t_ // first.n_iter_
    n_steps = first.n_iter_ * -(-n_train // min(args.batch_size, n_train))
    layer_units = [first.n_features_in_, *(W.shape[1] for W in first.coefs_)]
    print(
        f"\n## {name}: network {layer_units}, {n_params} parameters, "
        f"{n_steps} SGD steps per fit"
    )
    ratio = num["fit_time"] / bp["fit_time"]
    header = (
        f"{'fold':>4}  {'R² bp':>7}  {'R² num':>7}  {'fit bp (s)':>10}  "
        f"{'fit num (s)':>11}  {'speed-up':>8}  {'max |dW|':>8}"
    )
    print(header)
    print("-" * len(header))
    for k in range(args.cv):
        net_bp, net_num = fitted_network(bp, k), fitted_network(num, k)
        max_dw = max(
            np.abs(a - b).max()
            for a, b in zip(
                net_bp.coefs_ + net_bp.intercepts_,
                net_num.coefs_ + net_num.intercepts_,
                strict=True,
            )
        )
        print(
            f"{k:>4}  {bp['test_score'][k]:>7.4f}  {num['test_score'][k]:>7.4f}  "
            f"{bp['fit_time'][k]:>10.4f}  {num['fit_time'][k]:>11.3f}  "
            f"{ratio[k]:>7.0f}x  {max_dw:>8.1e}"
        )
    speed_ups[name] = num["fit_time"].mean() / bp["fit_time"].mean()
    print("-" * len(header))
    print(
        f"{'mean':>4}  {bp['test_score'].mean():>7.4f}  "
        f"{num['test_score'].mean():>7.4f}  {bp['fit_time'].mean():>10.4f}  "
        f"{num['fit_time'].mean():>11.3f}  {speed_ups[name]:>7.0f}x"
    )
    print(
        f"mean speed-up of backprop (ratio of mean fit times): "
        f"{speed_ups[name]:.0f}x; per SGD step "
        f"{1e3 * bp['fit_time'].mean() / n_steps:.2f} ms vs "
        f"{1e3 * num['fit_time'].mean() / n_steps:.1f} ms"
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
    fig, axes = plt.subplots(2, len(problems), figsize=(11, 7), squeeze=False)
    for column, name in enumerate(problems):
        ax_time, ax_r2 = axes[:, column]
        for offset, gradient in zip(
            (-width / 2, width / 2), ("backprop", "numerical"), strict=True
        ):
            result = results[name, gradient]
            ax_time.bar(folds + offset, result["fit_time"], width, label=gradient)
            ax_r2.bar(folds + offset, result["test_score"], width, label=gradient)
        ax_time.set_yscale("log")
        ax_time.set_ylabel("fit time (s, log scale)")
        ax_time.set_title(f"{name}: backprop {speed_ups[name]:.0f}x faster")
        ax_r2.set_ylabel("test R²")
        ax_r2.set_ylim(min(0, ax_r2.get_ylim()[0]), 1)
        for ax in (ax_time, ax_r2):
            ax.set_xticks(folds, [f"fold {k}" for k in folds])
    fig.suptitle(f"BPRegressor, {args.cv}-fold cross-validation")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="lower center", ncols=2)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    if not args.no_save:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.output, dpi=100)
        print(f"figure saved to {args.output}")
