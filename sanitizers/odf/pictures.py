"""Pictures are rebuilt, never copied, and named anew by the rebuild.

A picture reaches the document either as a member of the package (``xlink:href``, or a
form control's ``form:image-data``) or inline as base64 (``office:binary-data``, the only
way a flat document has).  Either way its bytes go through the image sanitiser (raster
pictures from their pixels, Windows metafiles record by record, as in OOXML); what cannot
be rebuilt is dropped and reported, and the element showing it goes.  A member picture is
written under ``Pictures/`` with a name of the rebuild's own and the extension of what was
written, so no name or path of the input reaches the output.  A reference that names no
member of the package (a URL, an absolute or relative path, which LibreOffice resolves
against the folder the document is opened from) is a linked picture and goes.
"""

from __future__ import annotations

import base64
import binascii
import re

from sanitizers.base import Limits
from sanitizers.images.rebuild import picture_type
from sanitizers.odf.vocabulary import PICTURES
from sanitizers.ooxml.findings import Tally
from sanitizers.ooxml.images import rebuilt_picture
from sanitizers.ooxml.package import Package

#: Where a picture written by the image sanitiser gets its extension and media type.
_RASTER_MEDIA_TYPES = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "tiff": "image/tiff",
    "bmp": "image/bmp",
    "webp": "image/webp",
}
_EXTENSIONS = {"jpeg": "jpg"}
_EMF_SIGNATURE = (40, b" EMF")
_WHITE_SPACE = re.compile(r"\s+")


class Pictures:
    """The pictures one output keeps: each member rebuilt once, however often it is shown."""

    def __init__(self, package: Package | None, limits: Limits, tally: Tally) -> None:
        self._package = package
        self._limits = limits
        self._tally = tally
        self._by_member: dict[str, str | None] = {}
        #: output member name → (bytes, media type), in the order first referenced
        self.written: dict[str, tuple[bytes, str]] = {}

    @property
    def members_read(self) -> set[str]:
        """The package members judged as pictures, kept or not."""
        return set(self._by_member)

    def from_reference(self, untrusted_href: str, where: str) -> str | None:
        """The output's name for the package picture ``untrusted_href`` names; None when it
        names no member (then reported as a linked picture) or the picture cannot be rebuilt."""
        name = self._member(untrusted_href)
        if name is None:
            self._tally.add("odf.linked_picture", f"{where} ({untrusted_href[:80]})")
            return None
        if name not in self._by_member:
            assert self._package is not None  # a member was found, so there is a package
            data = rebuilt_picture(
                self._package.read(name),
                name,
                self._limits,
                self._tally,
                family="odf",
                apply_orientation=False,
            )
            self._by_member[name] = None if data is None else self._add(data)
        return self._by_member[name]

    def from_base64(self, untrusted_text: str, where: str) -> str | None:
        """An inline picture rebuilt, as base64 again; None when it cannot be."""
        try:
            untrusted_data = base64.b64decode(_WHITE_SPACE.sub("", untrusted_text), validate=True)
        except (binascii.Error, ValueError):
            self._tally.add("odf.unreadable_picture", f"{where} (not base64)", "dropped")
            return None
        data = rebuilt_picture(
            untrusted_data,
            f"{where} inline",
            self._limits,
            self._tally,
            family="odf",
            apply_orientation=False,
        )
        return None if data is None else base64.b64encode(data).decode("ascii")

    def _member(self, untrusted_href: str) -> str | None:
        """The member an in-package reference names, spelt exactly as in the package."""
        name = untrusted_href.removeprefix("./")
        if (
            self._package is None
            or not name
            or name.startswith("/")
            or any(sign in name for sign in ("\\", ":", "%", "?", "#"))
            or ".." in name.split("/")
        ):
            return None
        return name if self._package.lookup(name) == name else None

    def _add(self, data: bytes) -> str:
        kind, media_type = media_type_of(data)
        name = f"{PICTURES}{len(self.written) + 1:04d}.{_EXTENSIONS.get(kind, kind)}"
        self.written[name] = (data, media_type)
        return name


def media_type_of(data: bytes) -> tuple[str, str]:
    """(kind, media type) of a picture the image sanitiser wrote: a raster type or a metafile."""
    kind = picture_type(data)
    if kind in _RASTER_MEDIA_TYPES:
        return kind, _RASTER_MEDIA_TYPES[kind]
    offset, signature = _EMF_SIGNATURE
    if data[offset : offset + len(signature)] == signature:
        return "emf", "image/x-emf"
    return "wmf", "image/x-wmf"
