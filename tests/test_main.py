"""The main command, ``python -m skbp``."""

import subprocess
import sys

import pytest

from skbp.__main__ import main


def test_help_runs():
    result = subprocess.run(
        [sys.executable, "-m", "skbp", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert "--epochs" in result.stdout and "--plot" in result.stdout


def test_short_run_prints_the_report(tmp_path, capsys):
    plot = tmp_path / "curves.png"
    assert main(["--epochs", "1", "--hidden", "4", "--plot", str(plot)]) == 0
    out = capsys.readouterr()
    lines = out.out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("method"))
    assert lines[header].split()[:3] == ["method", "fit", "[s]"]
    assert lines[header + 1].split()[0] == "backprop"
    assert lines[header + 2].split()[0] == "numerical"
    # Same seed, same batches: both runs reach the same accuracy.
    assert lines[header + 1].split()[3] == lines[header + 2].split()[3]
    assert "Speed-up of backprop over numerical" in out.out
    assert "W1:" in out.out and "b2:" in out.out
    assert "ETA" in out.err
    assert f"saved to {plot}" in out.out and plot.stat().st_size > 10_000


def test_no_plot_and_bad_arguments(capsys):
    assert main(["--epochs", "1", "--hidden", "2", "--no-plot"]) == 0
    assert "saved to" not in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--epochs", "0"])
    assert "--epochs must be at least 1" in capsys.readouterr().err
