"""Removing active and hidden constructs from an open PDF, in place, with findings.

The catalog, the trailer, the name trees, annotations and actions are filtered through
allow-lists; every other reachable dictionary loses the keys that carry active content.
Comments (notes, pop-ups, text boxes, marks on text) go with ``comments = "remove"``, and
the author and dates of every markup annotation with ``metadata = "remove"``.
Objects that nothing reachable refers to any more are not written by qpdf, so removing
the reference removes the object.  The walk is iterative and remembers every indirect
object it has seen, so cycles (outlines, /Next chains, page trees) end it early.
Content streams are copied verbatim; the names in them are searched once, decoded, by
the verification of the output (``verify.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TypeGuard

import pikepdf

from sanitizers.base import Limits, Report
from sanitizers.errors import LimitError, MalformedError
from sanitizers.pdf.actions import action_construct
from sanitizers.pdf.fonts import FONT_FILE_KEYS
from sanitizers.pdf.resources import IndirectNameMaps, Role, child_role
from sanitizers.pdf.screen import name_screen, referenced, references, serialised
from sanitizers.pdf.values import entries_of, int_of, may_hold_containers, name_of, printable, text_of
from sanitizers.pdf.vocabulary import (
    ACTION_KEYS,
    ACTION_LEADING_KEYS,
    ALLOWED_ANNOTATIONS,
    ALLOWED_CATALOG_KEYS,
    ALLOWED_INFO_KEYS,
    ALLOWED_NAME_TREES,
    ALLOWED_TRAILER_KEYS,
    AUTHOR_KEYS,
    AUTHORED_ANNOTATIONS,
    COMMENT_ANNOTATIONS,
    COMMENT_KEYS,
    EXTERNAL_STREAM_KEYS,
    KNOWN_ACTIONS,
    REMOVED_ANNOTATIONS,
    REMOVED_KEYS,
)

#: Deepest nesting of direct arrays and dictionaries accepted inside one object.
MAX_NESTING = 256
#: Most nodes examined when counting the entries of a removed name tree or action chain.
MAX_COUNTED_NODES = 10_000
#: Trailer keys that describe the old cross-reference structure; qpdf drops them itself.
XREF_TRAILER_KEYS = frozenset(
    {"/Prev", "/XRefStm", "/Type", "/W", "/Index", "/Filter", "/DecodeParms", "/Length"}
)
#: Entries whose value is a name tree: their removal is counted per leaf.
NAME_TREE_KEYS = frozenset({"/JavaScript", "/EmbeddedFiles", "/IDS", "/URLS", "/Templates", "/Renditions"})

#: Keys that make a dictionary with /T a form field rather than a markup annotation's author.
FIELD_KEYS = frozenset({"/FT", "/Kids", "/Parent"})
#: Keys that need more than a look: removed, filtered, or holding actions.
WATCHED_KEYS = frozenset(
    REMOVED_KEYS.keys() | EXTERNAL_STREAM_KEYS | ACTION_KEYS | {"/Metadata", "/Next", "/Annots"}
)
#: Every name that makes ``_clean_dictionary`` or ``_locate`` act: an object whose
#: serialisation has none of them is only passed through to what it refers to.
NEEDS_A_LOOK = name_screen(
    WATCHED_KEYS
    | KNOWN_ACTIONS
    | {"/Annot", "/Rect", "/Action", "/EmbeddedFile", "/Image", "/T"}
    | set(FONT_FILE_KEYS)
    | {"/ICCBased", "/DestOutputProfile"}
)

Entries = Mapping[str, object]
Pending = list[tuple[pikepdf.Object, str, int, Role]]


@dataclass(frozen=True)
class CleanPolicy:
    keep_web_links: bool
    keep_metadata: bool
    keep_comments: bool


class Tally:
    """Removals counted per (construct, location), in the order first seen."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], int] = {}

    def add(self, construct: str, location: str, count: int = 1) -> None:
        key = (construct, location)
        self._counts[key] = self._counts.get(key, 0) + count

    def report_into(self, report: Report) -> None:
        for (construct, location), count in self._counts.items():
            report.add(construct, "removed", count, location)


