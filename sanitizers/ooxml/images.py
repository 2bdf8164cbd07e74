"""Image parts are rebuilt, never copied: raster pictures from their decoded pixels by the
image sanitiser, Windows metafiles record by record.

A picture can carry more than pixels: data after its end (an appended archive or
executable), metadata, a second format's structure (a polyglot), or a different file
altogether under an image content type.  Only what the rebuild writes reaches the output.
A picture that cannot be rebuilt (damaged, over the image limits, or a kind nothing here
decodes, such as JPEG XR) is dropped and reported; the references to it are then treated
like those to any other dropped part.
"""

from __future__ import annotations

from sanitizers.base import Limits
from sanitizers.errors import SanitizeError
from sanitizers.images.metafile import is_metafile, rebuild_metafile
from sanitizers.images.rebuild import picture_type, reencode_picture
from sanitizers.ooxml.findings import Tally


def rebuilt_picture(
    untrusted_data: bytes,
    name: str,
    limits: Limits,
    tally: Tally,
    *,
    family: str = "ooxml",
    apply_orientation: bool = True,
) -> bytes | None:
    """The picture part ``name`` written anew, or None when it cannot be (then reported as a
    construct of ``family``).  ``apply_orientation`` as for ``reencode_picture``."""
    try:
        if picture_type(untrusted_data) is not None:
            data, report = reencode_picture(untrusted_data, limits, apply_orientation=apply_orientation)
            for finding in report.findings:
                if finding.action != "kept":
                    tally.add(finding.construct, name, finding.action, finding.count)
            return data
        if is_metafile(untrusted_data):
            metafile = rebuild_metafile(untrusted_data)
            for construct, count in metafile.removed.items():
                tally.add(construct, name, count=count)
            return metafile.data
    except SanitizeError as refusal:
        tally.add(f"{family}.unreadable_picture", f"{name} ({refusal.code})", "dropped")
        return None
    tally.add(f"{family}.not_an_image", name)
    return None
