"""OpenDocument rebuild: text, spreadsheets and presentations, as packages or flat XML.

A package (.odt, .ods, .odp and their templates) is read under the archive limits and
written anew from an allow-list: ``mimetype`` first and stored, the four XML parts
(content, styles, properties, settings) parsed without DTDs and entities, cleaned
(``markup.py``, ``meta.py``, ``settings.py``) and serialised from the tree, the pictures
they show rebuilt by the image sanitiser (``pictures.py``), the thumbnail only when
metadata stays, and a new manifest.  Every other member goes and is reported: Basic and
script libraries and dialogs, embedded objects, fonts and media, the user interface
configuration (which can bind keys and menus to macros), signatures, RDF metadata.  A flat
document (.fodt, .fods, .fodp) is one XML file holding all of that; it is cleaned by the
same rules, its inline pictures rebuilt in place.  The result is verified independently
before it is written.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from sanitizers.base import Limits, Options, OptionSpec, Report, Sanitizer
from sanitizers.detect import PDF_HEADER_WINDOW
from sanitizers.errors import MalformedError
from sanitizers.images.rebuild import picture_type
from sanitizers.links import CHOICES, KEEP_WEB
from sanitizers.odf.context import Choices, PartContext
from sanitizers.odf.manifest import manifest_xml, read_manifest
from sanitizers.odf.markup import clean_markup
from sanitizers.odf.meta import META_ELEMENT, clean_meta
from sanitizers.odf.pictures import Pictures
from sanitizers.odf.settings import SETTINGS_ELEMENT, reduce_settings
from sanitizers.odf.unreferenced import report_left_out
from sanitizers.odf.verify import verify_flat, verify_package
from sanitizers.odf.vocabulary import (
    CONTENT,
    FLAT_MIMETYPE,
    FLAT_ROOT,
    MANIFEST,
    MIMETYPE,
    THUMBNAIL,
    XML_PARTS,
    Kind,
    kind_of,
)
from sanitizers.odf.xmlparts import parse_part
from sanitizers.ooxml.findings import Tally
from sanitizers.ooxml.images import rebuilt_picture
from sanitizers.ooxml.package import Package, open_package
from sanitizers.ooxml.writer import package_bytes
from sanitizers.ooxml.xmltree import serialise_xml
from sanitizers.output import write_atomically

_ZIP_OR_OLE = (b"PK", b"\xd0\xcf\x11\xe0")
_PDF_HEADER = b"%PDF-"
_MAX_MIMETYPE = 100
#: Where findings in a flat document are located.
FLAT_DOCUMENT = "document"


class OdfRebuild(Sanitizer):
    """CDR for OpenDocument text, spreadsheets and presentations: keeps text, formatting,
    tables, pictures, comments and web links; removes macros, scripts, events, objects."""

    types: ClassVar[frozenset[str]] = frozenset({"odt", "ods", "odp", "fodt", "fods", "fodp"})
    method: ClassVar[str] = "rebuild"
    options: ClassVar[Mapping[str, OptionSpec]] = {
        "links": OptionSpec(
            KEEP_WEB,
            "keep-web keeps http, https and mailto hyperlinks; remove drops every hyperlink",
            choices=CHOICES,
        ),
        "metadata": OptionSpec(
            "remove",
            "remove drops document properties, the thumbnail, comment and change authors; keep leaves them",
            choices=("remove", "keep"),
        ),
        "comments": OptionSpec(
            "keep",
            "keep leaves comments (their authors follow metadata); remove drops them",
            choices=("keep", "remove"),
        ),
    }

    def sanitize(self, untrusted_src: Path, dst: Path, options: Options, limits: Limits) -> Report:
        chosen = self.resolved_options(options)
        choices = Choices(
            links=str(chosen["links"]),
            keep_metadata=chosen["metadata"] == "keep",
            keep_comments=chosen["comments"] == "keep",
        )
        tally = Tally()
        limits.checked_size(untrusted_src)
        with untrusted_src.open("rb") as f:
            packaged = f.read(4).startswith(_ZIP_OR_OLE)
        if packaged:
            rebuilt, output_type = _rebuilt_package(untrusted_src, choices, limits, tally)
            verify_package(rebuilt, choices.links, choices.keep_comments, choices.keep_metadata)
        else:
            rebuilt, output_type = _rebuilt_flat(untrusted_src, choices, limits, tally)
            verify_flat(rebuilt, choices.links, choices.keep_comments, choices.keep_metadata)
        write_atomically(dst, rebuilt)
        report = Report(output_type)
        tally.report_into(report)
        return report


def clean_tree(root: ET.Element, context: PartContext) -> None:
    """Properties, settings and markup, wherever they are in this tree."""
    for meta in list(root.iter(META_ELEMENT)):
        clean_meta(meta, context)
    for settings in list(root.iter(SETTINGS_ELEMENT)):
        reduce_settings(settings, context)
    clean_markup(root, context)


def _rebuilt_package(
    untrusted_src: Path, choices: Choices, limits: Limits, tally: Tally
) -> tuple[bytes, str]:
    with open_package(untrusted_src, limits, malformed="odf.malformed") as package:
        media_type, kind = _declared_kind(package)
        if package.lookup(MANIFEST) != MANIFEST:
            raise MalformedError("odf.malformed", f"the package has no {MANIFEST}")
        manifest = read_manifest(package.read(MANIFEST))
        pictures = Pictures(package, limits, tally)
        parts: dict[str, bytes] = {}
        for name, root_tag in XML_PARTS.items():
            if package.lookup(name) != name:
                if name == CONTENT:
                    raise MalformedError("odf.malformed", f"the package has no {CONTENT}")
                continue
            document = parse_part(package.read(name), name)
            if document.root.tag != root_tag:
                raise MalformedError("odf.malformed", f"{name} is not what its name says")
            clean_tree(document.root, PartContext(name, choices, tally, pictures))
            parts[name] = serialise_xml(document)
        thumbnail = _thumbnail(package, choices, limits, tally)
        report_left_out(
            package.names, {*parts, *pictures.members_read, *([THUMBNAIL] if thumbnail else [])}, tally
        )
    members = [(MIMETYPE, media_type.encode("ascii"), False)]
    members += [(name, data, True) for name, data in parts.items()]
    members += [(name, data, False) for name, (data, _) in pictures.written.items()]
    listed = [(name, "text/xml") for name in parts]
    listed += [(name, picture_media_type) for name, (_, picture_media_type) in pictures.written.items()]
    if thumbnail is not None:
        members.append((THUMBNAIL, thumbnail, False))
        listed.append((THUMBNAIL, "image/png"))
    members.append((MANIFEST, manifest_xml(media_type, manifest.version, listed), True))
    return package_bytes(members), kind.package_type


def _declared_kind(package: Package) -> tuple[str, Kind]:
    """The media type the ``mimetype`` member declares, when it is a kind rebuilt here."""
    if package.lookup(MIMETYPE) != MIMETYPE:
        raise MalformedError("odf.malformed", "the package has no mimetype member")
    untrusted_declared = package.read(MIMETYPE)
    kind = (
        kind_of(untrusted_declared.decode("ascii", "replace"))
        if len(untrusted_declared) < _MAX_MIMETYPE
        else None
    )
    if kind is None:
        raise MalformedError(
            "odf.malformed",
            f"the package is {untrusted_declared[:60]!r}, not a text, spreadsheet or presentation",
        )
    return untrusted_declared.decode("ascii"), kind


def _thumbnail(package: Package, choices: Choices, limits: Limits, tally: Tally) -> bytes | None:
    """The first page's picture, rebuilt, when metadata stays (it shows the document as the
    sender saw it, before anything was removed, so it goes with the other properties)."""
    if not choices.keep_metadata or package.lookup(THUMBNAIL) != THUMBNAIL:
        return None
    picture = rebuilt_picture(package.read(THUMBNAIL), THUMBNAIL, limits, tally, family="odf")
    if picture is None or picture_type(picture) != "png":
        tally.add("odf.thumbnail", THUMBNAIL, "dropped")
        return None
    return picture


def _rebuilt_flat(untrusted_src: Path, choices: Choices, limits: Limits, tally: Tally) -> tuple[bytes, str]:
    document = parse_part(limits.read_file(untrusted_src), FLAT_DOCUMENT)
    root = document.root
    kind = kind_of(root.get(FLAT_MIMETYPE, "")) if root.tag == FLAT_ROOT else None
    if kind is None:
        raise MalformedError("odf.malformed", "not a flat OpenDocument text, spreadsheet or presentation")
    clean_tree(root, PartContext(FLAT_DOCUMENT, choices, tally, Pictures(None, limits, tally)))
    rebuilt = serialise_xml(document)
    if _PDF_HEADER in rebuilt[:PDF_HEADER_WINDOW]:
        # PDF readers look for their header anywhere in the first KiB: the namespaces and
        # properties written there come from the input, and must not make a polyglot
        raise MalformedError("odf.malformed", "the document's first KiB would read as a PDF header")
    return rebuilt, kind.flat_type
