"""Independent check of a rebuilt message, from its bytes alone.

The ``email`` package reads the output afresh and it must be exactly the shape the rebuild
writes: ASCII with CRLF line ends; only the allow-listed fields, the structure fields and
``X-Mukaika-Sanitized`` (Received only where the rule keeps it), each decoding to text
without control characters or direction overrides; ``multipart/mixed`` whose first part is
the body (plain text, or plain text and rebuilt HTML as alternatives where ``html =
"sanitise"``, the HTML passing the HTML rebuild's own re-parse); then plain text parts,
attachments (base64, named) and nested messages (7bit). No text may hold a live link the
``links`` option does not keep. Each attachment and nested message is handed to
``verify_member`` (the gateway's verifier re-detects it and checks it by its own type, as it
does an archive member); without one, nested messages are checked here, one level deeper.
"""

from __future__ import annotations

import base64
import binascii
import email
import io
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import replace
from email import policy
from email.generator import BytesGenerator
from email.message import Message

from sanitizers.base import Limits, OptionValue
from sanitizers.errors import VerifyError
from sanitizers.html import verify_rebuilt_page
from sanitizers.mail.body import html_options
from sanitizers.mail.charsets import decode_iso2022_jp
from sanitizers.mail.headers import (
    ADDRESS_FIELDS,
    KEPT_FIELDS,
    SANITIZED_FIELD,
    decode_words,
    structured,
    unfold,
)
from sanitizers.mail.structure import message_children
from sanitizers.mail.urls import untreated_links
from sanitizers.mail.writer import CHARSET_LABELS
from sanitizers.text import is_removed_control

#: (untrusted bytes, the name they are attached under) → None, or raise
MemberCheck = Callable[[bytes, str], None]

_MAX_LINE = 998
_TOP_FIELDS = frozenset(f.lower() for f in KEPT_FIELDS) | {
    "mime-version",
    "content-type",
    SANITIZED_FIELD.lower(),
}
_PART_FIELDS = frozenset({"content-type", "content-transfer-encoding", "content-disposition"})
_CODECS = {label.lower(): codec for codec, label in CHARSET_LABELS.items()}
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_NOT_ATTACHED = frozenset({"text/html", "message/rfc822"})


def _fail(why: str) -> VerifyError:
    return VerifyError("mail.verify_failed", why)


def verify_message(
    untrusted_data: bytes,
    options: Mapping[str, OptionValue],
    limits: Limits,
    verify_member: MemberCheck | None = None,
) -> None:
    """Raise ``mail.verify_failed`` unless ``untrusted_data`` is a rebuilt message keeping
    the promise of the rule's resolved ``options``."""
    if not untrusted_data.isascii():
        raise _fail("bytes outside ASCII")
    lines = untrusted_data.split(b"\r\n")
    if any(b"\r" in line or b"\n" in line for line in lines):
        raise _fail("a line end other than CRLF")
    if any(len(line) > _MAX_LINE for line in lines):
        raise _fail("a line longer than 998 bytes")
    message = email.message_from_bytes(untrusted_data, policy=policy.default)
    _check_top_fields(message, options)
    if message.get_content_type() != "multipart/mixed":
        raise _fail(f"the message is {message.get_content_type()}, not multipart/mixed")
    children = _children(message)
    _check_body(children[0], options)
    for part in children[1:]:
        _check_following(part, options, limits, verify_member)


def _check_top_fields(message: Message, options: Mapping[str, OptionValue]) -> None:
    allowed = _TOP_FIELDS | ({"received"} if options["received"] == "keep" else set())
    names = [name.lower() for name, _value in message.raw_items()]
    unknown = sorted(set(names) - allowed)
    if unknown:
        raise _fail(f"header fields outside the allow-list: {', '.join(unknown)[:200]}")
    repeated = sorted({n for n in names if n != "received" and names.count(n) > 1})
    if repeated:
        raise _fail(f"header fields given twice: {', '.join(repeated)}")
    if names.count(SANITIZED_FIELD.lower()) != 1 or unfold(message.get("MIME-Version", "")).strip() != "1.0":
        raise _fail(f"no {SANITIZED_FIELD} or MIME-Version 1.0")
    for name, value in message.raw_items():
        text = decode_words(unfold(value))
        if any(unicodedata.category(ch) == "Cc" or ch in _BIDI for ch in text):
            raise _fail(f"{name}: control or direction characters")
    for name in ADDRESS_FIELDS:
        if message.get(name) is not None and not getattr(message[name], "addresses", None):
            raise _fail(f"{name} holds no address")


