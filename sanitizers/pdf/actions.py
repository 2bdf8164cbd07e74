"""Which actions and links survive a rebuild.

An action is kept only when its type is on the allow-list and its target is harmless:
internal GoTo, page-turning Named actions, optional-content toggles, and (with
``links = "keep-web"``) URI actions to http, https or mailto.
"""

from __future__ import annotations

import pikepdf

from sanitizers.links import is_web_link
from sanitizers.pdf.values import name_of
from sanitizers.pdf.vocabulary import ALLOWED_ACTIONS, ALLOWED_NAMED_ACTIONS, REMOVED_ACTIONS


def is_web_uri(untrusted_uri: object) -> bool:
    """True for a URI string the link policy (sanitizers.links) keeps as a web link.

    The bytes are read as Latin-1, one character each, so that no byte can hide from the
    policy's checks behind a decoding error or a multi-byte sequence.
    """
    if not isinstance(untrusted_uri, pikepdf.String):
        return False
    return is_web_link(bytes(untrusted_uri).decode("latin-1"))


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
