"""The one link policy: which hyperlink targets survive a rebuild, in every format.

``links = "keep-web"`` keeps absolute http, https and mailto targets that a reader would open
as such; ``links = "remove"`` keeps none. Everything else (``file:``, UNC paths, relative
targets that resolve against the share a document is opened from, ``javascript:`` and every
other scheme) is dropped. Every sanitiser asks ``keep_link``; none decides on its own.
"""

from __future__ import annotations

KEEP_WEB = "keep-web"
REMOVE = "remove"
CHOICES = (KEEP_WEB, REMOVE)
WEB_PREFIXES = ("http://", "https://", "mailto:")


def is_web_link(untrusted_target: str) -> bool:
    """True for an http, https or mailto target without control characters or attachments.

    Readers strip or interpret control characters in surprising ways, so any of them
    disqualifies the link; ``mailto:?attach=`` makes some mail clients attach local files.
    """
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in untrusted_target):
        return False
    lowered = untrusted_target.lower()
    if lowered.startswith("mailto:") and "attach" in lowered:
        return False
    return lowered.startswith(WEB_PREFIXES)


def keep_link(untrusted_target: str, links: str) -> bool:
    """Whether a link to ``untrusted_target`` stays under the ``links`` option."""
    return links == KEEP_WEB and is_web_link(untrusted_target)
