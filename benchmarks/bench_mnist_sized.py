"""Fit time and peak memory on MNIST-sized data: BPClassifier vs MLPClassifier vs floor.

``make_classification`` data of MNIST's size (60 000 training rows x 784
features, 10 classes, plus 10 000 test rows), float64 (``--dtype float32``
too), a 784-100-10 logistic network, batches of 200, plain SGD, 2 epochs.
``BPClassifier`` and ``MLPClassifier`` are configured identically (same
Glorot start, same batches). Beside them (``_common.py``):

- the hand-fused loop (``FusedLoop``): the same training as BPClassifier's,
  ending at its parameters bit for bit, written as one numpy loop with no
  layers, validation, history or checks: the least numpy work of this fit;

- the gather-plus-products floor (``GatherFloor``, issue 12): per epoch a
  permutation, per batch the gather of its shuffled rows and the first
  layer's two products (``Xb @ W1``, ``Xb.T @ D1``), nothing else;
- the bare-GEMM floor (``GemmFloor``): the five GEMMs of each step on
  contiguous row slices into preallocated buffers, nothing else.

Peak memory is measured for each contender in a fresh subprocess that loads
the training data from ``.npy`` files and then fits twice:

- peak RSS: the kernel's high-water mark of the process's resident memory is
  reset (``/proc/self/clear_refs``) just before the first fit and read
  (``VmHWM``) after it; the figure is that peak minus the resident memory
  before the fit. Without ``clear_refs``, ``ru_maxrss`` after minus before.
  It counts everything: numpy arrays, Python objects, BLAS buffers.
- tracemalloc peak: the second fit runs under ``tracemalloc`` (numpy
  reports its data allocations to it), whose peak is the largest total of
  live Python and numpy allocations made during the fit. It ignores memory
  that is not allocated through Python or numpy (BLAS's own buffers).

Both exclude the training data themselves, loaded before the fit.

Targets (issue 12, replacing issue 4's 0.60 x MLP and 1.3 x the bare-GEMM
floor, which the work itself did not allow): BP fit time <= 1.15 x the
gather-plus-products floor and <= 0.80 x MLP, in float64 and float32; BP's
peak memory <= MLP's.
"""

import argparse
import gc
import json
import resource
import subprocess
import sys
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np
from _common import (
    FusedLoop,
    GatherFloor,
    GemmFloor,
    add_blas_threads_arg,
    blas_limit,
    bp_classifier,
    flat_params,
    fmt_mib,
    fmt_ratio,
    markdown_table,
    max_param_diff,
    mlp_classifier,
    mnist_like,
    print_header,
    quiet,
    ratio,
    target_verdict,
    time_interleaved,
)

CONTENDERS = ("BP", "MLP", "fused", "gather", "floor")


def parse_args(argv=None):
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.strip().partition("\n")[0])
    parser.add_argument("--n-samples", type=int, default=60_000, help="(60000)")
    parser.add_argument("--n-test", type=int, default=10_000, help="(10000)")
    parser.add_argument("--n-features", type=int, default=784, help="(784)")
    parser.add_argument("--n-informative", type=int, default=50, help="(50)")
    parser.add_argument("--hidden", type=int, default=100, help="(100)")
    parser.add_argument("--batch-size", type=int, default=200, help="(200)")
    parser.add_argument("--learning-rate", type=float, default=0.1, help="(0.1)")
    parser.add_argument("--epochs", type=int, default=2, help="(2)")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds (3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--dtype", choices=["float64", "float32"], default="float64", help="(float64)"
    )
    parser.add_argument(
        "--no-memory", action="store_true", help="skip the memory subprocesses"
    )
    add_blas_threads_arg(parser)
    # Internal: run one contender's memory measurement (in a fresh process).
    parser.add_argument("--memory-child", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def make_fit(name, args, X, y):
    """Return a no-argument callable that trains contender ``name`` on ``X, y``."""
    config = {
        "learning_rate_init": args.learning_rate,
        "batch_size": args.batch_size,
        "max_iter": args.epochs,
        "seed": args.seed,
    }
    if name == "BP":
        return lambda: bp_classifier(args.hidden, **config).fit(X, y)
    if name == "MLP":
        return lambda: mlp_classifier(args.hidden, **config).fit(X, y)
    if name == "fused":
        fused = FusedLoop(
            X, y, args.hidden, args.batch_size, args.learning_rate, args.seed
        )
        return lambda: fused.run(args.epochs) and fused
    if name == "gather":
        return lambda: GatherFloor(X, args.hidden, args.batch_size, args.seed).run(
            args.epochs
        )
    n_classes = len(np.unique(y))
    return lambda: GemmFloor(X, args.hidden, n_classes, args.batch_size).run(
        args.epochs
    )


# ------------------------------------------------------------------ memory


def _rss_kib():
    """Return (current RSS, peak RSS) in KiB from /proc, or None."""
    try:
        status = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return None
    values = {}
    for line in status:
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0])
    return values.get("VmRSS"), values.get("VmHWM")


def _reset_peak_rss():
    """Reset the kernel's RSS high-water mark to the current RSS; True on success."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def memory_child(args):
    """Measure one contender's peak memory in this (fresh) process; print JSON."""
    quiet()
    X = np.load(args.data_dir / "X_train.npy")
    y = np.load(args.data_dir / "y_train.npy")
    fit = make_fit(args.memory_child, args, X, y)
    with blas_limit(args.blas_threads):
        gc.collect()
        if _reset_peak_rss() and _rss_kib() is not None:
            before, _ = _rss_kib()
            fit()
            _, peak = _rss_kib()
            rss_method = "VmHWM after clear_refs"
        else:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            fit()
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            rss_method = "ru_maxrss delta"
        gc.collect()

        tracemalloc.start()
        base, _ = tracemalloc.get_traced_memory()
        fit()
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    result = {
        "rss_peak": (peak - before) * 1024,
        "rss_method": rss_method,
        "traced_peak": traced_peak - base,
    }
    print(json.dumps(result))


