"""Shared test configuration: hypothesis profiles.

``pytest`` uses the CI-friendly "default" profile; ``pytest
--hypothesis-profile=long`` runs many more examples.
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
