"""The MIME tree of a message, walked once: what makes the body, what is attached.

The tree is the ``email`` package's (policy ``default``); what it decides (boundaries, where
a part ends) is what every later step and the verifier see. A tree readers could disagree
about is refused (``mail.malformed``): a multipart without its boundary or its first
boundary, headers that end in a line with no colon, a structure field given twice.
Encrypted content is refused (``mail.encrypted``); a signature is taken off, since the
rebuilt content no longer matches it.

The body is the first entity in reading order (of ``multipart/mixed``, the first child;
of ``multipart/alternative``, its plain and rich versions; of ``multipart/related``, its
root); HTML anywhere that is not an attachment is body too. Every other part is an
attachment, an inline image, a nested message or a further text part, in order.
"""

from __future__ import annotations

import email.errors
import io
from dataclasses import dataclass, field
from email.generator import BytesGenerator
from email.message import Message
from email.policy import compat32

from sanitizers.base import Limits
from sanitizers.errors import EncryptedError, LimitError, MalformedError
from sanitizers.mail.headers import Structured, header_text, raw_bytes, structured

#: Multipart nesting within one message (messages inside messages count against
#: ``archive_depth`` instead, as archives inside archives do).
MAX_MIME_DEPTH = 32
#: The header block of one entity; no honest mailer comes near it (a long Received chain
#: with signatures is some tens of KiB).
MAX_HEADER_BYTES = 256 * 1024

_ENCRYPTED = frozenset(
    {"multipart/encrypted", "application/pkcs7-mime", "application/x-pkcs7-mime", "application/pgp-encrypted"}
)
_SIGNATURES = frozenset(
    {"application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature"}
)
_AMBIGUOUS_DEFECTS = (
    email.errors.NoBoundaryInMultipartDefect,
    email.errors.StartBoundaryNotFoundDefect,
    email.errors.MultipartInvariantViolationDefect,
    email.errors.MissingHeaderBodySeparatorDefect,
    email.errors.FirstHeaderLineIsContinuationDefect,
    email.errors.InvalidMultipartContentTransferEncodingDefect,
)
_STRUCTURE_FIELDS = ("content-type", "content-transfer-encoding", "content-disposition")


@dataclass(frozen=True)
class Entry:
    """A part after the body, in order: ``text``, ``attachment``, ``message`` or ``inline_image``."""

    kind: str
    part: Message
    name: str


@dataclass
class Walk:
    plain: list[Message] = field(default_factory=list)
    html: list[Message] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    #: HTML versions dropped because a plain version of the same body was kept
    html_dropped: int = 0
    #: other versions of an alternative (text/calendar, text/enriched ...), by type
    alternatives_dropped: list[str] = field(default_factory=list)
    signatures: int = 0
    parts: int = 0


