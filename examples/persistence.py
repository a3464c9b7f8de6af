"""
Saving and loading a fitted BPClassifier
========================================

A fitted :class:`~skbp.BPClassifier` is saved with :func:`joblib.dump` and
loaded with :func:`joblib.load` like any scikit-learn estimator. The loaded
model predicts exactly what the original does, and, with ``warm_start=True``,
carries on training exactly as the original would: the file holds every
parameter, bit for bit, and nothing else that training depends on.
"""

# %%
# Settings
# --------

import argparse
import shutil
import tempfile
import warnings
from pathlib import Path

import joblib
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skbp import BPClassifier

parser = argparse.ArgumentParser(description=__doc__.strip().partition("\n")[0])
parser.add_argument("--epochs", type=int, default=30, help="max_iter (30)")
parser.add_argument("--hidden", type=int, default=50, help="hidden units (50)")
parser.add_argument(
    "--output",
    type=Path,
    default=None,
    help="file to save the model to (default: a temporary directory, removed "
    "at the end)",
)
args = parser.parse_args()

# %%
# Fit a model
# -----------
# The reference experiment's network and training (64-50-10, plain SGD at
# rate 0.1, batches of 100, no momentum, no L2), passed explicitly, for a
# fixed number of epochs (``n_iter_no_change=np.inf``).

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
clf = BPClassifier(
    hidden_layer_sizes=(args.hidden,),
    solver="sgd",
    learning_rate_init=0.1,
    batch_size=100,
    momentum=0.0,
    alpha=0.0,
    max_iter=args.epochs,
    n_iter_no_change=np.inf,
    random_state=0,
)
with warnings.catch_warnings():
    # A fixed number of epochs on purpose: the fit stops at max_iter, which a
    # ConvergenceWarning would report.
    warnings.simplefilter("ignore", ConvergenceWarning)
    clf.fit(X_train, y_train)
print(f"fitted {clf.n_iter_} epochs: test accuracy {clf.score(X_test, y_test):.4f}")

# %%
# Save and load
# -------------
# The file holds the flat parameter vector plus the estimator's settings and
# fitted attributes; ``coefs_`` and ``intercepts_`` are views of that vector
# and are rebuilt on load rather than stored twice. (Pass ``compress=3`` to
# :func:`joblib.dump` for a smaller file.)

if args.output is None:
    tmp_dir = Path(tempfile.mkdtemp(prefix="skbp_"))
    path = tmp_dir / "bpclassifier.joblib"
else:
    tmp_dir = None
    path = args.output
    path.parent.mkdir(parents=True, exist_ok=True)

joblib.dump(clf, path)
n_params = sum(
    W.size + b.size for W, b in zip(clf.coefs_, clf.intercepts_, strict=True)
)
where = path if tmp_dir is None else f"a temporary file, {path.name}"
print(
    f"saved to {where}: {path.stat().st_size:,} bytes "
    f"({n_params:,} float64 parameters = {8 * n_params:,} bytes)"
)

# %%
# .. warning::
#
#    :func:`joblib.load` unpickles, and unpickling can run arbitrary code.
#    Only load files you trust, such as ones you saved yourself; never load a
#    model file downloaded from an untrusted source. A model loaded with a
#    different skbp version than it was saved with triggers a ``UserWarning``.

print(
    "Security note: joblib.load unpickles the file, which can run arbitrary "
    "code; only load model files you trust."
)
loaded = joblib.load(path)

# %%
# The loaded model predicts exactly what the original does
# ---------------------------------------------------------
# Not close to: equal, bit for bit.

assert np.array_equal(loaded.predict(X_test), clf.predict(X_test))
assert np.array_equal(loaded.predict_proba(X_test), clf.predict_proba(X_test))
print(
    f"predict and predict_proba identical on {len(X_test)} test samples: "
    f"test accuracy {loaded.score(X_test, y_test):.4f}"
)

# %%
# Training continues identically after loading
# ---------------------------------------------
# One more epoch with ``warm_start=True`` on the original and on the loaded
# copy. With an int ``random_state`` both shuffle the samples the same way,
# so they take the same SGD steps and end with bit-identical weights.

for model in (clf, loaded):
    with warnings.catch_warnings():
        # One epoch on purpose (max_iter=1): no ConvergenceWarning for it.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.set_params(warm_start=True, max_iter=1).fit(X_train, y_train)

for name, a, b in [("coefs_", clf.coefs_, loaded.coefs_)] + [
    ("intercepts_", clf.intercepts_, loaded.intercepts_)
]:
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True)), name
assert clf.loss_curve_ == loaded.loss_curve_
assert clf.n_iter_ == loaded.n_iter_
assert len(clf.loss_curve_) == args.epochs + 1

header = f"{'model':<8}  {'epochs':>7}  {'loss_':>12}  {'test accuracy':>13}"
print()
print(f"one more warm-started epoch on each ({args.epochs + 1} in all):")
print(header)
print("-" * len(header))
for label, model in (("original", clf), ("loaded", loaded)):
    print(
        f"{label:<8}  {len(model.loss_curve_):>7}  {model.loss_:>12.10f}  "
        f"{model.score(X_test, y_test):>13.4f}"
    )
print()
print("coefs_ and intercepts_ of the two are bit-identical")

if tmp_dir is not None:
    shutil.rmtree(tmp_dir)
