"""The hyperlink objects of a Word document's ``Data`` stream, held to the links option.

Word keeps a second copy of every hyperlink's target beside the HYPERLINK field: an HFD
(MS-DOC 2.9.111: a byte of flags, the StdHlink CLSID, then a Hyperlink Object of
MS-OSHARED 2.3.7.1) at the place the field's anchor character points at.  Its target is
a moniker: a URL moniker holds a URL (MS-OSHARED 2.3.7.6, a length then a NUL-terminated
UTF-16 string), a file, item or composite moniker a path or a chain of them; a target
may also be saved as a plain string.  Word follows that copy, not the field code, so an
object whose target differs from its field would escape the field check.

Every Hyperlink Object in the stream is read, and the stream is searched for the
monikers themselves, wherever they lie (by their CLSIDs, in the byte order they are
stored in), so that none is missed because its object could not be found:

* a URL moniker, or a target saved as a string, is kept when ``sanitizers.links``
  keeps its target under the ``links`` option, as the HYPERLINK field check does;
* any other moniker (file, item, anti, composite, pointer, class, ... every COM moniker
  CLSID of the form 000003xx-0000-0000-C000-000000000046), and a Hyperlink Object that
  cannot be read, refuse the document (``ole.external_link``); the rule's next method
  (PDF化) applies the link policy instead.

A Hyperlink Object without a moniker (a jump to a bookmark: a location only) stays.
"""

from __future__ import annotations

import re
import uuid

from sanitizers.errors import PolicyError
from sanitizers.links import keep_link

#: StdHlink: the class an HFD names for its Hyperlink Object.
STD_HLINK = uuid.UUID("79eac9d0-baf9-11ce-8c82-00aa004ba90b")
URL_MONIKER = uuid.UUID("79eac9e0-baf9-11ce-8c82-00aa004ba90b")
_STREAM_VERSION = 2
_HAS_MONIKER, _HAS_LOCATION, _HAS_DISPLAY_NAME = 0x01, 0x08, 0x10
_HAS_GUID, _HAS_CREATION_TIME, _HAS_FRAME_NAME, _MONIKER_AS_STRING = 0x20, 0x40, 0x80, 0x100
#: COM's own monikers: file 0303, item 0304, anti 0305, pointer 0306, packager 0308,
#: composite 0309, class 031A, objref 0327, ... all 000003xx-0000-0000-C000-000000000046.
_COM_MONIKER = re.compile(re.escape(b"\x03\x00\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x46"))
_URL_MONIKER = re.compile(re.escape(URL_MONIKER.bytes_le))
_STD_HLINK = re.compile(re.escape(STD_HLINK.bytes_le))
_MAX_URL_BYTES = 0x10000


def _refused(why: str) -> PolicyError:
    return PolicyError("ole.external_link", why)


def check_hyperlink_objects(data: bytes, links: str) -> None:
    """Refuse a hyperlink target in ``data`` (a ``Data`` stream) that ``links`` does not
    keep, or one that cannot be read."""
    com_moniker = _COM_MONIKER.search(data)
    if com_moniker is not None:
        at = max(com_moniker.start() - 1, 0)
        raise _refused(f"a file, item or composite moniker at offset {at} of Data (a link to a file)")
    for match in _URL_MONIKER.finditer(data):
        _check_target(_url_at(data, match.end()), links)
    for match in _STD_HLINK.finditer(data):
        target = _hyperlink_object_target(data, match.end())
        if target is not None:
            _check_target(target, links)


def _check_target(untrusted_target: str, links: str) -> None:
    if not keep_link(untrusted_target, links):
        raise _refused("a hyperlink object in Data to a target the links option refuses")


def _u32(data: bytes, pos: int) -> int:
    if pos + 4 > len(data):
        raise _refused("a hyperlink object that runs past the end of Data")
    return int.from_bytes(data[pos : pos + 4], "little")


def _url_at(data: bytes, pos: int) -> str:
    """The URL of the URL moniker whose data starts at ``pos``: a byte length, then
    UTF-16 up to a NUL (a serial GUID, version and flags may follow within the length)."""
    length = _u32(data, pos)
    if length > _MAX_URL_BYTES or pos + 4 + length > len(data):
        raise _refused("a URL moniker longer than Data")
    body = data[pos + 4 : pos + 4 + length]
    text = body.decode("utf-16-le", errors="replace") if len(body) % 2 == 0 else "\ufffd"
    url, nul, _rest = text.partition("\x00")
    if not nul:
        raise _refused("a URL moniker whose URL does not end")
    return url


def _hyperlink_string(data: bytes, pos: int) -> tuple[str, int]:
    """A HyperlinkString (a count of UTF-16 units with the NUL, then the units) and its end."""
    units = _u32(data, pos)
    end = pos + 4 + 2 * units
    if units == 0 or end > len(data):
        raise _refused("a hyperlink string longer than Data")
    text = data[pos + 4 : end].decode("utf-16-le", errors="replace")
    return text.rstrip("\x00"), end


def _hyperlink_object_target(data: bytes, pos: int) -> str | None:
    """The target a Hyperlink Object at ``pos`` saved as a string, None when it has none
    or a moniker (the moniker search judges those)."""
    version, flags = _u32(data, pos), _u32(data, pos + 4)
    if version != _STREAM_VERSION:
        raise _refused(f"a hyperlink object of version {version}")
    pos += 8
    for present in (_HAS_DISPLAY_NAME, _HAS_FRAME_NAME):
        if flags & present:
            _text, pos = _hyperlink_string(data, pos)
    if not flags & _HAS_MONIKER:
        return None
    if flags & _MONIKER_AS_STRING:
        target, _end = _hyperlink_string(data, pos)
        return target
    if data[pos : pos + 16] != URL_MONIKER.bytes_le:
        raise _refused(f"a hyperlink object whose moniker is {_printable_clsid(data[pos : pos + 16])}")
    return None


def _printable_clsid(raw: bytes) -> str:
    return str(uuid.UUID(bytes_le=raw)) if len(raw) == 16 else "cut short"
