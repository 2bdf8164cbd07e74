"""Independent verification of a sanitised PDF.

The output is parsed afresh by qpdf and every indirect object is scanned, every
dictionary key of every nested value, without trusting the walk that produced it:
forbidden keys, forbidden action and annotation types, URI schemes, encryption and,
for image-only output, anything but pages, images, resource-less forms and Type 3
fonts whose glyphs are nothing but image masks, mapped to no letters.  Streams
that readers parse as PDF syntax (``streams.py``) are decoded within the stream limit
and searched byte-wise for forbidden names, hex-escaped or not; a stream whose filters
cannot be decoded is searched raw.  Binary payloads (images, inline images, colour
profiles, font programs) must be as the rebuild writes them (``payloads.py``).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeGuard

import pikepdf

from sanitizers.base import Limits
from sanitizers.errors import MalformedError, SanitizeError, VerifyError
from sanitizers.pdf.actions import is_web_uri
from sanitizers.pdf.inline import content_instructions, names_inline_images
from sanitizers.pdf.limits import check_decoded_size, decode_within_limit
from sanitizers.pdf.payloads import PayloadChecks
from sanitizers.pdf.resources import IndirectNameMaps, Role, child_role
from sanitizers.pdf.screen import name_screen, serialised
from sanitizers.pdf.streams import FORBIDDEN_NAME_PATTERN, is_image, is_syntax
from sanitizers.pdf.type3 import REPLACEMENT_CMAP
from sanitizers.pdf.values import entries_of, int_of, may_hold_containers, name_of, printable
from sanitizers.pdf.vocabulary import (
    ACTION_KEYS,
    ACTION_LEADING_KEYS,
    ALLOWED_ACTIONS,
    ALLOWED_ANNOTATIONS,
    ALLOWED_CATALOG_KEYS,
    ALLOWED_NAME_TREES,
    ALLOWED_NAMED_ACTIONS,
    AUTHOR_KEYS,
    AUTHORED_ANNOTATIONS,
    COMMENT_ANNOTATIONS,
    COMMENT_KEYS,
    EXTERNAL_STREAM_KEYS,
    KNOWN_ACTIONS,
    REMOVED_KEYS,
)

MAX_REPORTED = 5
Entries = Mapping[str, object]
#: Keys that need more than a look at the dictionary's types.
SCANNED_KEYS = frozenset(REMOVED_KEYS.keys() | EXTERNAL_STREAM_KEYS | ACTION_KEYS | {"/Metadata", "/Next"})
IMAGE_ONLY_CATALOG_KEYS = frozenset({"/Type", "/Pages"})
IMAGE_ONLY_PAGE_KEYS = frozenset({"/Type", "/Parent", "/MediaBox", "/Resources", "/Contents"})
IMAGE_ONLY_RESOURCES = frozenset({"/XObject", "/Font"})
#: What image-only pages may do: paint colours, rectangles, images, forms and glyphs.
IMAGE_ONLY_PAGE_OPERATORS = frozenset(
    {"q", "Q", "cm", "rg", "g", "k", "re", "f", "W", "n", "Do", "BT", "ET", "Tf", "Td", "Tm", "TJ", "Tj"}
)
GLYPH_FONT_KEYS = frozenset(
    {
        "/Type",
        "/Subtype",
        "/FontBBox",
        "/FontMatrix",
        "/CharProcs",
        "/Encoding",
        "/FirstChar",
        "/LastChar",
        "/Widths",
        "/ToUnicode",
    }
)
GLYPH_ENCODING_KEYS = frozenset({"/Type", "/Differences"})
GLYPH_STREAM_KEYS = frozenset({"/Length", "/Filter", "/DecodeParms"})
#: A glyph sets its width and draws inline image masks (which take the text's colour).
GLYPH_OPERATORS = frozenset({"d0", "d1", "q", "Q", "cm", "INLINE IMAGE"})
INLINE_MASK_KEYS = frozenset(
    {"/Width", "/Height", "/ImageMask", "/BitsPerComponent", "/Decode", "/Filter", "/DecodeParms", "/Length"}
)
INLINE_MASK_FILTERS = frozenset(
    {
        "/ASCIIHexDecode",
        "/ASCII85Decode",
        "/FlateDecode",
        "/LZWDecode",
        "/RunLengthDecode",
        "/CCITTFaxDecode",
    }
)
#: Every name that can make ``_scan_dictionary`` flag something; an object whose
#: serialisation has none of them holds nothing to flag (streams still get their checks).
NEEDS_A_LOOK = name_screen(SCANNED_KEYS | KNOWN_ACTIONS | {"/Action", "/Annot", "/Rect", "/EmbeddedFile"})


@dataclass(frozen=True)
class Promise:
    """What a method promises about its output."""

    web_links: bool
    metadata: bool
    image_only: bool
    #: Content streams come from the input unchanged: a forbidden name in them is the
    #: input's (``pdf.active_content``), not a fault of the method.
    copied_content: bool = False
    #: Comment annotations may stay (``comments = "keep"``).
    comments: bool = True


def verify_pdf(output: Path | bytes, promise: Promise, limits: Limits, rerun_encoders: bool = True) -> None:
    """Raise VerifyError if the PDF (a file, or its bytes) holds anything ``promise`` excludes.

    ``rerun_encoders=False`` leaves out the costly half of the payload checks (fonts through
    OTS again, G4 images through libtiff again, colour profiles through LittleCMS again): for a sanitiser's read-back of what it has
    just written, which the gateway's verifier, in a worker of its own, then checks in full.

    Raises MalformedError when the output does not re-open without qpdf warnings, and
    SanitizeError ``pdf.active_content`` when content copied from the input names an
    active construct.
    """
    try:
        with pikepdf.open(output if isinstance(output, Path) else io.BytesIO(output)) as pdf:
            scanner = _Scanner(pdf, promise, limits, rerun_encoders)
            scanner.scan()
            warnings = pdf.get_warnings()
    except pikepdf.PikepdfError as exc:
        raise MalformedError("pdf.malformed", f"the output does not re-open: {exc}") from None
    except UnicodeError as exc:  # text that pikepdf decodes for us, strictly
        raise MalformedError(
            "pdf.malformed", f"undecodable text in the output: {type(exc).__name__}"
        ) from None
    if warnings:
        raise MalformedError("pdf.malformed", f"the output re-opens with warnings: {warnings[0]}")
    violations = scanner.violations
    if scanner.named_in_content and not violations and promise.copied_content:
        raise SanitizeError("pdf.active_content", scanner.named_in_content[0])
    violations += scanner.named_in_content
    if violations:
        shown = "; ".join(violations[:MAX_REPORTED])
        raise VerifyError("pdf.verify_failed", f"{len(violations)} forbidden construct(s): {shown}")


class _Scanner:
    def __init__(self, pdf: pikepdf.Pdf, promise: Promise, limits: Limits, rerun_encoders: bool) -> None:
        self.pdf = pdf
        self.promise = promise
        self.limits = limits
        self.violations: list[str] = []
        self.named_in_content: list[str] = []
        self.name_maps = IndirectNameMaps(pdf)
        self.payloads = PayloadChecks(pdf, limits, rerun_encoders)
        self.contents: dict[tuple[int, int], list[pikepdf.ContentStreamInstructions] | None] = {}

    def scan(self) -> None:
        trailer = self.pdf.trailer
        if self.pdf.is_encrypted or "/Encrypt" in trailer:
            self.violations.append("the output is encrypted")
        if "/Info" in trailer and not self.promise.metadata:
            self.violations.append("document information dictionary")
        self._check_catalog(self.pdf.Root)
        self._scan_value(trailer, "trailer")
        for obj in self.pdf.objects:
            if isinstance(obj, pikepdf.Object):  # indirect numbers and booleans come back as Python values
                self._scan_object(obj)
        if self.promise.image_only:
            self._check_image_only()
        self.violations += self.payloads.finish()

    def _scan_object(self, obj: pikepdf.Object) -> None:
        """One indirect object: a full scan only when qpdf's serialisation of it names
        something to look at; a stream's data is checked either way."""
        text = serialised(obj)
        self.payloads.note_references(text, f"object {obj.objgen[0]}")
        if NEEDS_A_LOOK.search(text) is not None:
            self._scan_value(obj, f"object {obj.objgen[0]}")
        elif isinstance(obj, pikepdf.Stream):
            self._check_stream(obj, entries_of(obj), f"object {obj.objgen[0]}")

    def _flag(self, where: str, what: str) -> None:
        self.violations.append(f"{what} in {where}")

    def _check_catalog(self, root: pikepdf.Object) -> None:
        allowed = IMAGE_ONLY_CATALOG_KEYS if self.promise.image_only else ALLOWED_CATALOG_KEYS
        for key in entries_of(root):
            if key not in allowed:
                self._flag("the catalog", printable(key))
        names = root.get("/Names")
        if isinstance(names, pikepdf.Dictionary):
            for key in entries_of(names):
                if key not in ALLOWED_NAME_TREES:
                    self._flag("the name dictionary", printable(key))
        open_action = root.get("/OpenAction")
        if isinstance(open_action, pikepdf.Dictionary) and name_of(open_action.get("/S")) != "/GoTo":
            self._flag("the catalog", "an /OpenAction that is not GoTo")

    def _scan_value(self, value: pikepdf.Object, where: str) -> None:
        """Scan one indirect object and everything directly nested in it."""
        pending = [(value, Role.PLAIN)]
        while pending:
            item, role = pending.pop()
            if isinstance(item, pikepdf.Array):
                if may_hold_containers(item):
                    pending.extend((child, Role.PLAIN) for child in item if _is_direct_container(child))
            elif isinstance(item, pikepdf.Dictionary | pikepdf.Stream):
                entries = entries_of(item)
                self._scan_dictionary(item, entries, where, role)
                pending.extend(
                    (child, child_role(role, entries, key))
                    for key, child in entries.items()
                    if _is_direct_container(child)
                )

    def _scan_dictionary(self, obj: pikepdf.Object, entries: Entries, where: str, role: Role) -> None:
        is_stream = isinstance(obj, pikepdf.Stream)
        is_action = _is_action(entries)
        scanned = entries.keys() & SCANNED_KEYS
        if not is_action:
            scanned.discard("/Next")  # outline items and presentation steps chain by /Next too
        if scanned & ACTION_LEADING_KEYS and (
            role is Role.NAME_MAP or (obj.is_indirect and obj.objgen in self.name_maps)
        ):
            scanned -= ACTION_LEADING_KEYS  # names the author gave resources
        for key in scanned:
            if key in REMOVED_KEYS:
                self._flag(where, key)  # one of ours: printable
            elif key == "/Metadata" and not self.promise.metadata:
                self._flag(where, "/Metadata")
            elif is_stream and key in EXTERNAL_STREAM_KEYS:
                self._flag(where, f"external stream data {key}")
            elif key in ACTION_KEYS or key == "/Next":
                self._check_action_slot(key, entries[key], where)
        self._check_types(entries, where, is_action)
        if is_stream:
            self._check_stream(obj, entries, where)

    def _check_action_slot(self, key: str, value: object, where: str) -> None:
        if key == "/OpenAction" and isinstance(value, pikepdf.Array):
            return  # an explicit destination
        for action in value if isinstance(value, pikepdf.Array) else [value]:
            if isinstance(action, pikepdf.Dictionary):
                self._check_action(entries_of(action), where)

    def _check_types(self, entries: Entries, where: str, is_action: bool) -> None:
        kind = name_of(entries.get("/Type"))
        subtype = name_of(entries.get("/Subtype"))
        if kind == "/EmbeddedFile":
            self._flag(where, "an embedded file")
        is_annotation = kind == "/Annot" or ("/Rect" in entries and subtype is not None)
        if is_annotation and subtype not in ALLOWED_ANNOTATIONS:
            self._flag(where, f"a {printable(subtype or '?')} annotation")
        if is_annotation and subtype in AUTHORED_ANNOTATIONS:
            self._check_authored(entries, subtype, where)
        if is_action:
            self._check_action(entries, where)

    def _check_authored(self, entries: Entries, subtype: str, where: str) -> None:
        """A markup annotation holds no comment and no author where the options removed them."""
        if not self.promise.comments:
            if subtype in COMMENT_ANNOTATIONS:
                self._flag(where, f"a {printable(subtype)} comment")
            elif not entries.keys().isdisjoint(COMMENT_KEYS):
                self._flag(where, f"comment text on a {printable(subtype)} annotation")
        if not self.promise.metadata and not entries.keys().isdisjoint(AUTHOR_KEYS):
            self._flag(where, f"the author or dates of a {printable(subtype)} annotation")

    def _check_action(self, action: Entries, where: str) -> None:
        kind = name_of(action.get("/S"))
        if kind not in ALLOWED_ACTIONS:
            self._flag(where, f"a {printable(kind or '?')} action")
        elif kind == "/URI" and not (self.promise.web_links and is_web_uri(action.get("/URI"))):
            self._flag(where, "a URI action with a disallowed target")
        elif kind == "/Named" and name_of(action.get("/N")) not in ALLOWED_NAMED_ACTIONS:
            self._flag(where, "a viewer-command Named action")

    def _check_stream(self, stream: pikepdf.Object, entries: Entries, where: str) -> None:
        if is_image(entries):
            self._check_image(entries, where)
            self.payloads.image(stream, entries, where)
        elif not is_syntax(entries):
            check_decoded_size(stream, self.limits.max_stream_size)
        else:
            data = decode_within_limit(stream, self.limits.max_stream_size)
            content = stream.read_raw_bytes() if data is None else data
            if names_inline_images(content):
                self._check_inline_images(stream, where)
            match = FORBIDDEN_NAME_PATTERN.search(content)
            if match is not None:
                name = printable(match.group().decode("latin-1"))
                where = self._page_drawn_by(stream.objgen) or where
                self.named_in_content.append(f"the name {name} in stream data at {where}")

    def _check_inline_images(self, stream: pikepdf.Object, where: str) -> None:
        instructions = self._content(stream)
        if instructions is None:
            self._flag(where, "content naming an inline image that does not parse")
        else:
            self.payloads.inline_images(instructions, where)

    def _content(self, stream: pikepdf.Object) -> list[pikepdf.ContentStreamInstructions] | None:
        """A content stream's instructions, parsed once for every check that reads them."""
        if stream.objgen not in self.contents:
            self.contents[stream.objgen] = content_instructions(stream)
        return self.contents[stream.objgen]

    def _page_drawn_by(self, objgen: tuple[int, int]) -> str | None:
        """The page ("page N") whose content the stream is, for staff to find it."""
        for number, page in enumerate(self.pdf.pages, start=1):
            contents = page.obj.get("/Contents")
            parts = contents if isinstance(contents, pikepdf.Array) else [contents]
            if any(isinstance(part, pikepdf.Stream) and part.objgen == objgen for part in parts):
                return f"page {number}"
        return None

    def _check_image(self, image: Entries, where: str) -> None:
        width, height = int_of(image.get("/Width")), int_of(image.get("/Height"))
        if width is None or height is None or width * height > self.limits.max_pixels:
            self._flag(where, "an image beyond max_pixels")

    def _check_image_only(self) -> None:
        checked: set[tuple[int, int]] = set()  # pages share their resources: check each font once
        for number, page in enumerate(self.pdf.pages, start=1):
            where = f"page {number}"
            for key in entries_of(page.obj):
                if key not in IMAGE_ONLY_PAGE_KEYS:
                    self._flag(where, printable(key))
            self._check_page_operators(page, where)
            resources = page.obj.get("/Resources")
            if not isinstance(resources, pikepdf.Dictionary):
                continue
            for key in entries_of(resources):
                if key not in IMAGE_ONLY_RESOURCES:
                    self._flag(where, f"resource {printable(key)}")
            xobjects = resources.get("/XObject")
            if isinstance(xobjects, pikepdf.Dictionary):
                for xobject in entries_of(xobjects).values():
                    self._check_image_only_xobject(xobject, where)
            fonts = resources.get("/Font")
            if isinstance(fonts, pikepdf.Dictionary):
                for font in entries_of(fonts).values():
                    if not isinstance(font, pikepdf.Object) or font.objgen not in checked:
                        self._check_glyph_font(font, where)
                        if isinstance(font, pikepdf.Object) and font.is_indirect:
                            checked.add(font.objgen)
            elif "/Font" in resources:
                self._flag(where, "a /Font resource that is not a dictionary")

    def _check_page_operators(self, page: pikepdf.Page, where: str) -> None:
        instructions = _parsed(page)
        if instructions is None:
            self._flag(where, "content that does not parse")
            return
        used = {_operator(instruction) for instruction in instructions}
        for operator in sorted(used - IMAGE_ONLY_PAGE_OPERATORS):
            self._flag(where, f"the operator {printable(operator)}")

    def _check_image_only_xobject(self, xobject: object, where: str) -> None:
        """Images, or forms without resources: they can draw inline images, and text only
        in the glyph fonts of the page, which are checked as the page's own."""
        if not isinstance(xobject, pikepdf.Stream):
            self._flag(where, "an XObject that is not a stream")
            return
        subtype = name_of(xobject.get("/Subtype"))
        if subtype == "/Form" and "/Resources" not in xobject:
            return
        if subtype != "/Image":
            self._flag(where, f"a {printable(subtype or '?')} XObject")

    def _check_glyph_font(self, font: object, where: str) -> None:
        """A Type 3 font whose glyphs only draw image masks and whose codes map to
        U+FFFD: it shows pixels and gives text extraction no letters."""
        if not isinstance(font, pikepdf.Dictionary):
            self._flag(where, "a font that is not a dictionary")
            return
        entries = entries_of(font)
        subtype = name_of(entries.get("/Subtype"))
        if subtype != "/Type3":
            self._flag(where, f"resource /Font holding a {printable(subtype or '?')} font")
            return
        for key in entries.keys() - GLYPH_FONT_KEYS:
            self._flag(where, f"{printable(key)} in a Type 3 font")
        to_unicode = entries.get("/ToUnicode")
        if not isinstance(to_unicode, pikepdf.Stream) or (
            decode_within_limit(to_unicode, self.limits.max_stream_size) != REPLACEMENT_CMAP
        ):
            self._flag(where, "a Type 3 font without the replacement-character ToUnicode")
        encoding = entries.get("/Encoding")
        differences = encoding.get("/Differences") if isinstance(encoding, pikepdf.Dictionary) else None
        if (
            not isinstance(encoding, pikepdf.Dictionary)
            or entries_of(encoding).keys() - GLYPH_ENCODING_KEYS
            or not isinstance(differences, pikepdf.Array)
            or not all(int_of(item) is not None or name_of(item) is not None for item in differences)
        ):
            self._flag(where, "a Type 3 font encoding other than a list of differences")
        procedures = entries.get("/CharProcs")
        if not isinstance(procedures, pikepdf.Dictionary):
            self._flag(where, "a Type 3 font without glyph procedures")
            return
        for procedure in entries_of(procedures).values():
            self._check_glyph(procedure, where)

    def _check_glyph(self, procedure: object, where: str) -> None:
        if not isinstance(procedure, pikepdf.Stream) or entries_of(procedure).keys() - GLYPH_STREAM_KEYS:
            self._flag(where, "a Type 3 glyph that is not a plain stream")
            return
        decoded = decode_within_limit(procedure, self.limits.max_stream_size) is not None
        instructions = self._content(procedure) if decoded else None
        if instructions is None:
            self._flag(where, "a Type 3 glyph that does not parse")
            return
        for instruction in instructions:
            operator = _operator(instruction)
            if operator not in GLYPH_OPERATORS:
                self._flag(where, f"the operator {printable(operator)} in a Type 3 glyph")
            elif isinstance(instruction, pikepdf.ContentStreamInlineImage):
                self._check_inline_mask(entries_of(instruction.iimage.obj), where)

    def _check_inline_mask(self, image: Entries, where: str) -> None:
        filters = image.get("/Filter")
        names = filters if isinstance(filters, pikepdf.Array) else [] if filters is None else [filters]
        if (
            image.keys() - INLINE_MASK_KEYS
            or image.get("/ImageMask") is not True
            or not all(name_of(name) in INLINE_MASK_FILTERS for name in names)
        ):
            self._flag(where, "a Type 3 glyph image that is not a plain image mask")
        self._check_image(image, where)


def _parsed(content: pikepdf.Object | pikepdf.Page) -> list[pikepdf.ContentStreamInstructions] | None:
    """The instructions of a content stream, or None when qpdf cannot parse all of it
    (it warns and returns what it read so far): what follows the fault goes unchecked."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            instructions = pikepdf.parse_content_stream(content)
        except pikepdf.PdfError:
            return None
    return None if caught else instructions


def _operator(instruction: pikepdf.ContentStreamInstructions | pikepdf.ContentStreamInlineImage) -> str:
    """The operator's bytes, one character each: a fuzzed operator need not be UTF-8."""
    return bytes(instruction.operator.unparse()).decode("latin-1")


def _is_action(entries: Entries) -> bool:
    """An action by its kind, wherever it hangs and whatever else it carries."""
    return name_of(entries.get("/S")) in KNOWN_ACTIONS or name_of(entries.get("/Type")) == "/Action"


def _is_direct_container(value: object) -> TypeGuard[pikepdf.Object]:
    return isinstance(value, pikepdf.Dictionary | pikepdf.Array) and not value.is_indirect
