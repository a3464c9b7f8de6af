"""Run each benchmark script at tiny sizes so that none of them rots.

These check that the scripts run and print their tables, ratios and target
verdicts; they assert nothing about the times themselves.
"""

from pathlib import Path

import pytest
from _helpers import run_script

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"


def run_benchmark(name, *args):
    """Run ``benchmarks/<name>.py`` with ``args``; return stdout, failing on errors."""
    return run_script(f"benchmarks/{name}.py", *args)


def assert_header(stdout):
    """Every script records the machine, the versions and the BLAS thread pools."""
    assert "Machine:" in stdout and "numpy" in stdout
    assert "threadpoolctl: user_api=blas" in stdout


def test_sgd_step():
    stdout = run_benchmark(
        "bench_sgd_step",
        *("--n-samples", "300", "--epochs", "1", "--repeats", "1", "--hidden", "5"),
    )
    assert_header(stdout)
    assert "## float64" in stdout and "## float32" in stdout
    for contender in ("BPClassifier", "MLPClassifier", "reference loop"):
        assert contender in stdout
    assert stdout.count("time per step, BP / MLP:") == 2
    assert "float64 time per step, BP / reference:" in stdout
    assert "target <= 0.40" in stdout and "target <= 0.80" in stdout
    assert "test accuracy" in stdout


def test_mnist_sized():
    stdout = run_benchmark(
        "bench_mnist_sized",
        *("--n-samples", "600", "--n-test", "100", "--n-features", "20"),
        *("--hidden", "5", "--batch-size", "50", "--epochs", "1", "--repeats", "1"),
    )
    assert_header(stdout)
    for contender in ("BPClassifier", "MLPClassifier", "bare-GEMM floor"):
        assert contender in stdout
    assert "fit time, BP / MLP" in stdout and "fit time, BP / floor" in stdout
    # Memory measured in fresh subprocesses, both ways.
    assert "peak RSS" in stdout and "tracemalloc peak" in stdout
    assert "fit tracemalloc peak, BP / MLP" in stdout


def test_numerical():
    stdout = run_benchmark(
        "bench_numerical",
        *("--hidden", "3", "--batch-size", "10", "--steps", "1", "--repeats", "1"),
        *("--train-epochs", "1", "--n-samples", "200"),
    )
    assert_header(stdout)
    assert "reference loop, per-element nditer" in stdout
    assert "speed-up of skbp over the reference loop" in stdout
    # The two numerical gradients compute the same values.
    assert "target <= 1e-9: met" in stdout


def test_predict():
    stdout = run_benchmark(
        "bench_predict", *("--n-rows", "500", "2000", "--repeats", "1", "--epochs", "1")
    )
    assert_header(stdout)
    assert "| 500 " in stdout and "| 2,000 " in stdout
    assert "BP working memory" in stdout
    assert "predict_proba time at 2,000 rows, BP / MLP" in stdout
    assert "BP working memory from 500 to 2,000 rows" in stdout


def test_solvers():
    stdout = run_benchmark(
        "bench_solvers",
        *("--n-samples", "200", "--hidden", "4", "--epochs", "1"),
        *("--lbfgs-iter", "3", "--repeats", "1"),
    )
    assert_header(stdout)
    assert "adam: BP / MLP time per epoch" in stdout
    assert "lbfgs: BP / MLP time per fit" in stdout


def test_regressor():
    stdout = run_benchmark(
        "bench_regressor",
        *("--n-samples", "200", "--hidden", "4", "--epochs", "1", "--repeats", "1"),
        *("--targets", "2"),
    )
    assert_header(stdout)
    assert "BPRegressor" in stdout and "MLPRegressor" in stdout and "test R²" in stdout
    assert "time per step, BPRegressor / MLPRegressor:" in stdout
    assert "same start, same batches" in stdout


def test_scaling(tmp_path):
    figure = tmp_path / "scaling.png"
    stdout = run_benchmark(
        "bench_scaling",
        *("--hidden", "2", "4", "--n-features", "8", "64", "--batch-size", "10"),
        *("--repeats", "1", "--backprop-calls", "2", "--output", str(figure)),
    )
    assert_header(stdout)
    assert "ratio / params" in stdout and "8-4-10" in stdout and "64-2-10" in stdout
    assert "Log-log slope" in stdout
    pytest.importorskip("matplotlib")
    assert f"Figure saved to {figure}" in stdout and figure.stat().st_size > 0


def test_profile_steps():
    stdout = run_benchmark(
        "profile_steps",
        *("--n-samples", "200", "--hidden", "3", "--top", "3"),
        *("--mnist-samples", "200", "--mnist-features", "20"),
    )
    assert_header(stdout)
    assert "BPClassifier.fit" in stdout and "MLPClassifier.fit" in stdout
    assert "skbp.gradients.numerical_gradient, one step" in stdout
    assert "reference loop's per-element numerical step" in stdout
    assert stdout.count("Top 3 by own time") == 6


@pytest.mark.parametrize("shape", [[], ["--mnist"]])
def test_profile_step_ops(shape):
    stdout = run_benchmark(
        "profile_step_ops",
        *shape,
        *("--n-samples", "300", "--epochs", "1", "--repeats", "1"),
    )
    assert_header(stdout)
    for line in ("Xb @ W1", "expit (hidden)", "gather the batch rows", "+ exp"):
        assert line in stdout
    assert "BPClassifier, per step of fit" in stdout
    assert "MLPClassifier, per step of fit" in stdout
    assert "hand-fused numpy loop, per step" in stdout
    assert "parameter difference after the fit" in stdout


def test_reference_loop():
    stdout = run_benchmark(
        "reference_loop", *("--steps", "20", "--hidden", "3", "--numerical-steps", "1")
    )
    assert "reference loop, backprop: 20 steps" in stdout
    assert "reference loop, numerical:" in stdout


def test_run_all_lists_every_script():
    stdout = run_benchmark("run_all", "--dry-run")
    scripts = sorted(
        p.stem
        for p in BENCHMARKS.glob("*.py")
        if p.stem.startswith(("bench_", "profile_"))
    )
    assert scripts, "no benchmark script found"
    for name in scripts:
        assert f"python benchmarks/{name}.py" in stdout
