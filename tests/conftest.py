"""Shared test configuration: hypothesis profiles, and the ``tiny`` problems.

``pytest`` uses the CI-friendly "default" profile; ``pytest
--hypothesis-profile=long`` runs many more examples. The differential suite
(``tests/test_differential.py``) sets its own example counts per profile
(``DIFFERENTIAL_EXAMPLES``: about a minute by default, 5,000 or more with
"long"), derandomized so that CI runs the same examples every time.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("default")


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
