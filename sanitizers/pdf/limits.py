"""Opening untrusted PDFs under the configured limits.

Every check here runs before the corresponding memory is committed: the file size
before parsing, the page and object counts before walking, the decoded size of a
stream while it is being inflated, not after.
"""

from __future__ import annotations

import io
import mmap
import re
import zlib
from dataclasses import dataclass
from math import prod
from pathlib import Path

import pikepdf

from sanitizers.base import Limits
from sanitizers.errors import EncryptedError, LimitError, MalformedError
from sanitizers.pdf.values import int_of, name_of, printable

HEADER_WINDOW = 1024  # readers accept %PDF- anywhere in the first KiB
#: Bytes a reader ignores after %%EOF; anything else there is data hidden from the PDF view.
EOF_PADDING = b" \t\r\n\f\0"
INFLATE_CHUNK = 1 << 16

#: Worst-case output/input ratio of each general-purpose filter, to bound a decoded
#: size without decoding.  Deflate cannot exceed 1032:1; an LZW code (at least 9 bits)
#: yields at most 4096 bytes; a run-length pair yields at most 128 bytes.
FILTER_EXPANSION: dict[str, float] = {
    "/FlateDecode": 1032,
    "/Fl": 1032,
    "/LZWDecode": 4096 * 8 / 9,
    "/LZW": 4096 * 8 / 9,
    "/RunLengthDecode": 64,
    "/RL": 64,
    "/ASCIIHexDecode": 0.5,
    "/AHx": 0.5,
    "/ASCII85Decode": 0.8,
    "/A85": 0.8,
}
FLATE = frozenset({"/FlateDecode", "/Fl"})


@dataclass(frozen=True)
class Envelope:
    """Bytes around the PDF proper: before ``%PDF-`` and after the last ``%%EOF``."""

    leading: int
    trailing: int


def read_envelope(untrusted_path: Path, limits: Limits) -> Envelope:
    """Measure data hidden before the header and after the end marker (polyglots)."""
    if limits.checked_size(untrusted_path, "pdf.limit") == 0:
        raise MalformedError("pdf.malformed", "the file is empty")
    with untrusted_path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        header = data.find(b"%PDF-", 0, HEADER_WINDOW)
        end = data.rfind(b"%%EOF")
        trailing = 0 if end < 0 else len(data[end + 5 :].strip(EOF_PADDING))
    return Envelope(leading=max(header, 0), trailing=trailing)


def open_under_limits(untrusted_path: Path, limits: Limits) -> pikepdf.Pdf:
    """Open with the empty password and check page and object counts.

    The empty password opens files protected only by an owner password (the usual
    "no printing" lock); a real user password is refused, never guessed.
    """
    try:
        pdf = pikepdf.open(untrusted_path)
    except pikepdf.PasswordError:
        raise encryption_refusal(untrusted_path) from None
    except pikepdf.PikepdfError as exc:
        raise MalformedError("pdf.malformed", f"qpdf cannot open it: {exc}") from None
    except UnicodeError as exc:  # a message of qpdf's that quotes undecodable bytes
        raise MalformedError("pdf.malformed", f"qpdf cannot open it: {type(exc).__name__}") from None
    try:
        check_counts(pdf, limits)
    except BaseException:
        pdf.close()
        raise
    return pdf


#: What qpdf reads: the standard security handler, RC4 keys of 40 to 128 bits (exactly
#: 40 for revision 2), and AES.
STANDARD_RC4_BITS = range(40, 129, 8)
_ENCRYPT_KEY = re.compile(rb"/Encrypt(?![^\s/\[\]<>(){}%])")


def encryption_refusal(untrusted_path: Path) -> EncryptedError:
    """Why a PDF that the empty password does not open is refused.

    qpdf says "invalid password" both for a real user password and for encryption it
    cannot read; the encryption dictionary tells them apart.  It is read from a copy in
    which the trailer's /Encrypt key is renamed (same length, so offsets hold): qpdf
    then opens the file as unencrypted and shows the dictionary as it is.
    """
    needs_password = EncryptedError("pdf.encrypted", "the PDF needs a user password")
    data = untrusted_path.read_bytes()
    try:
        with pikepdf.open(io.BytesIO(_ENCRYPT_KEY.sub(b"/Encrypx", data))) as pdf:
            encrypt = pdf.trailer.get("/Encrypx")
            if not isinstance(encrypt, pikepdf.Dictionary):
                return needs_password
            unreadable = _unreadable_encryption(encrypt)
    except (pikepdf.PikepdfError, UnicodeError):
        return needs_password
    if unreadable is None:
        return needs_password
    return EncryptedError("pdf.encryption_unsupported", unreadable)


def _unreadable_encryption(encrypt: pikepdf.Object) -> str | None:
    """What makes an encryption dictionary unreadable to qpdf, or None if it is standard."""
    handler = name_of(encrypt.get("/Filter"))
    if handler != "/Standard":
        return f"the {printable(handler or '?')} security handler is not supported"
    version, revision = int_of(encrypt.get("/V")), int_of(encrypt.get("/R"))
    bits = int_of(encrypt.get("/Length"))
    if version in (1, 2) and revision in (2, 3):
        bits = 40 if bits is None else bits
        if bits not in STANDARD_RC4_BITS or (revision == 2 and bits != 40):
            return f"RC4 encryption with a {bits}-bit key (revision {revision}) is not supported"
        return None
    if version in (4, 5) and revision in (4, 5, 6):
        return None
    return f"encryption version {version} revision {revision} is not supported"


