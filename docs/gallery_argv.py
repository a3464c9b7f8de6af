"""Command-line arguments for the examples the documentation build executes.

sphinx-gallery runs each example with ``sys.argv[1:] = reset_argv(...)``:
``REDUCED`` shrinks the work so the whole build stays within a few minutes on
two cores (each such page says so, with these arguments: see ``conf.py``).
Examples not listed run with their defaults. The ``plot_*`` examples get
``--no-save``: the gallery shows the figure it scrapes from matplotlib, so no
file is written and no page names a build directory.
"""

from pathlib import Path

REDUCED = {
    "plot_cross_val_backprop_vs_numerical.py": ["--cv", "3", "--epochs", "2"],
    "plot_dropout.py": ["--epochs", "60", "--cv", "3", "--small-epochs", "5"],
    "plot_grid_search.py": ["--cv", "2", "--epochs", "2", "--hidden-sizes", "5"],
    "plot_scaling.py": ["--hidden", "10", "50", "--n-features", "64", "--repeats", "1"],
    "plot_training_curves.py": ["--epochs", "10"],
}


def reset_argv(gallery_conf, script_vars):
    """Return the arguments for the example in ``script_vars["src_file"]``."""
    name = Path(script_vars["src_file"]).name
    argv = REDUCED.get(name, [])
    if name.startswith("plot_"):
        argv = [*argv, "--no-save"]
    return argv
