"""Command-line arguments for the examples the documentation build executes.

sphinx-gallery runs each example with ``sys.argv[1:] = reset_argv(...)``:
these shrink the work so the whole build stays within a few minutes on two
cores. Examples not listed run with their defaults. The ``plot_*`` examples
save their figure in the current directory, which for sphinx-gallery is
``examples/``: here it goes to a temporary directory instead (the gallery
shows the figure it scrapes from matplotlib, not the saved file).
"""

import tempfile
from pathlib import Path

ARGV = {
    "plot_cross_val_backprop_vs_numerical.py": ["--cv", "3", "--epochs", "2"],
    "plot_grid_search.py": ["--cv", "2", "--epochs", "2", "--hidden-sizes", "5"],
    "plot_training_curves.py": ["--epochs", "10"],
}


def reset_argv(gallery_conf, script_vars):
    """Return the arguments for the example in ``script_vars["src_file"]``."""
    name = Path(script_vars["src_file"]).name
    argv = ARGV.get(name, [])
    if name.startswith("plot_"):
        figure = Path(tempfile.gettempdir()) / "skbp_docs" / f"{Path(name).stem}.png"
        argv = [*argv, "--output", str(figure)]
    return argv
