"""Which actions and links survive a rebuild.

An action is kept only when its type is on the allow-list and its target is harmless:
internal GoTo, page-turning Named actions, optional-content toggles, and (with
``links = "keep-web"``) URI actions to http, https or mailto.
"""

from __future__ import annotations

import pikepdf

from sanitizers.pdf.values import name_of
from sanitizers.pdf.vocabulary import (
    ALLOWED_ACTIONS,
    ALLOWED_NAMED_ACTIONS,
    REMOVED_ACTIONS,
    WEB_URI_PREFIXES,
)


def is_web_uri(untrusted_uri: object) -> bool:
    """True for an http, https or mailto URI without control characters or attachments.

    Readers strip or interpret control characters in surprising ways, so any of them
    disqualifies the link; ``mailto:?attach=`` makes some mail clients attach local files.
    """
    if not isinstance(untrusted_uri, pikepdf.String):
        return False
    raw = bytes(untrusted_uri)
    if any(byte < 0x20 or byte == 0x7F for byte in raw):
        return False
    lowered = raw.lower()
    if lowered.startswith(b"mailto:") and b"attach" in lowered:
        return False
    return lowered.startswith(WEB_URI_PREFIXES)


def action_construct(action: pikepdf.Object, keep_web_links: bool) -> str | None:
    """None when the action may stay, else the construct it is removed as."""
    kind = name_of(action.get("/S"))
    if kind not in ALLOWED_ACTIONS:
        return REMOVED_ACTIONS.get(kind or "", "pdf.action")
    if kind == "/URI" and not (keep_web_links and is_web_uri(action.get("/URI"))):
        return "pdf.uri"
    if kind == "/Named" and name_of(action.get("/N")) not in ALLOWED_NAMED_ACTIONS:
        return "pdf.named_action"
    return None
