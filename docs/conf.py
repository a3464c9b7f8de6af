"""Sphinx configuration of the skbp documentation.

Build with ``sphinx-build -W -b html docs docs/_build/html`` (or
``make -C docs html``) after ``pip install -e ".[docs]"``. The build needs no
network: intersphinx is not used, so references to numpy, scikit-learn and
matplotlib are written as plain text or links.
"""

import os
import re
import sys
from pathlib import Path

import skbp

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS))  # for gallery_argv, named below by its dotted path
os.environ.setdefault("MPLBACKEND", "Agg")

import gallery_argv  # noqa: E402  (found through the sys.path entry above)

project = "skbp"
author = "the skbp developers"
copyright = "the skbp developers"
version = release = skbp.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py.md5"]
templates_path = ["_templates"]

# API pages: one per public name, generated from the numpydoc docstrings.
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": True}
numpydoc_show_class_members = False  # the class template lists the members
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False  # no intersphinx: types stay plain text

# MyST: the benchmarks page includes benchmarks/README.md; its headings may
# start at any level, and links to files of the repo are not doc pages.
myst_heading_anchors = 3
suppress_warnings = ["myst.header", "myst.xref_missing"]


# The gallery renders every script in examples/. Those matching
# ``filename_pattern`` are executed (some at reduced size: gallery_argv) so their
# output and figures appear; distributed_grid_search.py starts a cluster and
# is shown without running.
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/(plot_[^/]*|persistence)\.py$",
    "ignore_pattern": r"__init__\.py",
    "reset_argv": "gallery_argv.reset_argv",
    # "Examples using X" at the end of each API page.
    "doc_module": ("skbp",),
    "backreferences_dir": "generated/backreferences",
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "within_subsection_order": "FileNameSortKey",
    "min_reported_time": 1,
    "write_computation_times": False,
    "show_signature": False,
    "abort_on_example_error": True,
}

html_theme = "pydata_sphinx_theme"
html_title = f"skbp {release}"
html_static_path = []
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_show_sourcelink = False


def _benchmarks_page(app, docname, source):
    """Include benchmarks/README.md in the benchmarks page once it exists."""
    if docname != "benchmarks":
        return
    readme = ROOT / "benchmarks" / "README.md"
    if readme.exists():
        source[0] = (
            "# Benchmark results\n\n"
            f"```{{include}} {os.path.relpath(readme, ROOT / 'docs')}\n"
            ":relative-docs: ../\n"
            ":relative-images:\n"
            ":heading-offset: 1\n"
            "```\n"
        )


def _reduced_size_note(app, docname, source):
    """On a gallery page run at reduced size, say so and with which arguments.

    The page shows the code with its defaults above output from the reduced
    run (``gallery_argv.REDUCED``): the note sits under the page title.
    """
    if not docname.startswith("auto_examples/"):
        return
    name = docname.partition("/")[2] + ".py"
    argv = gallery_argv.REDUCED.get(name)
    if not argv:
        return
    lines = source[0].split("\n")
    title = next(
        i
        for i, line in enumerate(lines)
        if i > 0 and len(line) > 3 and set(line) == {"="} and lines[i - 1].strip()
    )
    lines[title + 1 : title + 1] = [
        "",
        ".. note::",
        "",
        "   The output and figures on this page come from a reduced-size run,",
        f"   ``python examples/{name} {' '.join(argv)}``, which keeps the",
        "   documentation build short: they differ from what the script prints",
        "   and draws with its defaults (less work, other scores and times).",
        "",
    ]
    source[0] = "\n".join(lines)


# Without intersphinx, the roles in docstrings inherited from scikit-learn
# (get_params, score, set_*_request, ...) point at labels and glossary terms of
# scikit-learn's own site: keep their text, drop the link.
_SKLEARN_ROLE = re.compile(r":(?:ref|term):`([^`<]*?)\s*(?:<[^>]*>)?`")
# A bare name ending in "_" is a link target in reStructuredText; in a shape
# such as "(n_features_in_,)" it means the attribute: render it as code.
_SHAPE_ATTRIBUTE = re.compile(r"\(([A-Za-z]\w*_)(?=[,)])")


def _plain_docstrings(app, what, name, obj, options, lines):
    from_sklearn = getattr(obj, "__module__", "").startswith("sklearn")
    for i, line in enumerate(lines):
        if from_sklearn:
            line = _SKLEARN_ROLE.sub(r"\1", line)
        lines[i] = _SHAPE_ATTRIBUTE.sub(r"(``\1``", line)


def setup(app):
    app.connect("source-read", _benchmarks_page)
    app.connect("source-read", _reduced_size_note)
    app.connect("autodoc-process-docstring", _plain_docstrings)
