"""Shared test configuration: hypothesis profiles, and the ``tiny`` problems.

``pytest`` uses the CI-friendly "default" profile; ``pytest
--hypothesis-profile=long`` runs many more examples. The differential suite
(``tests/test_differential.py``) sets its own example counts per profile
(``DIFFERENTIAL_EXAMPLES``: about a minute by default, 5,000 or more with
"long"), derandomized so that CI runs the same examples every time.

``SCIPY_ARRAY_API=1`` is set here, before anything imports scipy (which reads
it once, at import), so that scikit-learn's array-API dispatch and its
array-API estimator checks run (``tests/test_array_api.py``). It changes
nothing for numpy inputs (``test_scipy_array_api_changes_no_numpy_fit``
there). If scipy was imported earlier (a plugin, a ``-W`` naming a
scikit-learn class) it is left unset and those tests skip, saying why.
"""

import os
import sys

if "scipy" not in sys.modules:
    os.environ.setdefault("SCIPY_ARRAY_API", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "default",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    # CI runs the same examples every time (a failure there is a change's,
    # not the draw's); elsewhere each run draws new ones.
    derandomize=bool(os.environ.get("CI")),
)
settings.register_profile(
    "long",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("default")


def pytest_configure(config):
    """Ignore sklearn's ConvergenceWarning (short test fits stop at max_iter).

    Tests of that warning use ``pytest.warns``, which sees it regardless. It
    is added here rather than in pyproject.toml's ``filterwarnings``, where
    naming the class would import scikit-learn, hence scipy, before this
    module sets ``SCIPY_ARRAY_API``.
    """
    config.addinivalue_line(
        "filterwarnings", "ignore::sklearn.exceptions.ConvergenceWarning"
    )


def _three_blobs(shift):
    """30 x 3, three classes whose means lie ``shift`` apart along every feature."""
    rng = np.random.RandomState(0)
    X = rng.standard_normal((30, 3))
    y = np.repeat([0, 1, 2], 10)
    X[y == 1] += shift
    X[y == 2] -= shift
    return X, y


@pytest.fixture(scope="session")
def tiny():
    """30 x 3, three overlapping classes: small enough for many numerical fits."""
    return _three_blobs(1.5)


@pytest.fixture(scope="session")
def tiny_separated():
    """30 x 3, three well-separated classes (means 2 apart)."""
    return _three_blobs(2.0)
