"""Outlook ``.msg`` files converted to a message, which is then rebuilt like any ``.eml``.

extract-msg reads the compound file and its MAPI properties: subject, sender and recipients
(names and SMTP addresses), send time, message ids, the plain text and HTML bodies (the HTML
encapsulated in the RTF body when there is no other), and the attachments, an attached
Outlook item converted in turn. The conversion only writes down what the item says, with
the rebuild's own writer; every check happens afterwards, on the message, as for a .eml.
Transport headers stored in the item are not used: its properties are what Outlook shows.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from typing import Any

import extract_msg
from extract_msg.enums import AttachmentType
from extract_msg.msg_classes import MessageBase, MSGFile

from sanitizers.base import Limits
from sanitizers.errors import EncryptedError, LimitError, MalformedError
from sanitizers.mail.headers import HeaderValues, Mailbox, filename_params, fold, message_ids
from sanitizers.mail.writer import Part, message_part, multipart, text_part, write_message

#: PR_INTERNET_CPID values → the charset an HTML body in that code page is labelled with.
_CODE_PAGES = {65001: "UTF-8", 932: "Shift_JIS", 50220: "ISO-2022-JP", 50221: "ISO-2022-JP",
               50222: "ISO-2022-JP", 51932: "EUC-JP", 20932: "EUC-JP", 1252: "windows-1252"}  # fmt: skip
#: Message classes of S/MIME content that is encrypted or opaque-signed (a clear-signed
#: message is ``IPM.Note.SMIME.MultipartSigned``, and its content is readable).
_SEALED_CLASSES = ("ipm.note.smime", "ipm.note.secure")
_RECIPIENT_FIELDS = {1: "To", 2: "Cc"}
_MIME_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}")


def message_from_msg(untrusted_data: bytes, limits: Limits) -> bytes:
    """The ``.msg`` as RFC 5322 bytes; ``mail.malformed`` when extract-msg cannot read it,
    ``mail.encrypted`` for sealed S/MIME, ``mail.limit`` for items nested too deep."""
    try:
        item = extract_msg.openMsg(untrusted_data)
    except Exception as exc:  # extract-msg and olefile raise many kinds on hostile input
        raise MalformedError("mail.malformed", f"extract-msg cannot read the .msg: {exc}") from None
    try:
        return _converted(item, limits.archive_depth)
    except (EncryptedError, LimitError, MalformedError):
        raise
    except Exception as exc:  # a property or attachment extract-msg fails to read
        raise MalformedError("mail.malformed", f"extract-msg cannot read the .msg: {exc}") from None
    finally:
        item.close()


def _converted(item: Any, depth: int) -> bytes:
    if not isinstance(item, MessageBase):
        raise MalformedError("mail.malformed", f"an Outlook item of class {type(item).__name__}")
    message_class = str(item.classType or "").lower()
    if message_class.startswith(_SEALED_CLASSES) and not message_class.endswith("multipartsigned"):
        raise EncryptedError("mail.encrypted", f"Outlook item of class {item.classType}")
    parts = [_body(item)] + [p for attachment in item.attachments if (p := _attachment(attachment, depth))]
    return write_message(_headers(item).lines(), "converted-msg", multipart("mixed", parts))


def _headers(item: Any) -> HeaderValues:
    values = HeaderValues()
    sender = _mailbox(
        item.getStringStream("__substg1.0_0C1A"),
        item.getStringStream("__substg1.0_5D01") or item.getStringStream("__substg1.0_0C1F"),
    )
    if sender is not None:
        values.addresses["From"] = [sender]
    for recipient in item.recipients:
        field = _RECIPIENT_FIELDS.get(int(recipient.type or 0))
        box = _mailbox(recipient.name, recipient.smtpAddress or recipient.email)
        if field is not None and box is not None:
            values.addresses.setdefault(field, []).append(box)
    sent = item.date
    if isinstance(sent, dt.datetime):
        values.date = sent if sent.tzinfo is not None else sent.replace(tzinfo=dt.UTC)
    values.subject = str(item.subject or "") or None
    values.message_id = next(iter(message_ids(str(item.messageId or ""))), None)
    values.in_reply_to = message_ids(str(item.inReplyTo or ""))[:10]
    values.references = message_ids(str(item.getStringStream("__substg1.0_1039") or ""))[:100]
    return values


def _mailbox(name: object, addr: object) -> Mailbox | None:
    address = str(addr or "").strip()
    if "@" not in address:
        return None  # an Exchange address (/O=...), which means nothing outside Exchange
    display = str(name or "").strip()
    return (display if display != address else "", address)


def _body(item: Any) -> Part:
    plain = item.body
    html = item.getStream("__substg1.0_10130102")
    if not plain and not html:
        html = item.htmlBody  # encapsulated in the RTF body
    versions: list[Part] = []
    if plain:
        versions.append(text_part(str(plain), "utf-8")[0])
    if html:
        label = _CODE_PAGES.get(int(item.getPropertyVal("3FDE0003", 0) or 0))
        charset = f'; charset="{label}"' if label else ""
        versions.append(_leaf(f"text/html{charset}", bytes(html), "inline", None))
    if not versions:
        return text_part("", "utf-8")[0]
    return versions[0] if len(versions) == 1 else multipart("alternative", versions)


def _attachment(attachment: Any, depth: int) -> Part | None:
    name = str(attachment.getFilename() or "") or "attachment"
    if attachment.type == AttachmentType.MSG and isinstance(attachment.data, MSGFile):
        if depth <= 0:
            raise LimitError("mail.limit", "Outlook items attached deeper than archive_depth")
        return message_part(_converted(attachment.data, depth - 1), name)
    data = attachment.data
    if not isinstance(data, bytes):
        return None  # a link to a file in the cloud, or a kind extract-msg cannot read: nothing to carry
    mime_type = str(attachment.mimetype or "").strip().lower()
    if not _MIME_TYPE.fullmatch(mime_type):
        mime_type = "application/octet-stream"
    inline = mime_type.startswith("image/") and bool(attachment.hidden or attachment.contentId)
    return _leaf(mime_type, data, "inline" if inline else "attachment", name)


def _leaf(content_type: str, data: bytes, disposition: str, name: str | None) -> Part:
    if name is None:
        type_tokens, disposition_tokens = [content_type], [disposition]
    else:
        name_tokens, filename_tokens = filename_params(name)
        type_tokens = [f"{content_type};", *name_tokens]
        disposition_tokens = [f"{disposition};", *filename_tokens]
    headers = [
        fold("Content-Type", type_tokens),
        "Content-Transfer-Encoding: base64",
        fold("Content-Disposition", disposition_tokens),
    ]
    return Part(headers, base64.encodebytes(data).replace(b"\n", b"\r\n"))
