"""Hypothesis profiles for the fuzz harnesses.

``ci`` (the default, part of ``make test``) is derandomised, so every run tries the same
inputs and a failure reproduces; ``long`` (``make fuzz``) draws fresh inputs each run,
``FUZZ_EXAMPLES`` of them per harness (scaled by its cost), and keeps failing ones in the
example database.  Per-example time and memory
are bounded by the forked child (tests/fuzz/oracle.py), not by hypothesis' deadline.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

_COMMON = {
    "deadline": None,
    "print_blob": True,
    "suppress_health_check": [
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
}
settings.register_profile(
    "ci", max_examples=75, derandomize=True, database=None, phases=[Phase.generate, Phase.shrink], **_COMMON
)
settings.register_profile("long", max_examples=int(os.environ.get("FUZZ_EXAMPLES", "1000")), **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