def measure_memory(args, X_train, y_train):
    """Run ``memory_child`` for each contender in a fresh subprocess.

    The subprocesses run at the same time: each one measures only its own
    memory, and no time is measured there.
    """
    results = {}
    with tempfile.TemporaryDirectory(prefix="skbp_bench_") as tmp:
        np.save(Path(tmp) / "X_train.npy", X_train)
        np.save(Path(tmp) / "y_train.npy", y_train)
        procs = {}
        for name in CONTENDERS:
            child_args = [
                *("--hidden", str(args.hidden), "--batch-size", str(args.batch_size)),
                *("--learning-rate", repr(args.learning_rate)),
                *("--epochs", str(args.epochs), "--seed", str(args.seed)),
                *("--dtype", args.dtype),
                *("--memory-child", name, "--data-dir", tmp),
            ]
            if args.blas_threads is not None:
                child_args += ["--blas-threads", str(args.blas_threads)]
            procs[name] = subprocess.Popen(
                [sys.executable, __file__, *child_args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        for name, proc in procs.items():
            stdout, stderr = proc.communicate()
            if proc.returncode != 0:
                raise RuntimeError(f"memory subprocess for {name} failed:\n{stderr}")
            results[name] = json.loads(stdout.strip().splitlines()[-1])
    return results


# -------------------------------------------------------------------- main


def main(argv=None):
    """Time the fits, measure their memory, print the table and the ratios."""
    args = parse_args(argv)
    if args.memory_child:
        memory_child(args)
        return
    quiet()
    print_header("MNIST-sized fit: time and peak memory", args, args.repeats)
    X_train, X_test, y_train, y_test = mnist_like(
        args.n_samples, args.n_test, args.n_features, args.n_informative, args.seed
    )
    X_train, X_test = X_train.astype(args.dtype), X_test.astype(args.dtype)
    print(
        f"Data: make_classification, {X_train.shape[0]} training and "
        f"{X_test.shape[0]} test rows x {X_train.shape[1]} features "
        f"({args.n_informative} informative), 10 classes, {args.dtype}, "
        f"{X_train.nbytes / 2**20:.0f} MiB of training data. Network "
        f"{X_train.shape[1]}-{args.hidden}-10, batch {args.batch_size}, "
        f"SGD {args.learning_rate}, {args.epochs} epochs.\n",
        flush=True,
    )
    with blas_limit(args.blas_threads):
        timings = time_interleaved(
            {name: make_fit(name, args, X_train, y_train) for name in CONTENDERS},
            args.repeats,
        )
    bp, mlp = timings["BP"].result, timings["MLP"].result
    accuracy = {"BP": bp.score(X_test, y_test), "MLP": mlp.score(X_test, y_test)}
    memory = None if args.no_memory else measure_memory(args, X_train, y_train)

    headers = ["contender", f"fit time ({args.epochs} epochs)", "test accuracy"]
    if memory:
        headers += ["peak RSS", "tracemalloc peak"]
    rows = []
    for name, label in zip(
        CONTENDERS,
        [
            "BPClassifier",
            "MLPClassifier",
            "hand-fused numpy loop",
            "gather-plus-products floor",
            "bare-GEMM floor",
        ],
        strict=True,
    ):
        row = [label, timings[name].cell(), f"{accuracy.get(name, '-')}"]
        if name in accuracy:
            row[2] = f"{accuracy[name]:.4f}"
        if memory:
            row += [
                fmt_mib(memory[name]["rss_peak"]),
                fmt_mib(memory[name]["traced_peak"]),
            ]
        rows.append(row)
    print(markdown_table(headers, rows))
    print()
    for other, limit in (
        ("gather", 1.15),
        ("MLP", 0.80),
        ("fused", None),
        ("floor", None),
    ):
        r, _ = ratio(timings["BP"], timings[other])
        verdict = (
            f"target <= {limit:.2f}: {target_verdict(r, limit)}"
            if limit
            else "no target"
        )
        print(
            f"MNIST-sized fit time, BP / {other} ({args.dtype}): "
            f"{fmt_ratio(timings['BP'], timings[other])}, {verdict}"
        )
    if memory:
        method = memory["BP"]["rss_method"]
        for key, what in (
            ("rss_peak", f"peak RSS ({method})"),
            ("traced_peak", "tracemalloc peak"),
        ):
            bp_mem, mlp_mem = memory["BP"][key], memory["MLP"][key]
            print(
                f"MNIST-sized fit {what}, BP / MLP: {bp_mem / max(mlp_mem, 1):.3f}, "
                "target <= 1: "
                f"{target_verdict(bp_mem, mlp_mem)}"
            )
    fused = timings["fused"].result
    print(
        "MNIST-sized fit time, hand-fused loop / gather-plus-products floor: "
        f"{fmt_ratio(timings['fused'], timings['gather'])} (the least numpy work "
        "of this fit above the floor)"
    )
    print(
        "Largest |BP - MLP| difference of the fitted parameters: "
        f"{max_param_diff(bp, mlp):.2e} (same start, same batches); "
        f"|BP - hand-fused loop|: "
        f"{np.abs(flat_params(bp) - fused.params).max(initial=0):.2e}"
    )


if __name__ == "__main__":
    main()
