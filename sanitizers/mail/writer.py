"""The rebuilt message as bytes: a fixed, plain MIME shape that readers agree on.

Every byte written is ASCII and every line ends in CRLF: text and attachments are base64,
a nested message is written as it came back from its own rebuild (already such a message)
as a ``message/rfc822`` part. There is no preamble or epilogue and no header beyond the
allow-listed ones, the structure fields and ``X-Mukaika-Sanitized``.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, field

from sanitizers.mail.charsets import encode_iso2022_jp
from sanitizers.mail.headers import SANITIZED_FIELD, filename_params, fold

#: Codec → the charset label written for it; text in any other codec is written as UTF-8.
CHARSET_LABELS: dict[str, str] = {
    "utf-8": "UTF-8", "iso2022_jp": "ISO-2022-JP", "cp932": "Shift_JIS", "euc_jp": "EUC-JP",
    "cp1252": "windows-1252", "iso8859-15": "ISO-8859-15", "gb2312": "GB2312", "gbk": "GBK",
    "gb18030": "GB18030", "big5": "Big5", "euc_kr": "EUC-KR", "koi8-r": "KOI8-R",
}  # fmt: skip

#: Canonical output type → the MIME type an attachment of it is sent as. Markup and
#: anything unlisted go as octet-stream, which no reader shows inline.
ATTACHMENT_MIME_TYPES: dict[str, str] = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
    "ppt": "application/vnd.ms-powerpoint",
    "rtf": "application/rtf",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "tiff": "image/tiff",
    "bmp": "image/bmp",
    "webp": "image/webp",
    "zip": "application/zip",
    "txt": "text/plain",
    "csv": "text/csv",
}


@dataclass
class Part:
    """One MIME entity: its header lines and either a body or children (a multipart)."""

    headers: list[str]
    body: bytes = b""
    subtype: str | None = None  # "mixed" or "alternative" for a multipart
    children: list[Part] = field(default_factory=list)


def encode_text(text: str, codec: str) -> tuple[bytes, str]:
    """(bytes, codec) of ``text`` in ``codec`` when it has a label and holds every
    character, else in UTF-8."""
    if codec in CHARSET_LABELS:
        if codec == "iso2022_jp":
            encoded = encode_iso2022_jp(text)
            if encoded is not None:
                return encoded, codec
        else:
            try:
                return text.encode(codec), codec
            except UnicodeEncodeError:
                pass
    return text.encode("utf-8"), "utf-8"


def _base64(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def text_part(text: str, codec: str, subtype: str = "plain") -> tuple[Part, str]:
    """A text part (CRLF line ends) and the codec it ended up in."""
    data, used = encode_text(text.replace("\r\n", "\n").replace("\n", "\r\n"), codec)
    headers = [
        f'Content-Type: text/{subtype}; charset="{CHARSET_LABELS[used]}"',
        "Content-Transfer-Encoding: base64",
    ]
    if subtype == "plain":
        headers.append("Content-Disposition: inline")
    return Part(headers, _base64(data)), used


def attachment_part(data: bytes, name: str, output_type: str) -> Part:
    mime_type = ATTACHMENT_MIME_TYPES.get(output_type, "application/octet-stream")
    name_tokens, filename_tokens = filename_params(name)
    headers = [
        fold("Content-Type", [f"{mime_type};", *name_tokens]),
        "Content-Transfer-Encoding: base64",
        fold("Content-Disposition", ["attachment;", *filename_tokens]),
    ]
    return Part(headers, _base64(data))


def message_part(data: bytes, name: str) -> Part:
    """A rebuilt message (ASCII, CRLF, lines within limits) attached as itself."""
    _name_tokens, filename_tokens = filename_params(name)
    headers = [
        "Content-Type: message/rfc822",
        "Content-Transfer-Encoding: 7bit",
        fold("Content-Disposition", ["attachment;", *filename_tokens]),
    ]
    return Part(headers, data if data.endswith(b"\r\n") else data + b"\r\n")


def multipart(subtype: str, children: list[Part]) -> Part:
    return Part([], subtype=subtype, children=children)


def write_message(header_lines: list[str], sanitized: str, root: Part) -> bytes:
    """The whole message: allow-listed fields, MIME-Version, our field, then ``root``."""
    head = [*header_lines, "MIME-Version: 1.0", fold(SANITIZED_FIELD, sanitized.split(" "))]
    return _entity(head, root)


def _entity(extra_headers: list[str], part: Part) -> bytes:
    if part.subtype is None:
        return "\r\n".join([*extra_headers, *part.headers]).encode("ascii") + b"\r\n\r\n" + part.body
    bodies = [_entity([], child) for child in part.children]
    boundary = _boundary(bodies)
    head = "\r\n".join([*extra_headers, f'Content-Type: multipart/{part.subtype}; boundary="{boundary}"'])
    out = bytearray(head.encode("ascii") + b"\r\n\r\n")
    for body in bodies:
        out += f"--{boundary}\r\n".encode("ascii") + body
        if not body.endswith(b"\r\n"):
            out += b"\r\n"
    out += f"--{boundary}--\r\n".encode("ascii")
    return bytes(out)


def _boundary(bodies: list[bytes]) -> str:
    """A boundary no line of the content starts with."""
    while True:
        boundary = f"=_mukaika_{secrets.token_hex(12)}"
        marker = f"--{boundary}".encode("ascii")
        if not any(marker in body for body in bodies):
            return boundary
