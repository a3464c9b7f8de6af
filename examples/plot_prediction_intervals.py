"""
Prediction intervals with the quantile loss
===========================================

A 90% prediction interval from two :class:`~skbp.BPRegressor` models, one
trained on the pinball loss of ``quantile=0.05`` and one of ``0.95``
(``loss="quantile"``), on a heteroscedastic problem: ``y = x sin(x)`` plus
noise whose spread grows with ``x``. On held-out rows the interval should
cover about 90% of the targets. The same interval from
:class:`~sklearn.ensemble.HistGradientBoostingRegressor` with
``loss="quantile"`` is shown side by side: coverage, mean pinball loss of
each bound (scikit-learn's :func:`~sklearn.metrics.mean_pinball_loss`) and
fit time.
"""

# %%
# Settings
# --------
# The arguments let a test shrink the work.

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import mean_pinball_loss
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skbp import BPRegressor

parser = argparse.ArgumentParser(description=__doc__.strip().partition("\n")[0])
parser.add_argument(
    "--n-samples", type=int, default=3000, help="samples, a third held out (3000)"
)
parser.add_argument("--hidden", type=int, default=20, help="hidden units (20)")
parser.add_argument("--max-iter", type=int, default=2000, help="L-BFGS iterations")
parser.add_argument(
    "--boosting-iter", type=int, default=100, help="boosting iterations (100)"
)
parser.add_argument(
    "--output",
    type=Path,
    default=Path("plot_prediction_intervals.png"),
    help="where to save the figure (default: %(default)s in the current directory)",
)
parser.add_argument(
    "--no-save", action="store_true", help="draw the figure but save no file"
)
args = parser.parse_args()

rng = np.random.default_rng(0)
x = rng.uniform(0, 10, args.n_samples)
y = x * np.sin(x) + rng.normal(scale=0.5 + 0.3 * x)
X_train, X_test, y_train, y_test = train_test_split(
    x[:, None], y, test_size=1 / 3, random_state=0
)
QUANTILES = (0.05, 0.95)
print(f"{len(X_train)} training rows, {len(X_test)} held out; interval {QUANTILES}")


# %%
# One model per bound
# -------------------
# The network's features are standardised; L-BFGS minimises the pinball
# loss of the whole training set.


def skbp_model(quantile):
    network = BPRegressor(
        (args.hidden,),
        "tanh",
        loss="quantile",
        quantile=quantile,
        solver="lbfgs",
        max_iter=args.max_iter,
        random_state=0,
    )
    return make_pipeline(StandardScaler(), network)


def boosting_model(quantile):
    return HistGradientBoostingRegressor(
        loss="quantile", quantile=quantile, max_iter=args.boosting_iter, random_state=0
    )


results = {}
for name, make in [("skbp", skbp_model), ("gradient boosting", boosting_model)]:
    start = time.perf_counter()
    bounds = []
    for quantile in QUANTILES:
        with warnings.catch_warnings():
            # A short run (the test's) may stop at max_iter on purpose.
            warnings.simplefilter("ignore", ConvergenceWarning)
            bounds.append(make(quantile).fit(X_train, y_train))
    seconds = time.perf_counter() - start
    low, high = (model.predict(X_test) for model in bounds)
    results[name] = dict(
        models=bounds,
        coverage=np.mean((low <= y_test) & (y_test <= high)),
        pinball=[
            mean_pinball_loss(y_test, bound.predict(X_test), alpha=quantile)
            for bound, quantile in zip(bounds, QUANTILES, strict=True)
        ],
        seconds=seconds,
    )

# %%
# Coverage on the held-out rows
# -----------------------------

header = (
    f"{'model':>17}  {'coverage':>8}  {'pinball 0.05':>12}  "
    f"{'pinball 0.95':>12}  {'fit (s)':>7}"
)
print(header)
print("-" * len(header))
for name, r in results.items():
    print(
        f"{name:>17}  {r['coverage']:>8.3f}  {r['pinball'][0]:>12.4f}  "
        f"{r['pinball'][1]:>12.4f}  {r['seconds']:>7.2f}"
    )
print("target coverage: 0.900")

# %%
# Plot
# ----

try:
    import matplotlib
except ImportError:
    print("matplotlib is not installed: skipping the plot (pip install matplotlib)")
else:
    matplotlib.use("Agg")  # no display needed: the figure is saved to a file
    import matplotlib.pyplot as plt

    grid = np.linspace(0, 10, 400)[:, None]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for ax, (name, r) in zip(axes, results.items(), strict=True):
        low, high = (model.predict(grid) for model in r["models"])
        ax.scatter(X_test[:, 0], y_test, s=4, color="0.6", label="held-out rows")
        ax.fill_between(grid[:, 0], low, high, alpha=0.3, label="90% interval")
        ax.plot(grid[:, 0], grid[:, 0] * np.sin(grid[:, 0]), "k--", label="x sin x")
        ax.set_title(f"{name}: coverage {r['coverage']:.3f}")
        ax.set_xlabel("x")
        ax.legend(loc="upper left")
    axes[0].set_ylabel("y")
    fig.tight_layout()
    if not args.no_save:
        fig.savefig(args.output, dpi=100)
        print(f"figure saved to {args.output}")