@dataclass
class Payloads:
    """Reachable objects holding binary programs and data that the rebuild must rewrite
    through a parser (``fonts.py``, ``images.py``, ``icc.py``) rather than copy."""

    font_descriptors: list[pikepdf.Object] = field(default_factory=list)
    images: list[pikepdf.Stream] = field(default_factory=list)
    icc_profiles: list[pikepdf.Stream] = field(default_factory=list)


def clean_document(pdf: pikepdf.Pdf, policy: CleanPolicy, limits: Limits) -> tuple[Tally, Payloads]:
    """Strip everything the rebuild method promises to remove; return what was removed
    and the payloads left to rewrite."""
    cleaner = _Cleaner(pdf, policy, limits)
    cleaner.run()
    return cleaner.tally, cleaner.payloads


def _is_container(value: object) -> TypeGuard[pikepdf.Object]:
    # The cheap test first: most values are numbers, which pikepdf returns as ints.
    return isinstance(value, pikepdf.Object) and isinstance(
        value, pikepdf.Dictionary | pikepdf.Array | pikepdf.Stream
    )


class _Cleaner:
    def __init__(self, pdf: pikepdf.Pdf, policy: CleanPolicy, limits: Limits) -> None:
        self.pdf = pdf
        self.policy = policy
        self.limits = limits
        self.tally = Tally()
        self.visited: set[tuple[int, int]] = set()
        self.page_ids = {page.obj.objgen for page in pdf.pages}
        self.name_maps = IndirectNameMaps(pdf)
        self.payloads = Payloads()

    def run(self) -> None:
        self._clean_trailer()
        root = self.pdf.trailer.get("/Root")
        if not isinstance(root, pikepdf.Dictionary):
            raise MalformedError("pdf.malformed", "the document has no catalog")
        self._clean_catalog(root)
        # Walk from the most telling places first: an object is reported at the first
        # location that reaches it, so page annotations say "page 3", not "document".
        for number, page in enumerate(self.pdf.pages, start=1):
            self._walk(page.obj, f"page {number}")
        for key, label in (("/Outlines", "outline"), ("/AcroForm", "form"), ("/Names", "document names")):
            value = root.get(key)
            if _is_container(value):
                self._walk(value, label)
        self._walk(root, "document")

    # -- document level ---------------------------------------------------------------

    def _clean_trailer(self) -> None:
        trailer = self.pdf.trailer
        for key, value in entries_of(trailer).items():
            if key in ALLOWED_TRAILER_KEYS or key in XREF_TRAILER_KEYS:
                continue
            if key == "/Info" and self.policy.keep_metadata and isinstance(value, pikepdf.Dictionary):
                self._clean_info(value)
                continue
            self.tally.add("pdf.metadata" if key == "/Info" else "pdf.other", f"trailer {printable(key)}")
            del trailer[key]
        if "/Size" not in trailer:
            # qpdf writes an unreadable trailer when a repaired input had no /Size; given
            # any value, it writes the right one.
            trailer["/Size"] = 0

    def _clean_info(self, info: pikepdf.Object) -> None:
        for key, value in entries_of(info).items():
            if key not in ALLOWED_INFO_KEYS or not isinstance(value, pikepdf.String):
                self.tally.add("pdf.metadata", "document info")
                del info[key]

    def _clean_catalog(self, root: pikepdf.Object) -> None:
        for key, value in entries_of(root).items():
            if key not in ALLOWED_CATALOG_KEYS:
                construct = REMOVED_KEYS.get(key, "pdf.uri" if key == "/URI" else "pdf.other")
                self.tally.add(construct, f"document {printable(key)}", _entry_count(key, value))
                del root[key]
        names = root.get("/Names")
        if isinstance(names, pikepdf.Dictionary):
            for key, value in entries_of(names).items():
                if key not in ALLOWED_NAME_TREES:
                    construct = REMOVED_KEYS.get(key, "pdf.other")
                    self.tally.add(construct, f"document names {printable(key)}", _entry_count(key, value))
                    del names[key]

    # -- the walk ---------------------------------------------------------------------

    def _walk(self, start: pikepdf.Object, base: str) -> None:
        start_id = start.objgen
        stack: Pending = [(start, base, 0, Role.PLAIN)]
        while stack:
            obj, location, depth, role = stack.pop()
            if obj.is_indirect:
                objgen = obj.objgen
                if objgen in self.visited or (objgen in self.page_ids and objgen != start_id):
                    continue  # other pages are walked from their own start, to say "page N"
                self.visited.add(objgen)
                depth = 0
                text = serialised(obj)
                if not _needs_a_look(text) and self._pushed_references(stack, text, location):
                    continue
            elif depth > MAX_NESTING:
                raise LimitError("pdf.limit", f"objects nested deeper than {MAX_NESTING} at {location}")
            if isinstance(obj, pikepdf.Array):
                if len(obj) == 2 and isinstance(obj[1], pikepdf.Stream) and name_of(obj[0]) == "/ICCBased":
                    self.payloads.icc_profiles.append(obj[1])
                if may_hold_containers(obj):
                    stack.extend(
                        (item, location, depth + 1, Role.PLAIN) for item in obj if _is_container(item)
                    )
                continue
            entries = entries_of(obj)
            location = self._locate(entries, base, location)
            cleaned = self._clean_dictionary(obj, entries, location, role)
            if cleaned is not None:
                stack.extend(
                    (value, location, depth + 1, child_role(role, cleaned, key))
                    for key, value in cleaned.items()
                    if _is_container(value)
                )

    def _pushed_references(self, stack: Pending, text: bytes, location: str) -> bool:
        """Push what the object refers to; False, pushing nothing, when it refers to a name
        (/Subtype 5 0 R holding /Image): its serialisation does not show the name, so the
        object needs a full look."""
        targets: Pending = []
        for objgen in references(text):
            if objgen not in self.visited and objgen not in self.page_ids:
                target = referenced(self.pdf, objgen)
                if isinstance(target, pikepdf.Name):
                    return False
                if isinstance(target, pikepdf.Dictionary | pikepdf.Array | pikepdf.Stream):
                    targets.append((target, location, 0, Role.PLAIN))
        stack.extend(targets)
        return True

    def _locate(self, entries: Entries, base: str, inherited: str) -> str:
        """Name annotations and form fields in findings: "page 2, field 'email'"."""
        field_name = entries.get("/T")
        authored = name_of(entries.get("/Subtype")) in AUTHORED_ANNOTATIONS  # a pop-up has a /Parent too
        if isinstance(field_name, pikepdf.String) and not FIELD_KEYS.isdisjoint(entries) and not authored:
            return f"{base}, field '{printable(text_of(field_name))}'"
        if _looks_like_annotation(entries):
            return f"{base}, annotation {printable(name_of(entries.get('/Subtype')) or '?')}"
        return inherited

    def _clean_dictionary(
        self, obj: pikepdf.Object, entries: Entries, location: str, role: Role
    ) -> Entries | None:
        """Clean one dictionary or stream in place; its entries now, or None if emptied."""
        subtype = name_of(entries.get("/Subtype"))
        if _looks_like_annotation(entries) and subtype not in ALLOWED_ANNOTATIONS:
            self.tally.add(REMOVED_ANNOTATIONS.get(subtype or "", "pdf.annotation"), location)
            _empty(obj)
            return None
        if subtype in AUTHORED_ANNOTATIONS and _looks_like_annotation(entries):
            if self._removes_comment(subtype):
                self.tally.add("pdf.comment", location)
                _empty(obj)
                return None
            entries = self._clean_authored(obj, entries, location)
        is_action = is_an_action(entries)
        if is_action:
            construct = action_construct(obj, self.policy.keep_web_links)
            if construct is not None:
                self.tally.add(construct, location)
                _empty(obj)
                return None
        if name_of(entries.get("/Type")) == "/EmbeddedFile":
            self.tally.add("pdf.embedded_file", location)
            _empty(obj)
            return None
        is_stream = isinstance(obj, pikepdf.Stream)
        if subtype == "/Image":
            self._check_pixels(entries, location)
            if isinstance(obj, pikepdf.Stream):
                self.payloads.images.append(obj)
        if not is_stream and not entries.keys().isdisjoint(FONT_FILE_KEYS):
            self.payloads.font_descriptors.append(obj)
        output_profile = entries.get("/DestOutputProfile")
        if isinstance(output_profile, pikepdf.Stream):
            self.payloads.icc_profiles.append(output_profile)
        watched = entries.keys() & WATCHED_KEYS
        if not is_action:
            watched.discard("/Next")  # outline items and presentation steps chain by /Next too
        if watched & ACTION_LEADING_KEYS and self._is_name_map(obj, role):
            watched -= ACTION_LEADING_KEYS
        if not watched:
            return entries
        for key in watched:
            self._clean_entry(obj, entries, key, location, is_stream)
        return entries_of(obj)

    def _is_name_map(self, obj: pikepdf.Object, role: Role) -> bool:
        return role is Role.NAME_MAP or (obj.is_indirect and obj.objgen in self.name_maps)

    def _clean_entry(
        self, obj: pikepdf.Object, entries: Entries, key: str, location: str, is_stream: bool
    ) -> None:
        if key in REMOVED_KEYS:
            self.tally.add(REMOVED_KEYS[key], location, _entry_count(key, entries[key]))
            del obj[key]
        elif key == "/Metadata" and not self.policy.keep_metadata:
            self.tally.add("pdf.metadata", location)
            del obj[key]
        elif is_stream and key in EXTERNAL_STREAM_KEYS:
            self.tally.add("pdf.external_stream", location)
            del obj[key]
        elif key in ACTION_KEYS:
            self._clean_action_slot(obj, key, entries[key], location)
        elif key == "/Next":
            self._clean_next(obj, entries[key], location)
        elif key == "/Annots":
            self._filter_annotations(obj, entries[key], location)

    # -- actions ----------------------------------------------------------------------

    def _clean_action_slot(self, holder: pikepdf.Object, key: str, action: object, location: str) -> None:
        if key == "/OpenAction":
            if isinstance(action, pikepdf.Array):
                return  # an explicit destination: the document opens at a page
            if isinstance(action, pikepdf.Dictionary) and name_of(action.get("/S")) == "/GoTo":
                return
            self.tally.add("pdf.open_action", location)
        elif isinstance(action, pikepdf.Dictionary):
            if action_construct(action, self.policy.keep_web_links) is None:
                return
        else:
            self.tally.add("pdf.action", location)
        del holder[key]
        self._tally_chain(action, location)

    def _clean_next(self, action: pikepdf.Object, untrusted_next: object, location: str) -> None:
        items = list(untrusted_next) if isinstance(untrusted_next, pikepdf.Array) else [untrusted_next]
        kept = [
            item
            for item in items
            if isinstance(item, pikepdf.Dictionary)
            and action_construct(item, self.policy.keep_web_links) is None
        ]
        if len(kept) == len(items):
            return
        for item in items:
            if not any(item is k for k in kept):
                self._tally_chain(item, location)
        if not kept:
            del action["/Next"]
        else:
            action["/Next"] = kept[0] if len(kept) == 1 else pikepdf.Array(kept)

    def _tally_chain(self, first: object, location: str) -> None:
        """Count each removable action in a removed action and its /Next chain."""
        seen: set[tuple[int, int]] = set()
        pending = [first]
        examined = 0
        while pending and examined < MAX_COUNTED_NODES:
            examined += 1
            action = pending.pop()
            if isinstance(action, pikepdf.Array):
                pending.extend(action)
                continue
            if not isinstance(action, pikepdf.Dictionary):
                continue
            if action.is_indirect:
                if action.objgen in seen:
                    continue
                seen.add(action.objgen)
            construct = action_construct(action, self.policy.keep_web_links)
            if construct is not None:
                self.tally.add(construct, location)
            following = action.get("/Next")
            if following is not None:
                pending.append(following)

    # -- annotations and images -------------------------------------------------------

    def _filter_annotations(self, page: pikepdf.Object, annotations: object, location: str) -> None:
        if not isinstance(annotations, pikepdf.Array):
            self.tally.add("pdf.annotation", location)
            del page["/Annots"]
            return
        kept: list[pikepdf.Object] = []
        for annotation in annotations:
            is_dict = isinstance(annotation, pikepdf.Dictionary)
            subtype = name_of(annotation.get("/Subtype")) if is_dict else None
            if subtype in ALLOWED_ANNOTATIONS and not self._removes_comment(subtype):
                kept.append(annotation)
                continue
            construct = (
                "pdf.comment"
                if subtype in COMMENT_ANNOTATIONS
                else REMOVED_ANNOTATIONS.get(subtype or "", "pdf.annotation")
            )
            self.tally.add(construct, f"{location}, annotation {printable(subtype or '?')}")
            if is_dict and annotation.is_indirect:
                _empty(annotation)  # it may still be reachable from a popup or the structure tree
        if len(kept) == len(annotations):
            return
        if kept:
            page["/Annots"] = pikepdf.Array(kept)
        else:
            del page["/Annots"]

    def _removes_comment(self, subtype: str | None) -> bool:
        return not self.policy.keep_comments and subtype in COMMENT_ANNOTATIONS

    def _clean_authored(self, annotation: pikepdf.Object, entries: Entries, location: str) -> Entries:
        """A kept markup annotation loses its comment (``comments = "remove"``) or who wrote
        it and when (``metadata = "remove"``); its entries afterwards."""
        comment = set() if self.policy.keep_comments else entries.keys() & COMMENT_KEYS
        # a markup annotation's /T is its author, never a field's name
        author = set() if self.policy.keep_metadata else entries.keys() & AUTHOR_KEYS
        if comment:
            self.tally.add("pdf.comment", location)
        if author:
            self.tally.add("pdf.metadata", location)
        if not comment and not author:
            return entries
        for key in comment | author:
            del annotation[key]
        return entries_of(annotation)

    def _check_pixels(self, image: Entries, location: str) -> None:
        untrusted_width, untrusted_height = int_of(image.get("/Width")), int_of(image.get("/Height"))
        if untrusted_width is None or untrusted_height is None:
            return
        if untrusted_width * untrusted_height > self.limits.max_pixels:
            raise LimitError(
                "pdf.limit",
                f"an image of {untrusted_width}×{untrusted_height} pixels at {location} "
                f"exceeds max_pixels {self.limits.max_pixels}",
            )


