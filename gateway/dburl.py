"""Journal targets as the config writes them: a PostgreSQL URL told apart from a file path,
and shown without its password wherever it is printed or logged."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
_PASSWORD_PARAMETER = re.compile(r"(?i)(^|&)(password=)[^&]*")


def is_postgres_url(target: object) -> bool:
    return isinstance(target, str) and target.lower().startswith(POSTGRES_SCHEMES)


def redact_url(url: str) -> str:
    """``url`` with any password (in the user part or a ``password=`` parameter) shown as ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not even a URL: show nothing of it past the scheme
        return url.split("://", 1)[0] + "://***"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user, colon, _ = userinfo.partition(":")
        netloc = f"{user}{':***' if colon else ''}@{host}"
    query = _PASSWORD_PARAMETER.sub(r"\1\2***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def hide_password(text: str, url: str) -> str:
    """``text`` (a message about ``url``, e.g. libpq's) with the URL's password shown as ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return text
    passwords = [parts.password or ""]
    passwords += [value for key, value in parse_qsl(parts.query) if key.lower() == "password"]
    for secret in sorted({*passwords, *map(unquote, passwords)} - {""}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
