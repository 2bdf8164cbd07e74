"""The summary table of bench/REPORT.md: one row per measure, its reference, ratio and target.

Kept free of the measuring code so that a test can check the table from made-up rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Target:
    """A bound on the ratio: ``at_most`` for costs, ``at_least`` for speed-ups."""

    bound: Literal["at_most", "at_least"]
    value: float

    def met(self, ratio: float) -> bool:
        return ratio <= self.value if self.bound == "at_most" else ratio >= self.value

    def __str__(self) -> str:
        return f"{'≤' if self.bound == 'at_most' else '≥'} {self.value:g}"


@dataclass(frozen=True)
class Measure:
    """Our number and, when there is one, the reference measured in the same run."""

    what: str
    ours: float | None  # None: not measured (the reason goes in ``note``)
    unit: str
    reference_name: str = ""
    reference: float | None = None
    target: Target | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.ours is None or not self.reference:
            return None
        return self.ours / self.reference

    @property
    def result(self) -> str:
        if self.target is None:
            return "no target"
        if self.ratio is None:
            return "not measured"
        return "met" if self.target.met(self.ratio) else "NOT met"


def quantity(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3g} {unit}" if value < 100 else f"{value:.0f} {unit}"


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def summary_table(measures: list[Measure]) -> str:
    """A Markdown table, one line per measure."""
    lines = [
        "| measure | ours | reference | ratio | target | result |",
        "|---|---|---|---|---|---|",
    ]
    for m in measures:
        reference = f"{quantity(m.reference, m.unit)} ({m.reference_name})" if m.reference_name else "—"
        ratio = "—" if m.ratio is None else f"{m.ratio:.2f}"
        ours = quantity(m.ours, m.unit) + (f" ({m.note})" if m.note else "")
        lines.append(
            f"| {cell(m.what)} | {cell(ours)} | {cell(reference)} | {ratio} | "
            f"{m.target or '—'} | {m.result} |"
        )
    return "\n".join(lines) + "\n"
