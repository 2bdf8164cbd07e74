"""The sanitisers the product ships, registered explicitly (no import side effects)."""

from __future__ import annotations

from sanitizers.base import Registry, Sanitizer


def shipped_sanitizers() -> list[Sanitizer]:
    return []


def default_registry() -> Registry:
    return Registry(shipped_sanitizers())
