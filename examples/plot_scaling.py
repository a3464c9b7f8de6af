"""
How the speed-up of backprop grows with the network
===================================================

A numerical-gradient step costs ``2 x n_params`` forward passes (two per
parameter), a backprop step about three passes' worth of work (one forward,
one backward) whatever the parameter count. So the ratio of their costs, the
speed-up of backprop, grows about in proportion to the parameter count: the
reference experiment's 1,969x on the 64-50-10 network is one point on a line.

This example measures it: for hidden sizes 10 to 200 and 16, 32 or 64 inputs
(digits' 64 pixels, or their first 16 or 32 principal components), the time
per SGD step (batch of 100, the reference's settings) of a ``BPClassifier``
fit with each gradient, the fastest of a few repeats. It prints the table
and plots the speed-up and both times against the parameter count, log-log,
the reference network marked.
"""

# %%
# Settings
# --------
# The defaults (15 networks, 3 repeats) spend nearly all their time in the
# numerical steps of the largest networks: 10 to 16 minutes measured on a busy
# 2-core machine, far less on an idle one; the arguments let a test shrink
# the work.

import argparse
import os
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from skbp import BPClassifier

parser = argparse.ArgumentParser(description=__doc__.strip().split("\n")[0])
parser.add_argument(
    "--hidden",
    type=int,
    nargs="+",
    default=[10, 25, 50, 100, 200],
    help="hidden sizes (10 25 50 100 200)",
)
parser.add_argument(
    "--n-features",
    type=int,
    nargs="+",
    default=[16, 32, 64],
    help="input sizes, at most 64; below 64, principal components (16 32 64)",
)
parser.add_argument("--repeats", type=int, default=3, help="timed fits per size (3)")
parser.add_argument(
    "--backprop-steps",
    type=int,
    default=200,
    help="steps per timed backprop fit, to time more than fit overhead (200)",
)
parser.add_argument(
    "--numerical-steps", type=int, default=2, help="steps per timed numerical fit (2)"
)
parser.add_argument(
    "--blas-threads",
    type=int,
    default=None,
    help="BLAS threads during the timings (default: as configured); 1 keeps a "
    "busy machine from stalling BLAS's threads, which wait on each other",
)
parser.add_argument(
    "--output",
    type=Path,
    default=Path("plot_scaling.png"),
    help="where to save the figure (default: %(default)s in the current directory)",
)
parser.add_argument(
    "--no-save", action="store_true", help="draw the figure but save no file"
)
args = parser.parse_args()

BATCH = 100  # the reference's batch size
REFERENCE = (64, 50)  # the reference network: 64 inputs, 50 hidden units


def machine():
    """The CPU model, its widest vector instructions, cores and load."""
    model, flags = "unknown CPU", set()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
    except OSError:  # not Linux
        pass
    simd = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "?"
    load = (
        f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    )
    return f"{model} ({simd}), {os.cpu_count()} cores{load}"


# %%
# Time one step of each gradient
# ------------------------------
# A fit of ``steps`` SGD steps over ``steps x 100`` rows (one epoch, one pass
# per batch), the reference's settings; the time per step is the fit time
# over ``steps``, as ``python -m skbp`` reports it. The fastest of
# ``--repeats`` fits is kept: the machine's other work only slows a run down.


def seconds_per_step(gradient, X, y, hidden, steps):
    """Fastest time per SGD step of a ``BPClassifier`` fit with ``gradient``."""
    rows = slice(0, steps * BATCH)
    clf = BPClassifier(
        hidden_layer_sizes=(hidden,),
        activation="logistic",
        solver="sgd",
        gradient=gradient,
        alpha=0.0,
        batch_size=BATCH,
        learning_rate_init=0.1,
        momentum=0.0,
        weight_init_std=0.01,
        max_iter=1,
        shuffle=False,
        random_state=0,
    )
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        with warnings.catch_warnings():
            # One epoch on purpose: the fit stops at max_iter=1.
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.filterwarnings("ignore", ".*only one class", UserWarning)
            clf.fit(X[rows], y[rows])
        times.append((time.perf_counter() - start) / steps)
    return min(times)


