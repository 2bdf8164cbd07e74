"""Links written out in a message's text, which mail clients turn into live links themselves.

The ``links`` option of mail: ``keep-web`` keeps what ``sanitizers.links.keep_link`` keeps
(the one link policy) and makes every other target inert; ``inert`` (the default) makes every
target inert, still readable (``hxxps://example.jp/``, ``javascript[:]``, ``www[.]``,
``[\\\\]server\\share``); ``remove`` replaces each with a marker. What counts as live is
what clients link: any ``scheme://``, the schemes that need no slashes (``mailto:``,
``javascript:``, ``file:``, ``ms-*:`` handlers ...), ``www.`` and UNC paths. The verifier
reads text with the same ``live_links``, so what the rebuild leaves is exactly what it checks.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from sanitizers.links import KEEP_WEB, REMOVE, is_web_link

INERT = "inert"
CHOICES = (INERT, KEEP_WEB, REMOVE)
REMOVED_MARKER = "[URL削除 / URL removed]"

#: Defanged spellings of ours that look like a scheme followed by "://".
_INERT_SCHEMES = frozenset({"hxxp", "hxxps", "fxp"})
_LIVE = re.compile(
    r"(?P<scheme>\b[a-z][a-z0-9+.\-]{0,30})(?=://)"
    r"|\b(?P<bare>javascript|vbscript|livescript|data|file|mailto|news|nntp|snews|tel|callto|sip|sips|im"
    r"|search-ms|search|ms-[a-z0-9\-]{1,40}|outlook|onenote|skype|webcal|feed|jar|view-source)(?=\s*:)"
    r"|\b(?P<www>www)(?=\.)"
    r"|(?P<unc>\\\\)(?=[\w.\-$])",
    re.IGNORECASE,
)
#: Where a written-out target ends, as clients see it: white space, quotes, angle brackets
#: and the first character outside ASCII (Japanese text often follows a URL directly).
_TARGET = re.compile(r"[!-~]*")
_TARGET_STOP = re.compile(r"[<>\"'`]")


@dataclass(frozen=True)
class Link:
    start: int
    end: int  # end of the whole target
    prefix_end: int  # end of what makes it live ("https", "javascript :", "www", the backslashes)
    kind: str  # "scheme", "bare", "www" or "unc"
    scheme: str

    def target(self, text: str) -> str:
        return text[self.start : self.end]


def live_links(text: str) -> list[Link]:
    """Every target in ``text`` that a mail client would make into a link (a target may
    name another inside it; both are listed)."""
    found: list[Link] = []
    for match in _LIVE.finditer(text):
        kind = match.lastgroup or ""
        scheme = match.group(kind).lower()
        if kind == "scheme" and scheme in _INERT_SCHEMES:
            continue
        prefix_end = match.end()
        if kind == "bare":
            prefix_end = text.index(":", prefix_end)
        tail = _TARGET.match(text, prefix_end)
        end = tail.end() if tail else prefix_end
        stop = _TARGET_STOP.search(text, prefix_end, end)
        found.append(Link(match.start(), stop.start() if stop else end, prefix_end, kind, scheme))
    return found


def is_kept(link: Link, text: str) -> bool:
    """Whether ``keep-web`` keeps this target live: what the one link policy keeps."""
    target = link.target(text)
    if link.kind == "www":
        return is_web_link(f"http://{target}")
    if link.kind == "scheme" or (link.kind == "bare" and link.scheme == "mailto"):
        return is_web_link(target)
    return False


def _defanged(link: Link, text: str) -> tuple[str, int]:
    """What replaces the live part of ``link``, and where the text goes on unchanged (a
    target named inside it is met next, and made inert in its turn)."""
    head = text[link.start : link.prefix_end]
    if link.kind == "scheme":
        renamed = {"http": "hxxp", "https": "hxxps", "ftp": "fxp"}.get(link.scheme)
        return (renamed, link.prefix_end) if renamed else (f"{head}[:]", link.prefix_end + 1)
    if link.kind == "bare":
        return f"{head}[:]", link.prefix_end + 1
    if link.kind == "www":
        return f"{head}[.]", link.prefix_end + 1
    return "[\\\\]", link.prefix_end


def treat_links(text: str, links: str) -> tuple[str, Counter[str]]:
    """``text`` with its live targets treated as the ``links`` option says, and counts by
    action (``kept``, ``neutralised``, ``removed``)."""
    counts: Counter[str] = Counter()
    out: list[str] = []
    pos = 0
    for link in live_links(text):
        if link.start < pos:
            continue  # inside a target kept or removed whole
        out.append(text[pos : link.start])
        if links == KEEP_WEB and is_kept(link, text):
            out.append(link.target(text))
            counts["kept"] += 1
            pos = link.end
        elif links == REMOVE:
            out.append(REMOVED_MARKER)
            counts["removed"] += 1
            pos = link.end
        else:
            replacement, pos = _defanged(link, text)
            out.append(replacement)
            counts["neutralised"] += 1
    out.append(text[pos:])
    return "".join(out), counts


def untreated_links(text: str, links: str) -> list[str]:
    """The targets in ``text`` that the ``links`` option does not allow to stay live."""
    untreated: list[str] = []
    kept_until = 0
    for link in live_links(text):
        if link.start < kept_until:
            continue
        if links == KEEP_WEB and is_kept(link, text):
            kept_until = link.end
        else:
            untreated.append(link.target(text)[:80])
    return untreated
