"""What the cleaners of one XML part need to know about the rest of the package."""

from __future__ import annotations

from dataclasses import dataclass

from sanitizers.ooxml.findings import Tally
from sanitizers.ooxml.plan import Policy


@dataclass(frozen=True)
class PartContext:
    name: str
    content_type: str
    #: ids of this part's relationships that are written; any other reference dangles
    kept_ids: frozenset[str]
    policy: Policy
    #: Word comments survive, so the marks anchoring them in the text may stay
    comments_kept: bool
    tally: Tally