class Walker:
    """Walks one parsed message; ``prefer_plain``: a plain version of a body makes its HTML
    version go (``html = "text"``)."""

    def __init__(self, limits: Limits, prefer_plain: bool) -> None:
        self.limits = limits
        self.prefer_plain = prefer_plain
        self.walk = Walk()
        self._names = 0

    def run(self, message: Message) -> Walk:
        self._visit(message, 0, in_body=True, skip_html=False)
        return self.walk

    def _visit(self, part: Message, depth: int, in_body: bool, skip_html: bool) -> None:
        self._check(part, depth)
        ctype = part.get_content_type()
        if ctype in _ENCRYPTED:
            raise EncryptedError("mail.encrypted", f"{ctype} content")
        if ctype in _SIGNATURES:
            self.walk.signatures += 1
            return
        if part.get_content_maintype() == "multipart":
            self._multipart(part, depth, in_body, skip_html)
            return
        disposition = structured(_raw(part, "content-disposition"))
        name = attachment_name(part, disposition)
        attached = disposition.value == "attachment" or name is not None
        if ctype in ("message/rfc822", "message/global"):
            self._entry("message", part, _message_name(name or _subject_of(part), self._next_name()))
        elif ctype == "text/html" and not attached:
            if skip_html:
                self.walk.html_dropped += 1
            else:
                self.walk.html.append(part)
        elif ctype == "text/plain" and not attached:
            if in_body:
                self.walk.plain.append(part)
            else:
                self._entry("text", part, "")
        elif part.get_content_maintype() == "image" and _shown_inline(part, disposition):
            self._entry("inline_image", part, name or f"image-{self._next_name()}")
        else:
            self._entry("attachment", part, name or f"attachment-{self._next_name()}")

    def _multipart(self, part: Message, depth: int, in_body: bool, skip_html: bool) -> None:
        children = message_children(part)
        if not children:
            raise MalformedError("mail.malformed", f"{part.get_content_type()} without parts")
        subtype = part.get_content_subtype()
        if subtype == "signed":
            self._visit(children[0], depth + 1, in_body, skip_html)
            for signature in children[1:]:
                self._check(signature, depth + 1)
                self.walk.signatures += 1
        elif subtype == "alternative":
            self._alternative(children, depth, in_body, skip_html)
        elif subtype == "related":
            root = _related_root(part, children)
            self._visit(root, depth + 1, in_body, skip_html)
            for child in children:
                if child is not root:
                    self._visit(child, depth + 1, False, skip_html)
        else:
            for index, child in enumerate(children):
                self._visit(child, depth + 1, in_body and index == 0, skip_html)

    def _alternative(self, children: list[Message], depth: int, in_body: bool, skip_html: bool) -> None:
        plain = next((c for c in children if c.get_content_type() == "text/plain"), None)
        rich = next(
            (c for c in reversed(children) if c.get_content_type() == "text/html" or c.is_multipart()),
            None,
        )
        for child in children:
            if child is plain:
                self._visit(child, depth + 1, in_body, skip_html)
            elif child is rich:
                drop_html = skip_html or (plain is not None and self.prefer_plain)
                self._visit(child, depth + 1, in_body, drop_html)
            else:
                self._check(child, depth + 1)
                if child.get_content_type() in _ENCRYPTED:
                    raise EncryptedError("mail.encrypted", f"{child.get_content_type()} content")
                self.walk.alternatives_dropped.append(child.get_content_type())

    def _check(self, part: Message, depth: int) -> None:
        self.walk.parts += 1
        if self.walk.parts > self.limits.archive_members:
            raise LimitError("mail.limit", f"more than {self.limits.archive_members} MIME parts")
        if depth > MAX_MIME_DEPTH:
            raise LimitError("mail.limit", f"multiparts nested deeper than {MAX_MIME_DEPTH}")
        size = sum(len(name) + len(value) + 4 for name, value in part.raw_items())
        if size > MAX_HEADER_BYTES:
            raise LimitError("mail.limit", f"a header block of {size} bytes")
        for defect in part.defects:
            if isinstance(defect, _AMBIGUOUS_DEFECTS):
                raise MalformedError("mail.malformed", f"{type(defect).__name__}: {defect}")
        for name in _STRUCTURE_FIELDS:
            if len(part.get_all(name, [])) > 1:
                raise MalformedError("mail.malformed", f"{name} given more than once")

    def _entry(self, kind: str, part: Message, name: str) -> None:
        self.walk.entries.append(Entry(kind, part, name))

    def _next_name(self) -> int:
        self._names += 1
        return self._names


def _raw(part: Message, field_name: str) -> str:
    """A field as the parser stored it (its raw text, not the package's reading of it)."""
    return next((value for name, value in part.raw_items() if name.lower() == field_name), "")


def attachment_name(part: Message, disposition: Structured) -> str | None:
    """The name the sender gave: Content-Disposition ``filename``, else Content-Type
    ``name``, each in any of the encodings mailers use."""
    name = disposition.filename_param("filename")
    if not name:
        name = structured(_raw(part, "content-type")).filename_param("name")
    return name or None


def _subject_of(part: Message) -> str | None:
    """A forwarded message is known by its subject (as mail clients name it when saved)."""
    children = message_children(part)
    raw = next((v for n, v in children[0].raw_items() if n.lower() == "subject"), "") if children else ""
    return header_text(raw)[0][:100] or None if raw else None


def _message_name(name: str | None, number: int) -> str:
    """A nested message is judged as a ``.eml`` file, whatever it was called."""
    stem = name or f"message-{number}"
    if stem.lower().endswith((".eml", ".msg")):
        stem = stem[:-4]
    return f"{stem}.eml"


def _shown_inline(part: Message, disposition: Structured) -> bool:
    return disposition.value == "inline" or (not disposition.value and part.get("Content-ID") is not None)


def _related_root(part: Message, children: list[Message]) -> Message:
    start = structured(_raw(part, "content-type")).get("start")
    if start:
        for child in children:
            if (child.get("Content-ID") or "").strip() == start.strip():
                return child
    return children[0]


def payload_bytes(part: Message) -> bytes:
    """A leaf's content with its transfer encoding undone; a part the parser read as a
    message (``message/rfc822``, ``message/delivery-status``) as the bytes it was written as."""
    if part.is_multipart():
        buffer = io.BytesIO()
        BytesGenerator(buffer, mangle_from_=False, policy=compat32.clone(linesep="\r\n")).flatten(
            _only_child(part)
        )
        return buffer.getvalue()
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload
    return raw_bytes(str(part.get_payload()))


def _only_child(part: Message) -> Message:
    children = message_children(part)
    return children[0] if len(children) == 1 else part


def message_children(part: Message) -> list[Message]:
    """The entities a multipart (or a message/rfc822 part) holds."""
    payload = part.get_payload()
    return [child for child in payload if isinstance(child, Message)] if isinstance(payload, list) else []
