"""The main command, ``python -m skbp``."""

import os
import shutil
import subprocess
import sys
import sysconfig
import warnings
from pathlib import Path

import pytest
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning

from skbp.__main__ import main, parse_args, reference_classifier, train_for


def test_help_runs():
    result = subprocess.run(
        [sys.executable, "-m", "skbp", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    assert result.stdout.startswith("usage: python -m skbp ")
    assert "--epochs" in result.stdout and "--plot" in result.stdout
    # The default figure path, as every example's --help shows its own.
    assert "default: skbp.png in the current directory" in " ".join(
        result.stdout.split()
    )


def _console_script():
    """The installed ``skbp`` command beside this interpreter, or None."""
    name = "skbp.exe" if os.name == "nt" else "skbp"
    path = Path(sysconfig.get_path("scripts")) / name
    return path if path.exists() else shutil.which("skbp")


def test_console_command_names_itself():
    script = _console_script()
    if script is None:
        pytest.skip("the skbp console command is not installed")
    result = subprocess.run([script, "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: skbp [-h]")
    result = subprocess.run([script, "--epochs", "0"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "skbp: error: --epochs must be at least 1" in result.stderr


def _table(stdout):
    """The report's table: {label: [steps, fit, per step, accuracy, loss]}."""
    lines = stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("method"))
    assert lines[header].split()[:4] == ["method", "steps", "fit", "[s]"]
    rows = {}
    for line in lines[header + 1 :]:
        if not line.strip():
            return rows
        *label, steps, fit, per_step, accuracy, loss = line.split()
        rows[" ".join(label)] = [int(steps), fit, per_step, accuracy, float(loss)]
    return rows


def test_short_run_prints_the_report(tmp_path, capsys):
    plot = tmp_path / "curves.png"
    assert main(["--epochs", "1", "--hidden", "4", "--plot", str(plot)]) == 0
    out = capsys.readouterr()
    # What the README shows: the setup, then the table.
    assert out.out.startswith("Digits: 1437 training and 360 test images")
    assert "Training: 1 epoch x 15 steps = 15 SGD steps, batch 100," in out.out
    rows = _table(out.out)
    assert list(rows) == ["backprop", "numerical", "backprop, equal time"]
    # Same seed, same batches: both runs reach the same accuracy.
    assert rows["backprop"][0] == rows["numerical"][0] == 15
    assert rows["backprop"][3] == rows["numerical"][3]
    # The equal-time run trains whole epochs, at least one.
    assert rows["backprop, equal time"][0] % 15 == 0
    assert "In the numerical fit's time, backprop trained" in out.out
    assert "Speed-up of backprop over numerical" in out.out
    assert "W1:" in out.out and "b2:" in out.out
    assert "ETA" in out.err and "training again for the numerical fit's" in out.err
    assert f"saved to {plot}" in out.out and plot.stat().st_size > 10_000


def test_no_equal_time_skips_the_third_run(capsys):
    args = ["--epochs", "1", "--hidden", "2", "--no-plot", "--no-equal-time"]
    assert main(args) == 0
    out = capsys.readouterr()
    assert list(_table(out.out)) == ["backprop", "numerical"]
    assert "equal time" not in out.out + out.err


def test_batch_size_larger_than_the_data_is_clipped(recwarn, capsys):
    # Clipped to the 1437 training rows, and said so; no warning from
    # BPClassifier, which is given the clipped size.
    args = ["--epochs", "1", "--hidden", "2", "--no-plot", "--no-equal-time"]
    assert main([*args, "--batch-size", "5000"]) == 0
    out = capsys.readouterr().out
    assert (
        "Training: 1 epoch x 1 step = 1 SGD step, batch 1437 "
        "(--batch-size 5000 clipped to the training rows)," in out
    )
    assert {row[0] for row in _table(out).values()} == {1}
    assert [str(w.message) for w in recwarn] == []


def test_equal_time_run_starts_as_the_fixed_run_and_fills_its_time():
    # Same seed and settings: its first epoch is the fixed-length run's first
    # epoch. It stops once the measured fit time reaches the budget, after
    # whole epochs, with its accuracy recorded against the time elapsed.
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = X[:300], X[300:400], y[:300], y[300:400]
    args = parse_args(["--hidden", "3", "--batch-size", "50", "--epochs", "1"])
    _, record = train_for(0.05, args, X_train, y_train, X_test, y_test)
    assert record.seconds >= 0.05 and record.times[-1] == record.seconds
    assert record.times == sorted(record.times)
    assert record.steps == sorted(record.steps) and record.steps[-1] % 6 == 0
    assert len(record.accuracy) == len(record.loss) == len(record.steps)
    first_epoch = reference_classifier("backprop", args, 50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a fixed epoch count
        warnings.filterwarnings("ignore", ".*only one class", UserWarning)
        first_epoch.fit(X_train, y_train)
    assert record.steps[0] == 6
    assert record.loss[0] == first_epoch.loss_
    assert record.accuracy[0] == first_epoch.score(X_test, y_test)


def test_no_plot(capsys):
    assert main(["--epochs", "1", "--hidden", "2", "--no-plot"]) == 0
    assert "saved to" not in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--hidden", "-1"], "--hidden must be at least 1"),
        (["--learning-rate", "0"], "--learning-rate must be positive and finite"),
        (["--learning-rate", "inf"], "--learning-rate must be positive and finite"),
        (["--learning-rate", "nan"], "--learning-rate must be positive and finite"),
        (["--weight-init-std", "-1"], "--weight-init-std must be positive"),
        (["--seed", "-5"], "--seed must be between 0 and 4294967295"),
        (["--seed", str(2**32)], "--seed must be between 0 and 4294967295"),
    ],
)
def test_bad_arguments_are_usage_errors(args, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"error: {message}" in err and "Traceback" not in err


def test_largest_seed_runs(capsys):
    args = ["--epochs", "1", "--hidden", "2", "--no-plot", "--seed", str(2**32 - 1)]
    assert main(args) == 0


def test_diverging_learning_rate_is_a_clear_error(capsys):
    # Far too large a rate: training diverges. A message naming the options
    # to change, exit status 1, no traceback.
    args = ["--epochs", "1", "--hidden", "2", "--no-plot", "--learning-rate", "1e300"]
    assert main(args) == 1
    out = capsys.readouterr()
    assert "error: numerical training failed with --learning-rate 1e+300" in out.err
    assert "diverged" in out.err
    assert "method" not in out.out  # no report of a failed run


def test_diverging_run_from_the_shell_has_no_traceback():
    result = subprocess.run(
        [sys.executable, "-m", "skbp", "--epochs", "1", "--hidden", "2"]
        + ["--no-plot", "--learning-rate", "1e300"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "python -m skbp: error:" in result.stderr


@pytest.mark.parametrize(
    "make_path, message",
    [
        (lambda tmp: tmp / "missing" / "fig.png", "no directory"),
        (lambda tmp: tmp, "is a directory"),
        (lambda tmp: tmp / "fig.nosuchformat", "the file name must end in one of"),
    ],
)
def test_bad_plot_path_fails_before_training(tmp_path, make_path, message, capsys):
    pytest.importorskip("matplotlib")
    with pytest.raises(SystemExit) as exc:
        main(["--epochs", "1", "--hidden", "2", "--plot", str(make_path(tmp_path))])
    assert exc.value.code == 2
    out = capsys.readouterr()
    assert "error: --plot: " in out.err and message in out.err
    assert out.out == ""  # failed at once: nothing trained, nothing printed
    assert list(tmp_path.iterdir()) == []  # and nothing left behind


def test_unwritable_plot_path_fails_before_training(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    # A path whose "directory" is a file: not writable whoever runs the test
    # (chmod does not stop root).
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SystemExit):
        main(["--epochs", "1", "--hidden", "2", "--plot", str(blocker / "fig.png")])
    assert "error: --plot:" in capsys.readouterr().err
    readonly = tmp_path / "ro"
    readonly.mkdir(mode=0o500)
    try:
        if os.access(readonly, os.W_OK):
            return  # root writes anywhere: nothing more to check here
        with pytest.raises(SystemExit):
            main(["--epochs", "1", "--plot", str(readonly / "fig.png")])
        assert "error: --plot: cannot write" in capsys.readouterr().err
    finally:
        readonly.chmod(0o700)


def test_plot_path_check_keeps_an_existing_file(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "old.png"
    plot.write_bytes(b"old")
    assert main(["--epochs", "1", "--hidden", "2", "--plot", str(plot)]) == 0
    assert plot.read_bytes() != b"old" and plot.stat().st_size > 10_000


def test_default_plot_goes_to_the_current_directory(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    assert main(["--epochs", "1", "--hidden", "2"]) == 0
    assert "saved to skbp.png" in capsys.readouterr().out
    assert (tmp_path / "skbp.png").stat().st_size > 10_000


def test_no_warning_from_the_epochs_on_the_plateau(recwarn, capsys):
    # Each epoch is its own fit: those before the last stop at max_iter=1 and
    # may still sit on the N(0, 0.01²) plateau. Neither is the user's doing.
    assert main(["--epochs", "3", "--hidden", "3", "--no-plot"]) == 0
    assert [str(w.message) for w in recwarn] == []
