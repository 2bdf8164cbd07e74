"""Which hyperlink targets ``links = "keep-web"`` keeps: the PDF rebuild's rule, reused.

Staff configure one meaning of ``links`` for every format, so the scheme list and the
refusal of control characters and ``mailto:?attach=`` come from the PDF sanitiser.
"""

from __future__ import annotations

import pikepdf

from sanitizers.pdf.actions import is_web_uri


def is_web_link(untrusted_target: str) -> bool:
    """True for an http, https or mailto target that a reader would open as such."""
    return is_web_uri(pikepdf.String(untrusted_target.encode("utf-8")))
