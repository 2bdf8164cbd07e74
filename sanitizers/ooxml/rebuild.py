"""OOXML rebuild: a new package holding only the allowed parts, each XML part re-written.

Word, Excel and PowerPoint packages (macro-enabled ones included) are read under the
archive limits, walked along their relationships (``plan.py``), and written anew: only
parts reached through allowed relationships, XML parsed without DTDs and entities,
cleaned (field codes, markup, formulas, properties) and serialised from the tree, pictures
and Word's embedded fonts written anew by their own parsers (``images.py``, ``fonts.py``).
Macro-enabled main parts become plain ones, so a .docm comes out as a .docx.  The result
is verified independently before it is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from sanitizers.base import Limits, Options, OptionSpec, Report, Sanitizer
from sanitizers.errors import MalformedError, PolicyError
from sanitizers.ooxml.comments import clean_comment_authors
from sanitizers.ooxml.contenttypes import CONTENT_TYPES_PART, content_types_xml, read_content_types
from sanitizers.ooxml.context import PartContext
from sanitizers.ooxml.fields import clean_fields
from sanitizers.ooxml.findings import Tally
from sanitizers.ooxml.fonts import font_keys, rebuilt_font
from sanitizers.ooxml.images import rebuilt_picture
from sanitizers.ooxml.markup import clean_markup
from sanitizers.ooxml.package import Package, open_package
from sanitizers.ooxml.plan import Plan, PlannedPart, Policy, plan_package
from sanitizers.ooxml.properties import clean_properties
from sanitizers.ooxml.relationships import relationships_part, relationships_xml
from sanitizers.ooxml.spreadsheet import clean_formulas, clean_table, clean_workbook
from sanitizers.ooxml.verify import verify_package
from sanitizers.ooxml.vocabulary import NS_X, VML_DRAWING_CONTENT_TYPE, WORD
from sanitizers.ooxml.writer import package_bytes
from sanitizers.ooxml.xmltree import XmlDocument, parse_xml, serialise_xml
from sanitizers.output import write_atomically

_WORD_COMMENTS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/comments"
_WORKBOOK = f"{{{NS_X}}}workbook"
_TABLE = f"{{{NS_X}}}table"


class OoxmlRebuild(Sanitizer):
    """CDR for Word, Excel and PowerPoint: keeps text, formatting, images, charts, links."""

    types: ClassVar[frozenset[str]] = frozenset({"docx", "docm", "xlsx", "xlsm", "pptx", "pptm"})
    method: ClassVar[str] = "rebuild"
    options: ClassVar[Mapping[str, OptionSpec]] = {
        "links": OptionSpec(
            "keep-web",
            "keep-web keeps http, https and mailto hyperlinks; remove drops every hyperlink",
            choices=("keep-web", "remove"),
        ),
        "metadata": OptionSpec(
            "remove",
            "remove drops document properties, revision and comment authors and ids; keep leaves them",
            choices=("remove", "keep"),
        ),
        "comments": OptionSpec(
            "keep",
            "keep leaves comments (their authors follow metadata); remove drops them with their marks",
            choices=("keep", "remove"),
        ),
        "embedded": OptionSpec(
            "remove",
            "embedded objects (OLE, packages, ActiveX) are always removed",
            choices=("remove",),
        ),
    }

    def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
        chosen = self.resolved_options(options)
        policy = Policy(
            keep_web_links=chosen["links"] == "keep-web",
            keep_metadata=chosen["metadata"] == "keep",
            keep_comments=chosen["comments"] == "keep",
        )
        tally = Tally()
        with open_package(untrusted_src, limits) as package:
            plan = plan_package(package, read_content_types(package), policy, tally)
            members = _rebuilt_members(package, plan, policy, tally, limits)
        rebuilt = package_bytes(members)
        verify_package(rebuilt, policy.keep_web_links, policy.keep_comments)
        write_atomically(dst, rebuilt)
        report = Report(plan.family.output_type)
        tally.report_into(report)
        return report


class XlsbRefusal(Sanitizer):
    """Binary workbooks are refused by name (``ooxml.xlsb``) rather than as unsupported."""

    types: ClassVar[frozenset[str]] = frozenset({"xlsb"})
    method: ClassVar[str] = "rebuild"

    def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
        raise PolicyError("ooxml.xlsb", "binary workbook records are not rebuilt; ask for .xlsx")


def _rebuilt_members(
    package: Package, plan: Plan, policy: Policy, tally: Tally, limits: Limits
) -> list[tuple[str, bytes, bool]]:
    """Every output member, in writing order: content types, package rels, parts."""
    data: dict[str, bytes] = {}
    legacy_drawings: dict[str, XmlDocument] = {}
    keys = _font_keys(package, plan)
    # leaves first: a picture that cannot be rebuilt, or a VML drawing in Office's not-quite-XML
    # dialect, leaves the plan before any part referring to it is cleaned, so that those
    # references are treated like the ones to any other dropped part
    for part in list(plan.parts.values()):
        if part.name not in plan.parts:  # left out with a part that led to it
            continue
        if part.leaf == "image":
            picture = rebuilt_picture(package.read(part.name), part.name, limits, tally)
            if picture is not None:
                data[part.name] = picture
                continue
        elif part.leaf == "font":
            data[part.name] = rebuilt_font(package.read(part.name), keys.get(part.name), part.name)
            continue
        elif part.content_type.lower() == VML_DRAWING_CONTENT_TYPE:
            drawing = _legacy_drawing(package, part.name)
            if drawing is not None:
                legacy_drawings[part.name] = drawing
                continue
            tally.add("ooxml.unparsable_vml", part.name, "dropped")
        else:
            continue
        for orphan in plan.drop(part.name):
            tally.add("ooxml.unreferenced_part", orphan, "dropped")
    comments_kept = plan.family is WORD and any(
        r.type == _WORD_COMMENTS for r in plan.parts[plan.main].relationships
    )
    for part in plan.parts.values():
        if part.leaf is None:
            document = legacy_drawings.get(part.name) or parse_xml(package.read(part.name), part.name)
            if document.converted_from_strict:
                tally.add("ooxml.strict", part.name, "converted")
            data[part.name] = _rebuilt_xml(document, part, policy, comments_kept, tally)
    members = [
        (CONTENT_TYPES_PART, content_types_xml({p.name: p.content_type for p in plan.parts.values()}), True),
        (relationships_part(""), relationships_xml("", plan.package_relationships), True),
    ]
    for part in plan.parts.values():
        members.append((part.name, data[part.name], part.leaf != "image"))
        if part.relationships:
            members.append(
                (relationships_part(part.name), relationships_xml(part.name, part.relationships), True)
            )
    return members


def _font_keys(package: Package, plan: Plan) -> dict[str, bytes]:
    """Font part → the key Word obfuscated it with, from the font tables that relate to fonts."""
    keys: dict[str, bytes] = {}
    for part in plan.parts.values():
        fonts = {
            r.id: r.target_part
            for r in part.relationships
            if r.target_part in plan.parts and plan.parts[r.target_part].leaf == "font"
        }
        if fonts:
            by_id = font_keys(parse_xml(package.read(part.name), part.name).root)
            keys.update({fonts[i]: key for i, key in by_id.items() if i in fonts})
    return keys


def _legacy_drawing(package: Package, name: str) -> XmlDocument | None:
    """VML as Office writes it is not always XML (``<![if gte mso 9]>``): such a drawing is
    dropped, not the whole document.  An XML attack still refuses the file."""
    try:
        return parse_xml(package.read(name), name)
    except MalformedError as exc:
        if exc.code != "ooxml.malformed":
            raise
        return None


def _rebuilt_xml(
    document: XmlDocument, part: PlannedPart, policy: Policy, comments_kept: bool, tally: Tally
) -> bytes:
    context = PartContext(
        name=part.name,
        content_type=part.content_type,
        kept_ids=frozenset(r.id for r in part.relationships),
        policy=policy,
        comments_kept=comments_kept,
        tally=tally,
    )
    if document.root.tag == _WORKBOOK:
        clean_workbook(document.root, context)
    elif document.root.tag == _TABLE:
        clean_table(document.root, context)
    clean_fields(document.root, context)
    clean_formulas(document.root, context)
    clean_markup(document, context)
    clean_comment_authors(document.root, context)
    clean_properties(document.root, context)
    return serialise_xml(document)
