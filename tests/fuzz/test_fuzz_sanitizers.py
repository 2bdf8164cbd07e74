"""Every sanitiser entry point meets mutated real files and either releases or refuses.

One harness per (type, method) pair the shipped registry offers; the office conversions
(LibreOffice, seconds per file) share one harness per method, seeded with every office
type.  The oracle (tests/fuzz/oracle.py) runs each input in a confined child: a release
must re-detect as the promised type and sanitise again to nothing removed; a refusal must
be a SanitizeError with a catalogued code.  Anything else fails with the input saved.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from sanitizers.convert import CONVERTIBLE
from tests.fuzz.mutations import FAMILY_OF_TYPE, Mutant, mutants
from tests.fuzz.oracle import REGISTRY, EntryPoint, judge, save_reproducer
from tests.fuzz.seeds import seeds_for

#: examples per harness, relative to the profile's max_examples (cost and depth of the format)
_WEIGHTS = {"pdf-rebuild": 1.5, "pdf-image": 0.5, "pdf-text": 1.0, "convert": 0.2, "refusal": 0.3}


@dataclass(frozen=True)
class Harness:
    entry: EntryPoint
    seed_types: tuple[str, ...]
    weight: float = 1.0

    def __str__(self) -> str:
        return str(self.entry)


def harnesses() -> list[Harness]:
    found: list[Harness] = []
    for method in ("pdf", "image"):  # one LibreOffice harness per method, every office type
        found.append(Harness(EntryPoint("docx", method), tuple(sorted(CONVERTIBLE)), _WEIGHTS["convert"]))
    for sanitizer in REGISTRY:
        for type_name in sorted(sanitizer.types):
            entry = EntryPoint(type_name, sanitizer.method)
            if type_name in CONVERTIBLE and sanitizer.method in ("pdf", "image"):
                continue
            always_refuses = FAMILY_OF_TYPE[type_name] == "none" or type_name == "xlsb"
            weight = _WEIGHTS["refusal"] if always_refuses else _WEIGHTS.get(str(entry), 1.0)
            found.append(Harness(entry, (type_name,), weight))
    return found


HARNESSES = harnesses()


def test_every_entry_point_of_the_registry_has_a_harness() -> None:
    pairs = {(t, s.method) for s in REGISTRY for t in s.types}
    covered = {(h.entry.type_name, h.entry.method) for h in HARNESSES}
    convert = {(t, m) for t, m in pairs if t in CONVERTIBLE and m in ("pdf", "image")}
    assert pairs - convert == covered - {("docx", "pdf"), ("docx", "image")}
    assert all(seeds_for(t) for h in HARNESSES for t in h.seed_types)


@pytest.mark.parametrize("harness", HARNESSES, ids=str)
def test_mutated_inputs_are_released_clean_or_refused(harness: Harness) -> None:
    seeds = tuple(seed for type_name in harness.seed_types for seed in seeds_for(type_name))
    examples = max(1, round(settings.default.max_examples * harness.weight))
    # one database per harness: the inner test's source (its usual key) is the same for all
    database = (
        None
        if settings.default.database is None
        else DirectoryBasedExampleDatabase(f".hypothesis/fuzz/{harness}")
    )

    @settings(max_examples=examples, database=database)
    @given(mutants(seeds))
    def released_clean_or_refused(mutant: Mutant) -> None:
        verdict = judge(harness.entry, mutant.data)
        if verdict.outcome == "bug":
            path = save_reproducer(harness.entry, mutant.data)
            raise AssertionError(f"{harness.entry} on {mutant!r} (saved as {path}):\n{verdict.detail}")

    released_clean_or_refused()
