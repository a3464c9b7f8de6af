"""Every Python block of README.md runs as written, and prints what it shows.

Each ```python block runs on its own (a fresh interpreter in an empty
directory), so it must be self-contained; when a ```text block follows it,
the output must match, fit times and tiny floating-point differences aside.
The ``>>>`` block runs as a doctest whose numbers may differ by rounding.
"""

import ast
import doctest
import importlib.util
import io
import os
import re
import subprocess
import sys
from contextlib import redirect_stdout

import pytest
from _helpers import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
# A fenced block and, when the next block is ```text, the output shown.
BLOCK = re.compile(
    r"```python\n(?P<code>.*?)```\n(?:\n```text\n(?P<out>.*?)```)?", re.S
)
BLOCKS = [(m["code"], m["out"]) for m in BLOCK.finditer(README)]
# Modules of the optional extras: a block that imports one is skipped without it.
OPTIONAL = (
    "matplotlib",
    "skops",
    "dask",
    "distributed",
    "onnxruntime",
    "skl2onnx",
    "torch",
)


def _imports(code):
    """Top-level names of the modules ``code`` imports."""
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def _param(code, out):
    lines = code.splitlines()
    first = next(line for line in lines if line and not line.startswith("import"))
    marks = [pytest.mark.distributed] if "dask" in _imports(code) else []
    return pytest.param(code, out, id=first[:40], marks=marks)


SCRIPTS = [_param(code, out) for code, out in BLOCKS if ">>>" not in code]
DOCTESTS = [code for code, _ in BLOCKS if ">>>" in code]


def _normalise(text):
    """Output with what varies between runs and machines blanked out."""
    text = re.sub(r"\d+\.\d+ s\b", "<time> s", text)  # wall-clock times
    return re.sub(r"\d\.\de-\d\d", "<tiny>", text)  # rounding-level differences


def test_readme_has_the_blocks_it_should():
    # The first example is a Pipeline that scales its inputs, and says why.
    first, shown = BLOCKS[0]
    assert "make_pipeline(" in first and "StandardScaler()" in first
    assert shown is not None
    intro = README[: README.index("## The main job")]
    assert "Scale the inputs" in intro
    assert len(SCRIPTS) >= 4 and len(DOCTESTS) == 1
    assert "`skbp`" in README  # the console command is mentioned


@pytest.mark.parametrize("code, shown", SCRIPTS)
def test_python_block_runs_as_written(code, shown, tmp_path):
    for name in _imports(code) & set(OPTIONAL):
        if importlib.util.find_spec(name) is None:
            pytest.skip(f"needs {name}")
    script = tmp_path / "block.py"
    script.write_text(code, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", script],
        cwd=tmp_path,
        env={**os.environ, "MPLBACKEND": "Agg"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    assert "Warning" not in proc.stderr, proc.stderr
    if shown is not None:
        assert _normalise(proc.stdout) == _normalise(shown)


@pytest.mark.parametrize("code", DOCTESTS)
def test_doctest_block(code):
    examples = doctest.DocTestParser().get_examples(code)
    namespace = {}
    for example in examples:
        buffer = io.StringIO()
        with redirect_stdout(buffer):
            exec(compile(example.source, "README.md", "single"), namespace)
        if example.want:
            # gradient_check's errors: same arrays, same size to within
            # rounding (they are ~1e-9: a few ulps of the loss over h).
            got, want = (
                ast.literal_eval(buffer.getvalue()),
                ast.literal_eval(example.want),
            )
            assert got.keys() == want.keys()
            for name in want:
                assert float(got[name]) < 1e-6
                assert 1 / 3 < float(got[name]) / float(want[name]) < 3, name


def _main_job_block(text, indent=""):
    """The output block of ``python -m skbp`` shown in ``text``, unindented."""
    start = text.index("Digits: 1437 training")
    block = text[start : text.index("saved to skbp.png", start)]
    return "\n".join(line.removeprefix(indent) for line in block.splitlines())


@pytest.mark.parametrize("page", ["README.md", "docs/reference_experiment.rst"])
def test_main_job_output_is_what_it_prints(page, capsys):
    # The setup lines and the table's header are printed before any timing:
    # the shown block must start with them, then give the three rows.
    from skbp.__main__ import parse_args, print_setup, print_table

    print_setup(parse_args([]), 1437, 360)
    print_table([])
    printed = capsys.readouterr().out
    text = (ROOT / page).read_text(encoding="utf-8")
    shown = _main_job_block(text, indent="   " if page.endswith(".rst") else "")
    assert shown.startswith(printed.rstrip("\n"))
    rows = shown[len(printed.rstrip("\n")) :].splitlines()[1:4]
    assert [row.split()[0] for row in rows] == ["backprop", "numerical", "backprop,"]
