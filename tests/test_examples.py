"""Run each example script top to bottom, at reduced size, as a user would.

Each must exit cleanly and print no warning: a short, fixed run silences its
own ``ConvergenceWarning`` explicitly, and nothing else should warn.
"""

import importlib.util
import os
import re
import subprocess
import sys

import pytest
from _helpers import ROOT

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def run_example(name, *args, cwd=ROOT):
    """Run ``examples/<name>`` with ``args`` in ``cwd``; return its stdout.

    Fails on a non-zero exit, on an overflow (``RuntimeWarning`` is an error)
    and on any warning printed to stderr.
    """
    proc = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", ROOT / "examples" / name]
        + list(args),
        cwd=cwd,
        env={**os.environ, "MPLBACKEND": "Agg"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"{name} failed:\n{proc.stdout}\n{proc.stderr}"
    assert "Warning" not in proc.stderr, f"{name} warned:\n{proc.stderr}"
    return proc.stdout


def check_figure(stdout, path):
    if HAS_MATPLOTLIB:
        assert f"figure saved to {path}" in stdout
        assert path.stat().st_size > 0
    else:
        assert "matplotlib is not installed" in stdout
        assert not path.exists()


def test_cross_val_backprop_vs_numerical(tmp_path):
    figure = tmp_path / "cross_val.png"
    stdout = run_example(
        "plot_cross_val_backprop_vs_numerical.py",
        *("--n-samples", "300", "--cv", "2", "--epochs", "1", "--hidden", "5"),
        *("--output", str(figure)),
    )
    assert "acc bp  acc num" in stdout
    assert "mean speed-up of backprop" in stdout
    check_figure(stdout, figure)


def test_regression_backprop_vs_numerical(tmp_path):
    figure = tmp_path / "regression.png"
    stdout = run_example(
        "plot_regression_backprop_vs_numerical.py",
        *("--n-samples", "120", "--cv", "2", "--epochs", "2", "--hidden", "3"),
        *("--output", str(figure)),
    )
    assert stdout.count("R² bp   R² num") == 2  # diabetes and 3 targets
    assert "network [10, 3, 3]" in stdout
    assert stdout.count("mean speed-up of backprop") == 2
    check_figure(stdout, figure)


def test_prediction_intervals(tmp_path):
    figure = tmp_path / "intervals.png"
    stdout = run_example(
        "plot_prediction_intervals.py",
        *("--n-samples", "300", "--hidden", "5", "--max-iter", "50"),
        *("--boosting-iter", "10"),
        *("--output", str(figure)),
    )
    assert "skbp" in stdout and "gradient boosting" in stdout
    assert "target coverage: 0.900" in stdout
    check_figure(stdout, figure)


def test_dropout(tmp_path):
    figure = tmp_path / "dropout.png"
    stdout = run_example(
        "plot_dropout.py",
        *("--n-samples", "150", "--hidden", "20", "--epochs", "15", "--cv", "2"),
        *("--small-hidden", "5", "--small-epochs", "10"),
        *("--output", str(figure)),
    )
    assert "accuracy gained by dropout" in stdout
    assert "gradient_check with dropout: largest error" in stdout
    assert "same predictions: True" in stdout
    check_figure(stdout, figure)


def test_grid_search(tmp_path):
    figure = tmp_path / "grid_search.png"
    stdout = run_example(
        "plot_grid_search.py",
        *("--n-samples", "300", "--cv", "2", "--epochs", "1"),
        *("--hidden-sizes", "3", "--learning-rates", "0.5", "1.0"),
        *("--output", str(figure)),
    )
    assert "GridSearchCV: 4 candidates x 2 folds" in stdout
    assert "mean_test_score" in stdout and "mean_fit_time" in stdout
    assert "best_params_" in stdout
    check_figure(stdout, figure)


@pytest.mark.parametrize("use_output", [True, False])
def test_persistence(tmp_path, use_output):
    model = tmp_path / "sub" / "model.joblib"
    args = ["--epochs", "2", "--hidden", "5"]
    if use_output:
        args += ["--output", str(model)]
    stdout = run_example("persistence.py", *args)
    assert "predict and predict_proba identical" in stdout
    assert "only load model files you trust" in stdout
    assert "bit-identical" in stdout
    assert model.exists() == use_output
    if use_output:
        assert f"saved to {model}: {model.stat().st_size:,} bytes" in stdout


def test_callbacks(tmp_path):
    figure = tmp_path / "callbacks.png"
    stdout = run_example(
        "plot_callbacks.py",
        *("--n-samples", "200", "--epochs", "2", "--hidden", "3"),
        *("--output", str(figure)),
    )
    assert "largest difference between the two curves: 0.0e+00" in stdout
    assert "BPClassifier - fit" in stdout  # the progress bars, nested
    # Written to a pipe, each bar keeps its time column (rich would cut the
    # nested names' lines at 80 columns).
    bars = [line for line in stdout.splitlines() if " - fit" in line]
    assert bars and all(re.search(r"100% \d+:\d\d:\d\d$", bar) for bar in bars)
    check_figure(stdout, figure)


def test_scaling(tmp_path):
    figure = tmp_path / "scaling.png"
    stdout = run_example(
        "plot_scaling.py",
        *("--hidden", "2", "4", "--n-features", "16", "64", "--repeats", "1"),
        *("--backprop-steps", "2", "--numerical-steps", "1", "--blas-threads", "1"),
        *("--output", str(figure)),
    )
    assert stdout.startswith("Machine: ") and "1 BLAS thread(s)" in stdout
    rows = [line for line in stdout.splitlines() if re.match(r"\| \d+-\d+-10 ", line)]
    # Each network's parameter count and the 2 x params forward passes.
    assert [row.split(" | ")[:3] for row in rows] == [
        ["| 16-2-10", "64", "128"],
        ["| 16-4-10", "118", "236"],
        ["| 64-2-10", "160", "320"],
        ["| 64-4-10", "310", "620"],
    ]
    assert "Log-log slope of the speed-up against the parameter count" in stdout
    check_figure(stdout, figure)


@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="needs matplotlib")
def test_no_save_draws_without_saving(tmp_path):
    # What the documentation build runs: the gallery shows the figure it
    # takes from matplotlib, and the page says nothing of a saved file.
    stdout = run_example(
        "plot_training_curves.py",
        *("--n-samples", "200", "--epochs", "2", "--hidden", "3", "--no-save"),
        cwd=tmp_path,
    )
    assert "saved" not in stdout
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_help_shows_the_default_figure_path(path):
    stdout = run_example(path.name, "--help")
    help_text = " ".join(stdout.split())
    assert help_text.startswith("usage: ")
    if path.name.startswith("plot_"):
        # One rule for every figure: a PNG named after the script, in the
        # current directory (python -m skbp: skbp.png).
        assert f"default: {path.stem}.png in the current directory" in help_text


@pytest.mark.skipif(not HAS_MATPLOTLIB, reason="needs matplotlib")
def test_figure_goes_to_the_current_directory_by_default(tmp_path):
    stdout = run_example(
        "plot_training_curves.py",
        *("--n-samples", "200", "--epochs", "2", "--hidden", "3"),
        cwd=tmp_path,
    )
    assert "figure saved to plot_training_curves.png" in stdout
    assert [p.name for p in tmp_path.iterdir()] == ["plot_training_curves.png"]
