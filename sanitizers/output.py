"""Writing an output so that ``dst`` appears complete or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(dst: Path, data: bytes) -> None:
    """Write ``data`` to a temporary name beside ``dst``, then rename it to ``dst``.

    On any failure the temporary file is removed and ``dst`` does not exist, as the
    sanitiser contract requires.
    """
    fd, name = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".part", dir=dst.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        tmp.replace(dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        dst.unlink(missing_ok=True)
        raise