X_all, y_all = load_digits(return_X_y=True)
# Enough rows for the longest timed fit: the digits, repeated.
reps = -(-args.backprop_steps * BATCH // len(X_all))
y_all = np.tile(y_all, reps)
threads = "" if args.blas_threads is None else f", {args.blas_threads} BLAS thread(s)"
print(f"Machine: {machine()}{threads}")
records = []
with threadpool_limits(args.blas_threads, user_api="blas"):
    for n_in in args.n_features:
        X = X_all if n_in >= 64 else PCA(n_in, random_state=0).fit_transform(X_all)
        X = np.tile(X, (reps, 1))
        for hidden in args.hidden:
            params = (X.shape[1] + 1) * hidden + (hidden + 1) * 10
            bp = seconds_per_step("backprop", X, y_all, hidden, args.backprop_steps)
            num = seconds_per_step("numerical", X, y_all, hidden, args.numerical_steps)
            records.append((X.shape[1], hidden, params, bp, num))

# %%
# The table
# ---------
# ``forward passes`` is what one numerical step evaluates: ``2 x params``.

print(
    "\n| network | params | forward passes | backprop s/step | numerical s/step "
    "| speed-up |\n| --- | ---: | ---: | ---: | ---: | ---: |"
)
for n_in, hidden, params, bp, num in records:
    print(
        f"| {n_in}-{hidden}-10 | {params:,} | {2 * params:,} | {bp * 1e3:.3f} ms "
        f"| {num * 1e3:,.1f} ms | {num / bp:,.0f}x |"
    )
params = np.array([r[2] for r in records], dtype=float)
speedup = np.array([r[4] / r[3] for r in records])
if np.ptp(params) > 0:
    slope = np.polyfit(np.log(params), np.log(speedup), 1)[0]
    print(
        f"\nLog-log slope of the speed-up against the parameter count: {slope:.2f} "
        "(1: the speed-up grows in proportion to the parameter count)"
    )

# %%
# The figure
# ----------
# Left, the speed-up against the parameter count, with the line through the
# origin of the log-log plot of slope 1 (speed-up proportional to params)
# fitted to the points; right, both times per step. The star marks the
# reference network, 64-50-10.

try:
    import matplotlib

    matplotlib.use("Agg")  # no display needed: the figure is saved to a file
    import matplotlib.pyplot as plt
except ImportError:
    plt = None
    print("\nmatplotlib is not installed: no figure (pip install matplotlib).")

if plt is not None:
    fig, (ax_ratio, ax_time) = plt.subplots(
        1, 2, figsize=(11, 4.2), layout="constrained"
    )
    for i, n_in in enumerate(dict.fromkeys(r[0] for r in records)):
        rows = [r for r in records if r[0] == n_in]
        p = [r[2] for r in rows]
        color = f"C{i}"
        ax_ratio.plot(
            p, [r[4] / r[3] for r in rows], "o-", color=color, label=f"{n_in} inputs"
        )
        ax_time.plot(
            p,
            [r[4] for r in rows],
            "o-",
            color=color,
            label=f"numerical, {n_in} inputs",
        )
        ax_time.plot(
            p,
            [r[3] for r in rows],
            "s--",
            color=color,
            label=f"backprop, {n_in} inputs",
        )
    line = np.geomspace(params.min(), params.max())
    ax_ratio.plot(
        line, np.median(speedup / params) * line, "k:", label="speed-up ∝ params"
    )
    for n_in, hidden, p, bp, num in records:
        if (n_in, hidden) == REFERENCE:
            ax_ratio.plot(
                p, num / bp, "k*", markersize=14, label="reference network, 64-50-10"
            )
            ax_time.plot([p, p], [bp, num], "k*", markersize=14)
    ax_ratio.set(
        xscale="log",
        yscale="log",
        xlabel="parameters",
        ylabel="speed-up (numerical / backprop time per step)",
    )
    ax_time.set(
        xscale="log",
        yscale="log",
        xlabel="parameters",
        ylabel="seconds per SGD step (batch of 100)",
    )
    for ax in (ax_ratio, ax_time):
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize="small")
    fig.suptitle("Numerical vs backprop: cost per step against the parameter count")
    if not args.no_save:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.output, dpi=100)
        print(f"\nfigure saved to {args.output}")
