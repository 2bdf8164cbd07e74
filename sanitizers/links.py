"""The one link policy: which hyperlink targets survive a rebuild, in every format.

``links = "keep-web"`` keeps absolute http, https and mailto targets that a reader would open
as such; ``links = "remove"`` keeps none. Everything else (``file:``, UNC paths, relative
targets that resolve against the share a document is opened from, ``javascript:`` and every
other scheme) is dropped. Every sanitiser asks ``keep_link``; none decides on its own.

Readers normalise a target before they follow it (a browser drops tabs and newlines anywhere,
reads ``\\`` as ``/``, lower-cases the scheme, maps full-width characters in the host), so the
target is judged as the reader will see it, and every spelling whose meaning depends on such a
normalisation is dropped rather than repaired:

- any control character (C0, DEL, C1), Unicode format character (bidi overrides, zero-width
  characters, the soft hyphen) or line separator, anywhere; white space anywhere but inside
  the path, query or fragment (so a target with leading space is dropped);
- any backslash (``http:\\\\host`` is ``http://host`` to a browser, ``\\\\host\\share`` is UNC);
- a scheme not spelled plainly (``%68ttp:`` is a relative target) or not on the allow-list;
- for http and https: anything but ``scheme://host[:port]`` followed by ``/``, ``?``, ``#`` or
  nothing. No empty host (``http:///x`` is ``http://x`` to a browser), no user information
  (``https://city.lg.jp@evil.example/``), no host that a URL parser rejects or rewrites
  (percent signs, forbidden characters, numbers in the hex, octal or one-number forms of
  IPv4, ``[`` without a valid IPv6 address), and no internationalised host that is not valid
  IDNA or that mixes scripts cheaply detectable as spoofing (see ``_is_valid_host``);
- for mailto: any parameter but ``subject``, ``body``, ``cc``, ``bcc`` and ``to`` (``attach``,
  ``attachment`` and their spellings ``%61ttach``, ``;attach``, ``&attach`` make mail clients
  attach local files), and control characters in a decoded header (header injection).

Fragment-only targets (``#top``) point inside the document where the format gives them that
meaning (HTML); the caller says so with ``fragments=True``.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from urllib.parse import unquote

import idna

KEEP_WEB = "keep-web"
REMOVE = "remove"
CHOICES = (KEEP_WEB, REMOVE)
WEB_SCHEMES = frozenset({"http", "https", "mailto"})

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
#: Unicode categories never allowed in a kept target: controls, format characters, separators.
_DENIED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
#: Characters a WHATWG host parser rejects in a domain (plus ``%``, which it would decode).
_FORBIDDEN_HOST = frozenset(" \t\n\r#%/:<>?@[\\]^|\"'`{}")
_ASCII_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_\-]{0,61}[a-z0-9_])?")
_DOTTED_QUAD = re.compile(
    r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}"
)
_NUMERIC_LABEL = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)")
_MAILTO_HEADERS = frozenset({"subject", "body", "cc", "bcc", "to"})
_ATTACHMENT = re.compile(r"[?&;]\s*attach", re.IGNORECASE)
#: Scripts that Japanese, Chinese and Korean domain names mix with Latin letters.
_CJK_SCRIPTS = frozenset({"LATIN", "CJK", "HIRAGANA", "KATAKANA", "HANGUL", "BOPOMOFO"})
#: Cyrillic letters that look like Latin ones (a e o p c y x i j s h l d q w y v): a label made
#: only of them spoofs a Latin name. Escaped, since on screen they are the Latin letters.
_CYRILLIC_LOOKALIKES = frozenset(
    "\u0430\u0435\u043e\u0440\u0441\u0443\u0445\u0456\u0458\u0455\u04bb\u04cf\u0501\u051b\u051d\u04af\u0475"
)


def url_scheme(value: str) -> str | None:
    """The scheme a browser would see (lower case), after it drops white space and controls.

    For telling a ``javascript:`` or ``data:`` URL apart, not for keeping one: ``keep_link``
    decides what survives.
    """
    compact = "".join(ch for ch in value if not ch.isspace() and unicodedata.category(ch) != "Cc")
    match = _SCHEME.match(compact)
    return match.group(1).lower() if match else None


def is_web_link(untrusted_target: str, *, fragments: bool = False) -> bool:
    """True for an http, https or mailto target that every reader opens as just that.

    ``fragments``: whether a fragment-only target (``#top``) points inside the document.
    """
    if "\\" in untrusted_target or any(_denied(ch) for ch in untrusted_target):
        return False
    if fragments and untrusted_target.startswith("#"):
        return not any(ch.isspace() for ch in untrusted_target)
    match = _SCHEME.match(untrusted_target)
    if match is None:
        return False  # relative: resolved against the share the document is opened from
    scheme, rest = match.group(1).lower(), untrusted_target[match.end() :]
    if scheme == "mailto":
        return _is_plain_mailto(rest)
    return scheme in WEB_SCHEMES and _is_plain_web(rest)


def keep_link(untrusted_target: str, links: str, *, fragments: bool = False) -> bool:
    """Whether a link to ``untrusted_target`` stays under the ``links`` option."""
    return links == KEEP_WEB and is_web_link(untrusted_target, fragments=fragments)


def _denied(ch: str) -> bool:
    return unicodedata.category(ch) in _DENIED_CATEGORIES


def _is_plain_web(rest: str) -> bool:
    """``//host[:port]`` then a path, query or fragment, or nothing."""
    if not rest.startswith("//"):
        return False  # http:host and http:/host are spellings a browser repairs
    authority = re.split(r"[/?#]", rest[2:], maxsplit=1)[0]
    if not authority or any(ch.isspace() for ch in authority) or "@" in authority:
        return False
    host, port = authority, ""
    if not authority.startswith("["):
        host, _, port = authority.partition(":")
    elif "]:" in authority:
        host, port = authority.split("]:", 1)
        host += "]"
    if port and not (port.isascii() and port.isdigit() and int(port) <= 65535):
        return False
    return _is_valid_host(host)


def _is_valid_host(host: str) -> bool:
    """A host every URL parser reads the same way, with no cheap-to-detect spoofing.

    Internationalised names are kept when valid under UTS #46 / IDNA 2008 (what browsers
    apply), after the mapping browsers do (full-width letters, ``。`` for ``.``). Dropped:
    a label mixing Cyrillic or Greek with another script (``pаypal`` with a Cyrillic ``а``),
    a label mixing Latin with scripts other than Han, kana, Hangul or Bopomofo, and an
    all-Cyrillic label made only of Latin look-alikes under a non-Cyrillic top-level domain.
    Whole-script confusables beyond that need a confusables table and are not detected.
    """
    if host.startswith("["):
        if not host.endswith("]"):
            return False
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
        return "%" not in host  # a zone id is not allowed in a URL
    if any(ch in _FORBIDDEN_HOST for ch in host):
        return False
    try:
        mapped = idna.uts46_remap(host, std3_rules=False, transitional=False)
    except (idna.IDNAError, UnicodeError):
        return False
    if any(ch in _FORBIDDEN_HOST or _denied(ch) for ch in mapped):
        return False
    labels = mapped.lower().split(".")
    if labels[-1] == "":
        labels.pop()  # one trailing dot: the root
    if not labels or "" in labels or len(mapped) > 253:
        return False
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        return bool(_DOTTED_QUAD.fullmatch(".".join(labels)))  # only IPv4 as everyone writes it
    unicode_labels: list[str] = []
    for label in labels:
        if label.isascii() and not label.startswith("xn--"):
            if not _ASCII_LABEL.fullmatch(label):
                return False
            unicode_labels.append(label)
            continue
        try:
            unicode_labels.append(idna.decode(idna.encode(label, uts46=False)))
        except (idna.IDNAError, UnicodeError):
            return False
    return not any(_spoofs(label, unicode_labels[-1]) for label in unicode_labels)


def _spoofs(label: str, tld: str) -> bool:
    scripts = {_script(ch) for ch in label if unicodedata.category(ch).startswith("L")}
    if len(scripts) > 1 and (scripts & {"CYRILLIC", "GREEK"} or not scripts <= _CJK_SCRIPTS):
        return True
    tld_scripts = {_script(ch) for ch in tld if unicodedata.category(ch).startswith("L")}
    return (
        scripts == {"CYRILLIC"}
        and "CYRILLIC" not in tld_scripts
        and all(ch in _CYRILLIC_LOOKALIKES for ch in label if not ch.isdigit() and ch != "-")
    )


def _script(letter: str) -> str:
    """The script of a letter, from its Unicode name (enough for the mixes checked here)."""
    first = unicodedata.name(letter, "UNKNOWN").split()[0]
    if first.startswith("KATAKANA"):
        return "KATAKANA"
    return "CJK" if first == "IDEOGRAPHIC" else first


def _is_plain_mailto(rest: str) -> bool:
    """Addresses, then only the harmless header fields, each decoded the way clients do."""
    address, _, query = rest.partition("?")
    if any(_denied(ch) for ch in unquote(address)):
        return False
    for field in re.split(r"[&;]", query) if query else ():
        if not field:
            continue
        raw_name, _, raw_value = field.partition("=")
        name = unquote(raw_name).strip().lower()
        if name not in _MAILTO_HEADERS:
            return False  # attach, attachment, %61ttach, and every header we do not know
        if name != "body" and any(_denied(ch) for ch in unquote(raw_value)):
            return False  # a CR LF in a header writes another header
    decoded = _fully_decoded(rest)
    return decoded is not None and not _ATTACHMENT.search(decoded)


def _fully_decoded(text: str) -> str | None:
    """Percent-decoded until stable (a client that decodes twice must find nothing either);
    None when four rounds do not settle it, which no honest target needs."""
    for _ in range(4):
        decoded = unquote(text)
        if decoded == text:
            return text
        text = decoded
    return None
