"""Command-line arguments for the examples the documentation build executes.

sphinx-gallery runs each example with ``sys.argv[1:] = reset_argv(...)``:
these shrink the work so the whole build stays within a few minutes on two
cores. Examples not listed run with their defaults.
"""

from pathlib import Path

ARGV = {
    "plot_cross_val_backprop_vs_numerical.py": ["--cv", "3", "--epochs", "2"],
    "plot_grid_search.py": ["--cv", "2", "--epochs", "2", "--hidden-sizes", "5"],
    "plot_training_curves.py": ["--epochs", "10"],
}


def reset_argv(gallery_conf, script_vars):
    """Return the arguments for the example in ``script_vars["src_file"]``."""
    return ARGV.get(Path(script_vars["src_file"]).name, [])
