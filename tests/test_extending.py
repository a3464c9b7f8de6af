"""docs/extending.rst runs: its softplus, Huber and RMSprop examples as a doctest.

The page registers its entries in the package's registries; they are
removed afterwards, so the other tests see the registries as shipped.
"""

import doctest
from pathlib import Path

import pytest

from skbp.network import ACTIVATIONS, OUTPUTS
from skbp.optimizers import SOLVERS

PAGE = Path(__file__).resolve().parents[1] / "docs" / "extending.rst"


@pytest.fixture
def registries_restored():
    saved = [(registry, dict(registry)) for registry in (ACTIVATIONS, OUTPUTS, SOLVERS)]
    yield
    for registry, entries in saved:
        registry.clear()
        registry.update(entries)


def test_extending_page_runs(registries_restored):
    result = doctest.testfile(
        str(PAGE),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        raise_on_error=False,
        verbose=False,
    )
    assert result.attempted > 20
    assert result.failed == 0, f"{result.failed} examples of {PAGE.name} failed"