def check_counts(pdf: pikepdf.Pdf, limits: Limits) -> None:
    """Refuse documents with more pages or objects than the limits allow."""
    try:
        untrusted_declared = int_of(pdf.trailer.get("/Size"))
        if untrusted_declared is not None and untrusted_declared > limits.max_objects:
            raise LimitError(
                "pdf.limit", f"{untrusted_declared} objects declared, limit {limits.max_objects}"
            )
        objects = len(pdf.objects)
        if objects > limits.max_objects:
            raise LimitError("pdf.limit", f"{objects} objects, limit {limits.max_objects}")
        pages = len(pdf.pages)
    except pikepdf.PikepdfError as exc:
        raise MalformedError("pdf.malformed", f"the page tree or objects cannot be read: {exc}") from None
    if pages > limits.max_pages:
        raise LimitError("pdf.limit", f"{pages} pages, limit {limits.max_pages}")
    if pages == 0:
        raise MalformedError("pdf.malformed", "the document has no pages")


def filter_names(stream: pikepdf.Object) -> list[str] | None:
    """The stream's filter chain as names, or None when /Filter is not made of names."""
    if "/Filter" not in stream:
        return []
    untrusted_filter = stream["/Filter"]
    items = list(untrusted_filter) if isinstance(untrusted_filter, pikepdf.Array) else [untrusted_filter]
    names = [name for name in (name_of(item) for item in items) if name is not None]
    return names if len(names) == len(items) else None


def has_predictor(stream: pikepdf.Object) -> bool:
    if "/DecodeParms" not in stream:
        return False
    parms = stream["/DecodeParms"]
    entries = list(parms) if isinstance(parms, pikepdf.Array) else [parms]
    return any(isinstance(p, pikepdf.Dictionary) and "/Predictor" in p for p in entries)


def decode_within_limit(stream: pikepdf.Object, max_size: int) -> bytes | None:
    """The stream's decoded bytes, or None when its filters are not general-purpose.

    Raises LimitError when the decoded data would exceed ``max_size``: a leading
    FlateDecode is inflated in bounded chunks; for any other chain the worst-case
    expansion must fit before qpdf is asked to decode.
    """
    filters = filter_names(stream)
    if filters is None or any(f not in FILTER_EXPANSION for f in filters):
        return None
    raw = stream.read_raw_bytes()
    if not filters:
        _check_size(len(raw), max_size)
        return raw
    if filters[0] in FLATE:
        inflated = inflate_within_limit(raw, max_size)
        if len(filters) == 1 and not has_predictor(stream):
            return inflated
        bound = len(inflated) * prod(FILTER_EXPANSION[f] for f in filters[1:])
    else:
        bound = len(raw) * prod(FILTER_EXPANSION[f] for f in filters)
    if bound > max_size:
        raise LimitError("pdf.limit", f"a {'/'.join(filters)} stream may decode beyond {max_size} bytes")
    try:
        # specialized: run-length too, which qpdf counts apart from the other general filters
        return stream.read_bytes(pikepdf.StreamDecodeLevel.specialized)
    except pikepdf.PikepdfError:  # qpdf's decoders raise its runtime errors too
        return None


def check_decoded_size(stream: pikepdf.Object, max_size: int) -> None:
    """Raise LimitError if the stream decodes beyond ``max_size``; decode only to find out.

    Most streams are small enough that even the worst-case expansion of their filters
    fits, which settles it without inflating anything.
    """
    filters = filter_names(stream)
    if filters is None or any(f not in FILTER_EXPANSION for f in filters):
        return  # image codecs and unknown filters: sizes are bounded by the image checks
    raw_length = len(stream.read_raw_bytes())
    if raw_length * prod(FILTER_EXPANSION[f] for f in filters) > max_size:
        decode_within_limit(stream, max_size)


def inflate_within_limit(raw: bytes, max_size: int) -> bytes:
    """Inflate zlib data, stopping as soon as the output passes ``max_size``.

    Corrupt data keeps what was inflated before the error, as qpdf does (with a warning).
    """
    inflater = zlib.decompressobj()
    parts: list[bytes] = []
    size = 0
    view = memoryview(raw)
    try:
        for start in range(0, len(view), INFLATE_CHUNK):
            part = inflater.decompress(view[start : start + INFLATE_CHUNK], max_size + 1 - size)
            size += len(part)
            parts.append(part)
            if inflater.unconsumed_tail or size > max_size:
                _check_size(max_size + 1, max_size)
            if inflater.eof:
                break
    except zlib.error:
        pass
    return b"".join(parts)


def _check_size(size: int, max_size: int) -> None:
    if size > max_size:
        raise LimitError("pdf.limit", f"a stream decodes beyond max_stream_size {max_size}")
