"""The package walked along its relationships: which parts are written and which go.

The walk starts at the package relationships (``_rels/.rels``) and follows every part's
own relationships.  A part is planned only when it is reached by a relationship whose
type is on the allow-list and its declared content type is one that type may carry;
members reached by nothing at all are dropped too.  Hyperlinks are the only relationships
that may point outside the package, and only to the web (``links = "keep-web"``).
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

from sanitizers.errors import MalformedError, PolicyError
from sanitizers.links import is_web_link
from sanitizers.ooxml.contenttypes import CONTENT_TYPES_PART, ContentTypes
from sanitizers.ooxml.findings import Tally
from sanitizers.ooxml.package import Package
from sanitizers.ooxml.relationships import (
    KeptRelationship,
    Relationship,
    parse_relationships,
    relationships_part,
    resolve_target,
)
from sanitizers.ooxml.vocabulary import (
    DROPPED_RELATIONSHIPS,
    EXTERNAL_CONSTRUCT,
    FAMILIES,
    HYPERLINK,
    KEPT_RELATIONSHIPS,
    OFFICE_DOCUMENT,
    XLSB_MAIN,
    Family,
    Leaf,
)

#: Members no relationship reaches, named by where Office would have put them.
_UNREFERENCED: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"vbaproject|vbadata", re.I), "ooxml.vba_project"),
    (re.compile(r"(^|/)activex/", re.I), "ooxml.activex"),
    (re.compile(r"(^|/)embeddings/", re.I), "ooxml.embedded_object"),
    (re.compile(r"(^|/)macrosheets/", re.I), "ooxml.xlm_macrosheet"),
)


@dataclass(frozen=True)
class Policy:
    keep_web_links: bool
    keep_metadata: bool
    keep_comments: bool


@dataclass
class PlannedPart:
    name: str
    content_type: str  # as it will be declared in the output
    leaf: Leaf | None
    relationships: list[KeptRelationship] = field(default_factory=list)


@dataclass
class Plan:
    family: Family
    main: str
    package_relationships: list[KeptRelationship]
    parts: dict[str, PlannedPart]  # in walk order, the main part first

    def drop(self, name: str) -> list[str]:
        """Leave a planned part out after all, with the relationships to it and the parts
        only it led to; returns those parts."""
        del self.parts[name]
        self.package_relationships = [r for r in self.package_relationships if r.target_part != name]
        for part in self.parts.values():
            part.relationships = [r for r in part.relationships if r.target_part != name]
        reachable: set[str] = set()
        pending = [r.target_part for r in self.package_relationships]
        while pending:
            current = pending.pop()
            if current is not None and current in self.parts and current not in reachable:
                reachable.add(current)
                pending += [r.target_part for r in self.parts[current].relationships]
        orphans = [other for other in self.parts if other not in reachable]
        for orphan in orphans:
            del self.parts[orphan]
        return orphans


def plan_package(package: Package, content_types: ContentTypes, policy: Policy, tally: Tally) -> Plan:
    walk = _Walk(package, content_types, policy, tally)
    untrusted_relationships = walk.relationships_of("")
    if not untrusted_relationships:
        raise MalformedError("ooxml.malformed", "the package has no relationships (_rels/.rels)")
    mains = [r for r in untrusted_relationships if r.type == OFFICE_DOCUMENT and not r.external]
    if len(mains) != 1:
        raise MalformedError("ooxml.malformed", f"the package names {len(mains)} main documents, not one")
    main_target = resolve_target("", mains[0].untrusted_target)
    main = package.lookup(main_target) if main_target else None
    if main is None:
        raise MalformedError("ooxml.malformed", "the main document named by _rels/.rels is missing")
    family, main_type = _main_content_type(content_types.of(main), tally)
    walk.plan(main, main_type, leaf=None)
    package_relationships = [KeptRelationship(mains[0].id, OFFICE_DOCUMENT, target_part=main)]
    package_relationships += walk.judge_all("", [r for r in untrusted_relationships if r is not mains[0]])
    walk.run()
    walk.report_unreferenced()
    return Plan(family, main, package_relationships, walk.parts)


def _main_content_type(declared: str | None, tally: Tally) -> tuple[Family, str]:
    """The application, and the main part's output content type (never macro-enabled)."""
    lowered = (declared or "").lower()
    if lowered == XLSB_MAIN:
        raise PolicyError("ooxml.xlsb", "binary workbook (.xlsb) parts cannot be rebuilt as XML")
    for family in FAMILIES:
        if lowered in family.plain:
            return family, declared or ""
        if lowered in family.macro_enabled:
            tally.add("ooxml.macro_enabled", f"{declared} → {family.plain_main}", "neutralised")
            return family, family.plain_main
    raise MalformedError(
        "ooxml.malformed", f"the main document is {declared!r}, not Word, Excel or PowerPoint"
    )


