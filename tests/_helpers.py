"""Run a repository script as a user would, for the example and benchmark tests."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_script(path, *args, timeout=120):
    """Run ``python path args`` from the repository root; return its stdout.

    Overflow warnings are errors and matplotlib draws off screen; a non-zero
    exit fails the calling test with the script's output.
    """
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", str(path), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"{path} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout
