"""Image parts are copied as they are, but only when their bytes are an image.

A part related as an image but holding an OLE file, an executable or a script would be
handed to whatever Office decides to open it with; its signature has to say image.
"""

from __future__ import annotations

_SIGNATURES: tuple[bytes, ...] = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",  # JPEG
    b"GIF87a",
    b"GIF89a",
    b"BM",  # BMP
    b"II*\x00",  # TIFF
    b"MM\x00*",
    b"II\xbc",  # JPEG XR (HD Photo)
    b"\xd7\xcd\xc6\x9a",  # placeable WMF
)
_EMF_RECORD = b"\x01\x00\x00\x00"
_EMF_SIGNATURE_OFFSET = 40
_WMF_HEADERS = (b"\x01\x00\x09\x00", b"\x02\x00\x09\x00")  # WMF without the placeable header


def is_image(untrusted_data: bytes) -> bool:
    if untrusted_data.startswith(_SIGNATURES) or untrusted_data[:4] in _WMF_HEADERS:
        return True
    return untrusted_data.startswith(_EMF_RECORD) and (
        untrusted_data[_EMF_SIGNATURE_OFFSET : _EMF_SIGNATURE_OFFSET + 4] == b" EMF"
    )
