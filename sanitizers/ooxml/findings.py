"""Findings gathered while a package is rebuilt, one line per construct and action."""

from __future__ import annotations

from dataclasses import dataclass, field

from sanitizers.base import Report

#: Locations listed per finding; more are counted, not named.
_MAX_LOCATIONS = 5


@dataclass
class _Entry:
    count: int = 0
    locations: list[str] = field(default_factory=list)


@dataclass
class Tally:
    _entries: dict[tuple[str, str], _Entry] = field(default_factory=dict)

    def add(self, construct: str, location: str, action: str = "removed", count: int = 1) -> None:
        entry = self._entries.setdefault((construct, action), _Entry())
        entry.count += count
        if location not in entry.locations:
            entry.locations.append(location)

    def report_into(self, report: Report) -> None:
        for (construct, action), entry in sorted(self._entries.items()):
            shown = ", ".join(entry.locations[:_MAX_LOCATIONS])
            hidden = len(entry.locations) - _MAX_LOCATIONS
            report.add(construct, action, entry.count, shown + (f" (+{hidden} more)" if hidden > 0 else ""))