def _needs_a_look(text: bytes) -> bool:
    """True unless the serialised object surely holds nothing to clean and no nesting
    deeper than the limit (which takes more openers than MAX_NESTING)."""
    return NEEDS_A_LOOK.search(text) is not None or text.count(b"[") + text.count(b"<<") > MAX_NESTING


def _looks_like_annotation(entries: Entries) -> bool:
    return name_of(entries.get("/Type")) == "/Annot" or (
        "/Rect" in entries and name_of(entries.get("/Subtype")) is not None
    )


def is_an_action(entries: Entries) -> bool:
    """True for a dictionary that is an action by its kind, wherever it hangs: a reader
    that reaches it through any action slot runs it, whatever other keys it carries
    (/Title, /P, /Type /StructElem) and whatever led there."""
    return name_of(entries.get("/S")) in KNOWN_ACTIONS or name_of(entries.get("/Type")) == "/Action"


def _empty(obj: pikepdf.Object) -> None:
    """Strip an indirect object that other objects may still point to."""
    for key in list(obj.keys()):
        del obj[key]
    if isinstance(obj, pikepdf.Stream):
        obj.write(b"")


def _entry_count(key: str, value: object) -> int:
    """How many things a removed entry held: scripts in a name tree, events in /AA."""
    if key in NAME_TREE_KEYS and isinstance(value, pikepdf.Dictionary):
        return _count_name_tree_leaves(value)
    if key == "/AA" and isinstance(value, pikepdf.Dictionary):
        return max(len(value.keys()), 1)
    return 1


def _count_name_tree_leaves(tree: pikepdf.Object) -> int:
    seen: set[tuple[int, int]] = set()
    pending = [tree]
    leaves = 0
    while pending and len(seen) < MAX_COUNTED_NODES:
        node = pending.pop()
        if not isinstance(node, pikepdf.Dictionary):
            continue
        if node.is_indirect:
            if node.objgen in seen:
                continue
            seen.add(node.objgen)
        names = node.get("/Names")
        if isinstance(names, pikepdf.Array):
            leaves += len(names) // 2
        kids = node.get("/Kids")
        if isinstance(kids, pikepdf.Array):
            pending.extend(kids)
    return max(leaves, 1)
