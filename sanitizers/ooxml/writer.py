"""The new package's ZIP, in the order Office and libmagic expect.

``[Content_Types].xml`` first and the main part right after the package relationships:
libmagic tells Word, Excel and PowerPoint apart by the first few member names, and the
pipeline re-detects every output.
"""

from __future__ import annotations

import io
import zipfile

#: A fixed timestamp: the output should not tell when it was sanitised.
_TIMESTAMP = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644 << 16
_UNIX = 3


def package_bytes(members: list[tuple[str, bytes, bool]]) -> bytes:
    """A ZIP of (name, data, compress) members, in the given order."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data, compress in members:
            info = zipfile.ZipInfo(name, date_time=_TIMESTAMP)
            info.create_system = _UNIX
            info.external_attr = _FILE_MODE
            # images are compressed already; deflating them again only costs time
            info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
            archive.writestr(info, data)
    return buffer.getvalue()
