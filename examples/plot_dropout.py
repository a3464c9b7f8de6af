"""
Dropout on an easily overfitted problem
=======================================

300 digits and 200 hidden units: a network that can learn its training rows
by heart. :class:`~skbp.BPClassifier` with ``dropout=0.5`` (inverted dropout
on the hidden layer's output while training) against the same network
without it: cross-validated accuracy, and the training and validation loss
of each epoch. Then both gradients on a network small enough for the
numerical one: :func:`~skbp.gradient_check` with dropout, and a backprop fit
against a numerical fit from the same ``random_state``, which draw the same
masks and agree to finite-difference precision.
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
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, cross_val_score

from skbp import BPClassifier, gradient_check

parser = argparse.ArgumentParser(description=__doc__.strip().partition("\n")[0])
parser.add_argument("--n-samples", type=int, default=300, help="digits used (300)")
parser.add_argument("--hidden", type=int, default=200, help="hidden units (200)")
parser.add_argument("--rate", type=float, default=0.5, help="dropout rate (0.5)")
parser.add_argument("--epochs", type=int, default=200, help="Adam epochs (200)")
parser.add_argument(
    "--learning-rate", type=float, default=0.01, help="Adam's step size (0.01)"
)
parser.add_argument("--cv", type=int, default=5, help="cross-validation folds (5)")
parser.add_argument(
    "--small-hidden", type=int, default=10, help="hidden units of the numerical fit"
)
parser.add_argument(
    "--small-epochs", type=int, default=20, help="epochs of the numerical fit (20)"
)
parser.add_argument(
    "--output",
    type=Path,
    default=Path("plot_dropout.png"),
    help="where to save the figure (default: %(default)s in the current directory)",
)
parser.add_argument(
    "--no-save", action="store_true", help="draw the figure but save no file"
)
args = parser.parse_args()

X, y = load_digits(return_X_y=True)
X = X[: args.n_samples] / 16.0  # pixels in [0, 1]
y = y[: args.n_samples]
print(f"{len(X)} digits, {args.hidden} hidden units, dropout rate {args.rate}")


def model(dropout, **params):
    """Adam for a fixed number of epochs (no stopping rule), with ``dropout``."""
    kwargs = dict(
        hidden_layer_sizes=(args.hidden,),
        dropout=dropout,
        learning_rate_init=args.learning_rate,
        max_iter=args.epochs,
        n_iter_no_change=np.inf,
        random_state=0,
    )
    return BPClassifier(**{**kwargs, **params})


def quietly(function, *arguments, **keywords):
    """Call ``function``; a fixed epoch count ends at max_iter on purpose."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return function(*arguments, **keywords)


# %%
# Cross-validated accuracy
# ------------------------
# The same folds for both; each fold trains a fresh network.

folds = StratifiedKFold(args.cv, shuffle=True, random_state=0)
scores = {}
for dropout in (0.0, args.rate):
    start = time.perf_counter()
    scores[dropout] = quietly(cross_val_score, model(dropout), X, y, cv=folds)
    seconds = time.perf_counter() - start
    print(
        f"dropout={dropout:<4}  accuracy {scores[dropout].mean():.3f} "
        f"+/- {scores[dropout].std():.3f} over {args.cv} folds  ({seconds:.1f} s)"
    )
gain = scores[args.rate].mean() - scores[0.0].mean()
print(f"accuracy gained by dropout: {gain:+.3f}")

# %%
# Training and validation loss
# ----------------------------
# Early stopping's held-out rows (``validation_fraction=0.2``) with
# ``scoring="loss"`` record the validation loss of every epoch; with
# ``n_iter_no_change=np.inf`` no epoch ends the fit. The training loss with
# dropout is that of the dropped network, the validation loss never drops.

curves = {}
for dropout in (0.0, args.rate):
    clf = model(dropout, early_stopping=True, validation_fraction=0.2, scoring="loss")
    quietly(clf.fit, X, y)
    curves[dropout] = (clf.loss_curve_, clf.validation_loss_curve_)
    print(
        f"dropout={dropout:<4}  final training loss {clf.loss_curve_[-1]:.3f}, "
        f"validation loss {clf.validation_loss_curve_[-1]:.3f} "
        f"(lowest {min(clf.validation_loss_curve_):.3f})"
    )

# %%
# Both gradients see the same function
# ------------------------------------
# A network small enough for the numerical gradient. ``gradient_check``
# compares both gradients under one fixed mask; the two fits draw the same
# masks at every step from the same ``random_state``.

small = dict(hidden_layer_sizes=(args.small_hidden,), max_iter=args.small_epochs)
errors = gradient_check(model(args.rate, **small), X, y)
print(f"gradient_check with dropout: largest error {max(errors.values()):.1e}")
fits = {}
for gradient in ("backprop", "numerical"):
    start = time.perf_counter()
    fits[gradient] = quietly(model(args.rate, gradient=gradient, **small).fit, X, y)
    print(f"{gradient:>9} fit: {time.perf_counter() - start:.2f} s")
bp, num = (
    np.concatenate([a.ravel() for a in (*fit.coefs_, *fit.intercepts_)])
    for fit in fits.values()
)
same = (fits["backprop"].predict(X) == fits["numerical"].predict(X)).all()
print(
    f"after {args.small_epochs} epochs with dropout: largest weight difference "
    f"{np.abs(bp - num).max():.1e} (weights up to {np.abs(bp).max():.2f}), "
    f"same predictions: {same}"
)

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

    fig, (ax_cv, ax_loss) = plt.subplots(
        1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [1, 2]}
    )
    labels = [f"dropout={d}" for d in scores]
    for k, fold_scores in enumerate(scores.values()):
        ax_cv.plot(np.full(len(fold_scores), k), fold_scores, "o", color="0.6")
        ax_cv.errorbar(k, fold_scores.mean(), fold_scores.std(), fmt="s", capsize=6)
    ax_cv.set_xticks(range(len(labels)), labels)
    ax_cv.set_xlim(-0.5, len(labels) - 0.5)
    ax_cv.set_ylabel(f"accuracy ({args.cv}-fold CV)")
    ax_cv.set_title("held-out accuracy")
    # The colours of the left panel: C0 without dropout, C1 with it.
    for (dropout, (train, val)), color in zip(
        curves.items(), ("C0", "C1"), strict=True
    ):
        epochs = np.arange(1, len(train) + 1)
        ax_loss.plot(epochs, train, color=color, ls="--", label=f"training, {dropout}")
        ax_loss.plot(epochs, val, color=color, label=f"validation, {dropout}")
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("log-loss")
    ax_loss.set_title(f"{len(X)} digits, {args.hidden} hidden units")
    ax_loss.legend(title="loss, dropout")
    fig.tight_layout()
    if not args.no_save:
        fig.savefig(args.output, dpi=100)
        print(f"figure saved to {args.output}")
