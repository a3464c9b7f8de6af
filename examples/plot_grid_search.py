"""
Grid search over the gradient method
====================================

``gradient`` is an ordinary hyperparameter of :class:`~skbp.BPClassifier`, so
:class:`~sklearn.model_selection.GridSearchCV` can search it alongside the
network size and the learning rate, here for a
``Pipeline(StandardScaler, BPClassifier)`` on the digits. The search's
``cv_results_`` then show what backpropagation buys: for every combination of
the other hyperparameters the two gradient methods reach the same test score,
and the numerical one takes far longer to get there.
"""

# %%
# Settings
# --------
# The defaults cost 17 s of CPU time (8 to 17 seconds on an idle 2-core
# machine; 2.5 minutes measured on a busy one); the arguments let a test
# shrink the work.

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skbp import BPClassifier

parser = argparse.ArgumentParser(description=__doc__.strip().partition("\n")[0])
parser.add_argument(
    "--n-samples", type=int, default=None, help="use the first N digits (all)"
)
parser.add_argument("--cv", type=int, default=3, help="number of folds (3)")
parser.add_argument("--epochs", type=int, default=3, help="max_iter (3)")
parser.add_argument(
    "--hidden-sizes",
    type=int,
    nargs="+",
    default=[5, 10],
    help="hidden layer sizes to search (5 10)",
)
parser.add_argument(
    "--learning-rates",
    type=float,
    nargs="+",
    default=[0.1, 1.0],
    help="learning_rate_init values to search (0.1 1.0)",
)
parser.add_argument(
    "--output",
    type=Path,
    default=Path("plot_grid_search.png"),
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
# The search
# ----------
# ``make_pipeline`` names the classifier step ``bpclassifier``, hence the
# ``bpclassifier__`` prefix. ``n_jobs`` stays at 1 so that the fit times are
# not skewed by parallel fits, and ``refit=False`` because only
# ``cv_results_`` is needed here. Every candidate trains plain SGD (no
# momentum, no L2, as the reference experiment) for exactly ``--epochs``
# epochs: ``n_iter_no_change=np.inf``.

pipe = make_pipeline(
    StandardScaler(),
    BPClassifier(
        solver="sgd",
        momentum=0.0,
        alpha=0.0,
        batch_size=32,
        max_iter=args.epochs,
        n_iter_no_change=np.inf,
        random_state=0,
    ),
)
param_grid = {
    "bpclassifier__gradient": ["backprop", "numerical"],
    "bpclassifier__hidden_layer_sizes": [(h,) for h in args.hidden_sizes],
    "bpclassifier__learning_rate_init": args.learning_rates,
}
search = GridSearchCV(
    pipe,
    param_grid,
    cv=StratifiedKFold(n_splits=args.cv, shuffle=True, random_state=0),
    refit=False,
)
start = time.perf_counter()
with warnings.catch_warnings():
    # A short, fixed number of epochs on purpose: every fit stops at max_iter,
    # which a ConvergenceWarning would report once per candidate and fold.
    warnings.simplefilter("ignore", ConvergenceWarning)
    search.fit(X, y)
print(
    f"GridSearchCV: {len(search.cv_results_['params'])} candidates x {args.cv} "
    f"folds in {time.perf_counter() - start:.1f} s"
)

# %%
# ``cv_results_`` as a table
# --------------------------
# One row per candidate, best first. Pairs of rows that differ only in
# ``gradient`` share a rank: the two methods train the same network on the
# same batches.

res = search.cv_results_
candidates = [
    dict(
        rank=int(res["rank_test_score"][i]),
        gradient=params["bpclassifier__gradient"],
        hidden=params["bpclassifier__hidden_layer_sizes"],
        lr=params["bpclassifier__learning_rate_init"],
        score=res["mean_test_score"][i],
        score_std=res["std_test_score"][i],
        fit_time=res["mean_fit_time"][i],
    )
    for i, params in enumerate(res["params"])
]

header = (
    f"{'rank':>4}  {'gradient':<9}  {'hidden':>6}  {'lr':>5}  "
    f"{'mean_test_score':>15}  {'mean_fit_time (s)':>17}"
)
print()
print(header)
print("-" * len(header))
for c in sorted(candidates, key=lambda c: (c["rank"], c["gradient"])):
    score = f"{c['score']:.4f} +/- {c['score_std']:.3f}"
    print(
        f"{c['rank']:>4}  {c['gradient']:<9}  {str(c['hidden']):>6}  {c['lr']:>5g}  "
        f"{score:>15}  {c['fit_time']:>17.4f}"
    )
print()
print(f"best_params_ (first of the tied candidates): {search.best_params_}")

# %%
# Backprop and numerical side by side
# -----------------------------------

by_key = {(c["gradient"], c["hidden"], c["lr"]): c for c in candidates}
header = (
    f"{'hidden':>6}  {'lr':>5}  {'score bp':>8}  {'score num':>9}  "
    f"{'fit bp (s)':>10}  {'fit num (s)':>11}  {'speed-up':>8}"
)
print()
print(header)
print("-" * len(header))
ratios = []
for hidden in param_grid["bpclassifier__hidden_layer_sizes"]:
    for lr in param_grid["bpclassifier__learning_rate_init"]:
        bp, num = by_key["backprop", hidden, lr], by_key["numerical", hidden, lr]
        ratios.append(num["fit_time"] / bp["fit_time"])
        print(
            f"{str(hidden):>6}  {lr:>5g}  {bp['score']:>8.4f}  {num['score']:>9.4f}  "
            f"{bp['fit_time']:>10.4f}  {num['fit_time']:>11.3f}  {ratios[-1]:>7.0f}x"
        )
print()
print(f"numerical / backprop fit time: {min(ratios):.0f}x to {max(ratios):.0f}x")

# %%
# Fit time against test score
# ---------------------------
# Each dashed line joins the two gradient methods for one setting of the
# other hyperparameters: it is horizontal, because only the time changes.

try:
    import matplotlib
except ImportError:
    print("matplotlib is not installed: skipping the plot (pip install matplotlib)")
else:
    matplotlib.use("Agg")  # no display needed: the figure is saved to a file
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5))
    for hidden in param_grid["bpclassifier__hidden_layer_sizes"]:
        for lr in param_grid["bpclassifier__learning_rate_init"]:
            pair = [by_key[g, hidden, lr] for g in ("backprop", "numerical")]
            ax.plot(
                [c["fit_time"] for c in pair],
                [c["score"] for c in pair],
                color="0.7",
                linestyle="--",
                zorder=1,
            )
            ax.annotate(
                f"hidden={hidden[0]}, lr={lr:g}",
                (np.sqrt(pair[0]["fit_time"] * pair[1]["fit_time"]), pair[0]["score"]),
                textcoords="offset points",
                xytext=(0, 5),
                ha="center",
                fontsize=8,
            )
    for gradient, marker in (("backprop", "o"), ("numerical", "s")):
        points = [c for c in candidates if c["gradient"] == gradient]
        ax.scatter(
            [c["fit_time"] for c in points],
            [c["score"] for c in points],
            marker=marker,
            s=50,
            label=gradient,
            zorder=2,
        )
    ax.set_xscale("log")
    ax.set_xlabel("mean_fit_time (s, log scale)")
    ax.set_ylabel("mean_test_score (accuracy)")
    ax.set_title("GridSearchCV over BPClassifier's gradient method (digits)")
    ax.margins(y=0.1)
    ax.legend(title="gradient", loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    if not args.no_save:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.output, dpi=100)
        print(f"figure saved to {args.output}")