def _children(part: Message) -> list[Message]:
    if part.preamble or part.epilogue or part.defects:
        raise _fail(f"{part.get_content_type()}: preamble, epilogue or defects {part.defects[:3]}")
    children = message_children(part)
    if not children:
        raise _fail(f"{part.get_content_type()} without parts")
    return children


def _check_body(part: Message, options: Mapping[str, OptionValue]) -> None:
    if part.get_content_type() == "text/plain":
        _check_text(part, options)
        return
    if part.get_content_type() != "multipart/alternative" or options["html"] != "sanitise":
        raise _fail(f"a body of {part.get_content_type()} where html = {options['html']}")
    alternatives = _children(part)
    if [p.get_content_type() for p in alternatives] != ["text/plain", "text/html"]:
        raise _fail("the alternatives are not plain text and HTML")
    _check_text(alternatives[0], options)
    _check_fields(alternatives[1], "base64")
    page = _decoded(alternatives[1], "utf-8")
    if any(map(is_removed_control, page)):
        raise _fail("control characters in the HTML body")
    verify_rebuilt_page(page, html_options(str(options["links"])))


def _check_following(
    part: Message, options: Mapping[str, OptionValue], limits: Limits, verify_member: MemberCheck | None
) -> None:
    ctype = part.get_content_type()
    disposition = structured(_raw(part, "content-disposition"))
    if ctype == "text/plain" and disposition.value == "inline":
        _check_text(part, options)
        return
    name = disposition.filename_param("filename")
    if disposition.value != "attachment" or not name:
        raise _fail(f"a {ctype} part that is neither text nor a named attachment")
    if ctype == "message/rfc822":
        _check_fields(part, "7bit")
        nested = _nested_bytes(part)
        if verify_member is not None:
            verify_member(nested, name)
        elif limits.archive_depth <= 0:
            raise _fail("messages nested deeper than archive_depth")
        else:
            verify_message(nested, options, replace(limits, archive_depth=limits.archive_depth - 1))
        return
    if ctype in _NOT_ATTACHED or part.get_content_maintype() in ("multipart", "message"):
        raise _fail(f"an attachment of type {ctype}")
    _check_fields(part, "base64")
    data = _base64(part)
    if verify_member is not None:
        verify_member(data, name)


def _check_fields(part: Message, encoding: str) -> None:
    names = [name.lower() for name, _value in part.raw_items()]
    if set(names) - _PART_FIELDS or len(names) != len(set(names)):
        raise _fail(f"part fields {names[:6]}")
    if unfold(_raw(part, "content-transfer-encoding")).strip().lower() != encoding:
        raise _fail(f"a {part.get_content_type()} part not in {encoding}")
    if part.defects:
        raise _fail(f"{part.get_content_type()}: {part.defects[:3]}")


def _check_text(part: Message, options: Mapping[str, OptionValue]) -> None:
    _check_fields(part, "base64")
    label = structured(_raw(part, "content-type")).get("charset") or ""
    codec = _CODECS.get(label.lower())
    if codec is None:
        raise _fail(f"a text part in charset {label[:40]!r}")
    text = _decoded(part, codec)
    if any(map(is_removed_control, text)):
        raise _fail("control characters in a text part")
    untreated = untreated_links(text, str(options["links"]))
    if untreated:
        raise _fail(f"live links the links option does not keep: {untreated[:3]}")


def _decoded(part: Message, codec: str) -> str:
    data = _base64(part)
    if codec == "iso2022_jp":
        text = decode_iso2022_jp(data)
        if text is None:
            raise _fail("text that is not ISO-2022-JP")
        return text
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        raise _fail(f"text that is not {codec}") from None


def _base64(part: Message) -> bytes:
    payload = part.get_payload()
    if not isinstance(payload, str):
        raise _fail(f"{part.get_content_type()}: no body")
    try:
        return base64.b64decode("".join(payload.split()), validate=True)
    except (binascii.Error, ValueError):
        raise _fail(f"{part.get_content_type()}: not strict base64") from None


def _nested_bytes(part: Message) -> bytes:
    children = message_children(part)
    if len(children) != 1:
        raise _fail("a message/rfc822 part without one message")
    buffer = io.BytesIO()
    BytesGenerator(buffer, mangle_from_=False, policy=policy.compat32.clone(linesep="\r\n")).flatten(
        children[0]
    )
    return buffer.getvalue()


def _raw(part: Message, field_name: str) -> str:
    return next((value for name, value in part.raw_items() if name.lower() == field_name), "")
