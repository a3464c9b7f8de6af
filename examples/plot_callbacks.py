"""
Watching a fit with scikit-learn's callbacks
============================================

scikit-learn 1.9's callbacks (``sklearn.callback``) see every epoch of a
:class:`~skbp.BPClassifier` fit. A :class:`~sklearn.callback.ScoringMonitor`
scores the model of each epoch on the training data: with the same
``random_state``, backprop and numerical gradients give the same per-epoch
accuracy. A :class:`~sklearn.callback.ProgressBar` set on a ``GridSearchCV``
shows the search, its candidates and each ``BPClassifier`` fit inside them.
"""

# %%
# Settings
# --------
# The defaults cost 6 s of CPU time (3 to 6 seconds on an idle 2-core
# machine; 41 s measured on a busy one); the arguments let a test shrink the
# work.

import argparse
import sys
import warnings
from pathlib import Path

from sklearn.callback import ProgressBar, ScoringMonitor
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skbp import BPClassifier

parser = argparse.ArgumentParser(description=__doc__.strip().partition("\n")[0])
parser.add_argument(
    "--n-samples", type=int, default=500, help="use the first N digits (500)"
)
parser.add_argument("--epochs", type=int, default=15, help="max_iter (15)")
parser.add_argument("--hidden", type=int, default=5, help="hidden units (5)")
parser.add_argument(
    "--output",
    type=Path,
    default=Path("plot_callbacks.png"),
    help="where to save the figure (default: %(default)s in the current directory)",
)
parser.add_argument(
    "--no-save", action="store_true", help="draw the figure but save no file"
)
args = parser.parse_args()

X, y = load_digits(return_X_y=True)
X, y = X[: args.n_samples], y[: args.n_samples]
# A fixed number of epochs on purpose: each fit stops at max_iter.
warnings.simplefilter("ignore", ConvergenceWarning)

# %%
# Per-epoch training accuracy of both gradients
# ---------------------------------------------
# One ``ScoringMonitor`` per fit; ``get_logs()`` holds a row per epoch (task
# ``"epoch"``) and one for the whole fit (task ``"fit"``).

curves = {}
for gradient in ("backprop", "numerical"):
    monitor = ScoringMonitor(scoring="accuracy")
    clf = make_pipeline(
        StandardScaler(),
        BPClassifier(
            (args.hidden,), gradient=gradient, solver="sgd", learning_rate_init=0.1,
            max_iter=args.epochs, random_state=0,
        ).set_callbacks(monitor),
    )  # fmt: skip
    clf.fit(X, y)
    rows = [r for r in monitor.get_logs().data if r["task_name"] == "epoch"]
    curves[gradient] = [r["accuracy"] for r in rows]
    print(f"{gradient:>9}: training accuracy per epoch", *curves[gradient][:3], "...")

gap = max(abs(a - b) for a, b in zip(*curves.values(), strict=True))
print(f"largest difference between the two curves: {gap:.1e}")

# %%
# A progress bar over a small grid search
# ---------------------------------------
# Set on the search, the ``ProgressBar`` propagates to the pipeline and the
# ``BPClassifier`` in it (``max_propagation_depth=None``: every level). It
# needs ``rich`` (``pip install -e ".[progress]"``). Off a terminal (output
# to a file or a pipe) rich draws the bars once, at the end, 80 columns wide,
# which cuts off the time column of these nested names: give it room.

if not sys.stdout.isatty():
    import rich

    rich.reconfigure(width=140)

grid = GridSearchCV(
    make_pipeline(StandardScaler(), BPClassifier((args.hidden,), max_iter=args.epochs,
                                                 random_state=0)),
    {"bpclassifier__gradient": ["backprop", "numerical"]},
    cv=2,
)  # fmt: skip
grid.set_callbacks(ProgressBar(max_propagation_depth=None))
grid.fit(X, y)
print("best_params_:", grid.best_params_)

# %%
# Plot both curves
# ----------------

try:
    import matplotlib
except ImportError:
    print("matplotlib is not installed: skipping the plot (pip install matplotlib)")
else:
    matplotlib.use("Agg")  # no display needed: the figure is saved to a file
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    for (gradient, curve), style in zip(
        curves.items(),
        ({"linewidth": 4}, {"linewidth": 1.5, "marker": "s"}),
        strict=True,
    ):
        ax.plot(range(1, len(curve) + 1), curve, label=gradient, **style)
    ax.set(xlabel="Epoch", ylabel="Training accuracy (ScoringMonitor)")
    ax.set_title(f"BPClassifier on digits, 64-{args.hidden}-10 network")
    ax.legend()
    if not args.no_save:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.output, dpi=100)
        print(f"figure saved to {args.output}")
