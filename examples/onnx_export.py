"""
Serving a fitted BPClassifier with ONNX
=======================================

``import skbp.onnx`` registers skbp's converters with skl2onnx, so a fitted
:class:`~skbp.BPClassifier`, alone or at the end of a
:class:`~sklearn.pipeline.Pipeline`, converts with ``skl2onnx.to_onnx`` into an
ONNX graph that ``onnxruntime`` runs without Python or scikit-learn. This
script fits a ``StandardScaler -> BPClassifier`` pipeline on digits, exports
it, checks that onnxruntime gives the same labels and probabilities as the
pipeline, and times onnxruntime against ``predict_proba`` on many rows.
Needs the onnx extra: ``pip install -e ".[onnx]"``.
"""

# %%
# Settings
# --------

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skbp import BPClassifier

try:
    import onnxruntime as rt
    from skl2onnx import to_onnx

    import skbp.onnx  # noqa: F401  (registers the converters with skl2onnx)
except ModuleNotFoundError as exc:  # --help still works without the extra
    missing = exc
else:
    missing = None

parser = argparse.ArgumentParser(description=__doc__.strip().partition("\n")[0])
parser.add_argument("--epochs", type=int, default=30, help="max_iter (30)")
parser.add_argument("--hidden", type=int, default=50, help="hidden units (50)")
parser.add_argument(
    "--rows", type=int, default=100_000, help="rows for the timing (100000)"
)
parser.add_argument(
    "--repeat", type=int, default=5, help="timing runs, the fastest counts (5)"
)
parser.add_argument(
    "--output",
    type=Path,
    default=None,
    help="file to save the ONNX model to (default: not saved)",
)
args = parser.parse_args()
if missing is not None:
    sys.exit(f'This example needs the onnx extra: pip install -e ".[onnx]" ({missing})')

# %%
# Fit a pipeline
# --------------

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=0)
pipe = make_pipeline(
    StandardScaler(),
    BPClassifier(
        (args.hidden,), max_iter=args.epochs, n_iter_no_change=np.inf, random_state=0
    ),
)
with warnings.catch_warnings():
    # A fixed number of epochs on purpose: the fit stops at max_iter, which a
    # ConvergenceWarning would report.
    warnings.simplefilter("ignore", ConvergenceWarning)
    pipe.fit(X_train, y_train)
print(f"pipeline test accuracy: {pipe.score(X_test, y_test):.4f}")

# %%
# Export
# ------
# The sample input fixes the input's type: float32, as most ONNX runtimes
# expect. ``zipmap=False`` returns the probabilities as one array rather than
# a list of dicts (one per row), the faster form for numeric consumers.

onx = to_onnx(pipe, X_train[:1].astype(np.float32), options={"zipmap": False})
model_bytes = onx.SerializeToString()
if args.output is not None:
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(model_bytes)
    print(f"ONNX model saved to {args.output}: {len(model_bytes):,} bytes")
sess = rt.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
print("inputs: ", [(i.name, i.type, i.shape) for i in sess.get_inputs()])
print("outputs:", [(o.name, o.type, o.shape) for o in sess.get_outputs()])

# %%
# Compare
# -------
# onnxruntime computes in float32, the pipeline in float64: probabilities
# agree to float32 precision, and labels everywhere except where two classes'
# probabilities tie to that precision.

X_test32 = X_test.astype(np.float32)
labels, proba = sess.run(None, {"X": X_test32})
expected = pipe.predict_proba(X_test)
same = labels == pipe.predict(X_test)
print(f"labels equal to predict: {same.sum()} of {len(same)} test rows")
print(f"max |onnxruntime - predict_proba|: {np.abs(proba - expected).max():.2e}")

# %%
# Speed
# -----
# ``args.rows`` rows drawn from digits; each side gets its natural input
# (float64 for scikit-learn, float32 for onnxruntime, converted beforehand)
# and the fastest of ``args.repeat`` runs counts.


def fastest(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


rng = np.random.default_rng(0)
X_big = X[rng.integers(0, len(X), args.rows)]
X_big32 = X_big.astype(np.float32)
t_sklearn = fastest(lambda: pipe.predict_proba(X_big), args.repeat)
t_onnx = fastest(lambda: sess.run(None, {"X": X_big32}), args.repeat)
diff = np.abs(sess.run(None, {"X": X_big32})[1] - pipe.predict_proba(X_big)).max()
print(f"\n{args.rows:,} rows, fastest of {args.repeat}:")
print(f"  predict_proba (pipeline): {t_sklearn * 1e3:8.1f} ms")
print(f"  onnxruntime:              {t_onnx * 1e3:8.1f} ms")
print(f"  predict_proba time / onnxruntime time: {t_sklearn / t_onnx:.2f}")
print(f"  max |onnxruntime - predict_proba| on these rows: {diff:.2e}")
