"""Timing shared by the bench scripts (run as `python bench/<name>.py`, so importable by name)."""

from __future__ import annotations

import time
from collections.abc import Callable


def best_of(action: Callable[[], object], repeats: int) -> float:
    """The fastest of ``repeats`` runs, in seconds: the least disturbed by a noisy machine."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best