class _Walk:
    def __init__(self, package: Package, content_types: ContentTypes, policy: Policy, tally: Tally) -> None:
        self.package = package
        self.content_types = content_types
        self.policy = policy
        self.tally = tally
        self.parts: dict[str, PlannedPart] = {}
        self.reached: set[str] = set()
        self._queue: deque[str] = deque()

    def relationships_of(self, source: str) -> list[Relationship]:
        name = self.package.lookup(relationships_part(source))
        if name is None:
            return []
        relationships = parse_relationships(self.package.read(name), name)
        if any(r.converted_from_strict for r in relationships):
            self.tally.add("ooxml.strict", name, "converted")
        return relationships

    def plan(self, name: str, content_type: str, leaf: Leaf | None) -> None:
        self.reached.add(name)
        if name not in self.parts:
            self.parts[name] = PlannedPart(name, content_type, leaf)
            if leaf is None:  # whatever an image or a font claims to relate to is not walked
                self._queue.append(name)

    def run(self) -> None:
        while self._queue:
            source = self._queue.popleft()
            self.parts[source].relationships = self.judge_all(source, self.relationships_of(source))

    def judge_all(self, source: str, relationships: list[Relationship]) -> list[KeptRelationship]:
        return [kept for r in relationships if (kept := self._judge(source, r)) is not None]

    def _judge(self, source: str, relationship: Relationship) -> KeptRelationship | None:
        where = f"{source or '_rels/.rels'} {relationship.id}"
        if relationship.type == HYPERLINK:
            if self.policy.keep_web_links and is_web_link(relationship.untrusted_target):
                return KeptRelationship(
                    relationship.id, relationship.type, external_target=relationship.untrusted_target
                )
            self.tally.add("ooxml.hyperlink", f"{where} → {relationship.untrusted_target[:120]}")
            return None
        if relationship.external:
            construct = DROPPED_RELATIONSHIPS.get(relationship.type, EXTERNAL_CONSTRUCT)
            self.tally.add(construct, f"{where} → {relationship.untrusted_target[:120]}")
            return None
        target = resolve_target(source, relationship.untrusted_target)
        name = self.package.lookup(target) if target is not None else None
        if name is not None:
            self.reached.add(name)
        shown = f"{where} → {name or relationship.untrusted_target[:120]}"
        kept = KEPT_RELATIONSHIPS.get(relationship.type)
        if kept is None:
            dropped_as = DROPPED_RELATIONSHIPS.get(relationship.type)
            if dropped_as is not None:
                self.tally.add(dropped_as, shown)
            else:
                self.tally.add("ooxml.unknown_part", f"{shown} ({relationship.type[-60:]})", "dropped")
            return None
        if kept.comments is not None and not self.policy.keep_comments:
            self.tally.add(kept.comments, shown)
            return None
        if kept.metadata is not None and not self.policy.keep_metadata:
            self.tally.add(kept.metadata, shown)
            return None
        if name is None:
            self.tally.add("ooxml.missing_part", shown, "dropped")
            return None
        content_type = self.content_types.of(name)
        if content_type is None or content_type.lower() not in kept.content_types:
            # PowerPoint's fonts are Embedded OpenType, which nothing here rewrites
            construct = "ooxml.embedded_font" if kept.leaf == "font" else "ooxml.unexpected_content_type"
            self.tally.add(construct, f"{name} ({content_type})", "dropped")
            return None
        self.plan(name, content_type, kept.leaf)
        return KeptRelationship(relationship.id, relationship.type, target_part=name)

    def report_unreferenced(self) -> None:
        for name in self.package.names:
            if name in self.reached or name == CONTENT_TYPES_PART or name.endswith(".rels"):
                continue
            construct = next((c for pattern, c in _UNREFERENCED if pattern.search(name)), None)
            if construct is not None:
                self.tally.add(construct, name)
            else:
                self.tally.add("ooxml.unreferenced_part", name, "dropped")
