"""Shared test settings.

Hypothesis profiles: ``default`` keeps the suite quick; ``thorough``
(``HYPOTHESIS_PROFILE=thorough``) runs twenty times more examples per property.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow],
                          max_examples=150)
settings.register_profile("thorough", deadline=None, suppress_health_check=[HealthCheck.too_slow],
                          max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# Constants a developer measured on their own machine (gcperf calibrate-costs) must not change
# what the tests see: every test, and every gcperf it starts, reads an empty place instead
# (tests of calibrate-costs point GCPERF_COSTS elsewhere themselves).
os.environ["GCPERF_COSTS"] = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".no-user-costs.json")
