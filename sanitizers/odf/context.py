"""What the cleaners of one XML part (or of a whole flat document) need to know."""

from __future__ import annotations

from dataclasses import dataclass

from sanitizers.odf.pictures import Pictures
from sanitizers.ooxml.findings import Tally


@dataclass(frozen=True)
class Choices:
    """The rule's options, as the cleaners use them."""

    links: str  # "keep-web" | "remove", for sanitizers.links.keep_link
    keep_metadata: bool
    keep_comments: bool


@dataclass(frozen=True)
class PartContext:
    name: str  # where findings are located: "content.xml", or the flat document
    choices: Choices
    tally: Tally
    pictures: Pictures
