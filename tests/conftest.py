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
