"""Smoke-run the benchmark harness (``benchmarks/run.py``) at ``--quick`` sizes.

Every case must run and report like with like (same start, same values);
nothing here asserts a time. ``benchmarks/compare.py`` runs too.
"""

import importlib.util
import json
import re
import subprocess

import numpy as np
import pytest
from _helpers import ROOT, run_script

HARNESS = ROOT / "benchmarks" / "run.py"
COMPARE = ROOT / "benchmarks" / "compare.py"


@pytest.fixture(scope="module")
def harness():
    """``benchmarks/run.py`` imported as a module."""
    spec = importlib.util.spec_from_file_location("benchmarks_run", HARNESS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def figures(label, stdout):
    """Every number printed after ``label`` in ``stdout``."""
    return [float(x) for x in re.findall(re.escape(label) + r" ([-+.e\d]+)", stdout)]


def test_every_case_runs_quick(harness):
    stdout = run_script(HARNESS, "--quick", "--repeat", "1")
    first = stdout.splitlines()[0]
    assert first.startswith("Machine:") and "BLAS openblas" in first
    assert "numpy" in first and "load average" in first
    assert "devices: numpy (cpu)" in first
    sections = dict(section.split("\n", 1) for section in stdout.split("\n## ")[1:])
    assert [title.split(":")[0] for title in sections] == list(harness.CASES)
    # skbp and scikit-learn start alike and see the same batches (float32: 1e-7),
    # in every case that times both.
    for table in sections.values():
        if "| BP per " in table:
            assert "max |BP - MLP|" in table
    gaps = figures("max |BP - MLP|", stdout)
    assert max(gaps) < 1e-6
    # Every array library computes numpy's gradients and fits (float64).
    for name in harness.array_devices():
        if name != "numpy":
            assert name in first
            assert max(figures(f"max |{name} - numpy|", stdout)) < 1e-9
    # The two numerical gradients compute the same values.
    assert 0 <= figures("max |skbp - loop|", stdout)[0] < 1e-9
    assert "Log-log slope" in stdout


def test_memory_child_reports_both_peaks(harness, capsys):
    # What each fresh subprocess of --memory runs, here in-process.
    harness.main(["mnist", "--quick", "--child", "0:BP"])
    memory = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert memory["traced"] > 0
    assert memory["rss"] is None or memory["rss"] >= 0


def test_peak_memory_counts_temporaries_not_the_result(harness):
    def temporary():
        return np.ones(2**20).sum()  # 8 MiB, freed before it returns

    def result():
        return np.ones(2**20)

    assert harness.peak_memory(temporary)["traced"] >= 8 * 2**20
    assert harness.peak_memory(result)["traced"] < 2**20


def test_ratio_is_of_minimums_with_median_of_per_round_ratios(harness):
    times = {"a": [2.0, 4.0, 6.0], "b": [1.0, 1.0, 3.0]}
    assert harness.ratio(times, "a", "b") == (2.0, 2.0)


def test_contenders_interleave_in_rotating_order(harness):
    calls = []
    setup = harness.Setup(
        "", {name: (lambda name=name: calls.append(name)) for name in "xyz"}, []
    )
    times, _ = harness.time_interleaved(setup, repeats=3, budget=60)
    assert calls == list("xyzxyzyzxzxy")  # one warm-up run each first
    assert all(len(t) == 3 for t in times.values())


def is_git_checkout():
    """Whether the repository's history is there for ``git archive``."""
    try:
        subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], check=True,
                       capture_output=True)  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return False
    return True


@pytest.mark.skipif(not is_git_checkout(), reason="compare.py needs a git checkout")
def test_compare_prints_a_ratio_per_case():
    stdout = run_script(COMPARE, "HEAD", "--quick", "--rounds", "2")
    first = stdout.splitlines()[0]
    assert first.startswith("Machine:") and "load average" in first
    assert "A: skbp at HEAD (" in first and "B: skbp at the working tree (" in first
    table = [line for line in stdout.splitlines() if line.startswith("| ")]
    assert table[0] == "| case | A | B | B / A | max abs(B - A) |"
    rows = [line.strip("| ").split(" | ") for line in table[2:]]
    assert len(rows) == 6  # sgd, adam, lbfgs, numerical, predict, tiny
    duration = r"[\d.]+ (s|ms|µs)"
    for case, *times, b_over_a, gap in rows:
        for cell in times:
            assert re.fullmatch(rf"{duration} \({duration}\)", cell), case
        assert re.fullmatch(r"[\d.,]+ \([\d.,]+\)", b_over_a), case
        assert float(gap) >= 0
