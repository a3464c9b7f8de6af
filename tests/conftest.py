"""Shared test configuration: hypothesis profiles.

``pytest`` uses the CI-friendly "default" profile; ``pytest
--hypothesis-profile=long`` runs many more examples. The differential suite
(``tests/test_differential.py``) sets its own example counts per profile
(``DIFFERENTIAL_EXAMPLES``: about a minute by default, 5,000 or more with
"long"), derandomized so that CI runs the same examples every time.
"""

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
