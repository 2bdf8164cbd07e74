"""Text and HTML parts: decoded in the charset the message gives them, cleaned, links treated.

Plain text keeps its characters, without control characters, each line end CRLF. HTML is
either reduced to its text (``html = "text"``, the テキスト化 of ``sanitizers.html`` with
lists marked and link targets written out) or rebuilt by the HTML rebuild's allow-list
(``html = "sanitise"``), in which links stay only where ``links = "keep-web"`` keeps them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from email.message import Message

from sanitizers.errors import EncryptedError
from sanitizers.html import decode_html, rebuild_page
from sanitizers.links import KEEP_WEB
from sanitizers.mail.charsets import decode_labelled
from sanitizers.mail.headers import structured
from sanitizers.mail.structure import payload_bytes
from sanitizers.text import is_removed_control

_PGP_MESSAGE = "-----BEGIN PGP MESSAGE-----"


@dataclass(frozen=True)
class DecodedPart:
    text: str
    codec: str
    repaired: bool  # bytes no charset reads strictly, read with replacement characters


def _charset(part: Message) -> str | None:
    raw = next((v for n, v in part.raw_items() if n.lower() == "content-type"), "")
    return structured(raw).get("charset")


def decoded_text(part: Message) -> DecodedPart:
    """A text part's characters, by its charset (Japanese supersets, then the ladder)."""
    raw = payload_bytes(part)
    found = decode_labelled(raw, _charset(part))
    if found is None:
        return DecodedPart(raw.decode("utf-8", errors="replace"), "utf-8", True)
    return DecodedPart(found[0].removeprefix("\ufeff"), found[1], False)


def clean_text(text: str) -> tuple[str, int]:
    """(text without control characters, line ends as LF; how many controls went).
    Refuses an inline PGP message: its content cannot be inspected."""
    if _PGP_MESSAGE in text:
        raise EncryptedError("mail.encrypted", "an inline PGP message")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    kept = "".join(ch for ch in text if not is_removed_control(ch))
    return kept, len(text) - len(kept)


def decoded_html(part: Message) -> DecodedPart:
    """An HTML part's characters: the message's charset first, then the page's own."""
    raw = payload_bytes(part)
    label = _charset(part)
    if label:
        found = decode_labelled(raw, label)
        if found is not None:
            return DecodedPart(found[0].removeprefix("\ufeff"), found[1], False)
    try:
        decoded = decode_html(raw)
    except Exception:  # any refusal of the ladder: read what can be read
        return DecodedPart(raw.decode("utf-8", errors="replace"), "utf-8", True)
    return DecodedPart(decoded.text, decoded.codec, False)


def html_options(links: str) -> dict[str, str | bool]:
    """The HTML rebuild's options a mail's HTML is rebuilt under and held to: links only
    where ``keep-web`` keeps them, no remote or embedded images (tracking pixels)."""
    return {"links": KEEP_WEB if links == KEEP_WEB else "remove", "allow_data_images": False,
            "external_resources": "remove"}  # fmt: skip


def html_rebuilt(page: str, links: str) -> tuple[str, Counter[str]]:
    return rebuild_page(page, html_options(links))
