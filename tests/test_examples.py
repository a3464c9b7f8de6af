"""Run each example script top to bottom, at reduced size, as a user would."""

import importlib.util

import pytest
from _helpers import run_script

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None


def run_example(name, *args):
    """Run ``examples/<name>`` with ``args``; return its stdout, failing on errors."""
    return run_script(f"examples/{name}", *args)


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
