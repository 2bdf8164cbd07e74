"""What staff read in a rebuilt message about what was taken out of it, in Japanese and English.

Two texts: the notice at the top of the body, listing everything removed, and the short
part that stands where a removed attachment was. Both name the reason from the catalogue
(``sanitizers.errors.REASONS``), as the list of removed members of an archive does.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sanitizers.errors import REASONS

_RULE = "-" * 60


@dataclass(frozen=True)
class Removal:
    """One thing the rebuild took out: an attachment (by name), or a kind of content."""

    kind: str  # "attachment", "inline_image", "signature", "part"
    name: str = ""
    code: str = ""
    detail: str = ""


def _printable(text: str, limit: int) -> str:
    return "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf"))[:limit]


def _what(removal: Removal) -> tuple[str, str]:
    name = _printable(removal.name, 200)
    if removal.kind == "attachment":
        return f"添付ファイル「{name}」", f'Attachment "{name}"'
    if removal.kind == "inline_image":
        return f"本文中の画像「{name}」", f'Inline image "{name}"'
    if removal.kind == "signature":
        return "電子署名（S/MIME・PGP）", "Digital signature (S/MIME, PGP)"
    return f"本文の別形式（{name}）", f"Alternative body ({name})"


def _reason_lines(removal: Removal) -> list[str]:
    reason = REASONS.get(removal.code)
    if reason is None:
        return []
    return [f"  理由: {reason.ja}", f"  Reason: {reason.en}"]


def top_notice(removed: list[Removal]) -> str:
    """The notice that opens the body when anything was removed ("" when nothing was)."""
    if not removed:
        return ""
    lines = [
        _RULE,
        "このメールは無害化されました。次のものを取り除きました。",
        "This message was sanitised. The following were removed:",
    ]
    for removal in removed:
        ja, en = _what(removal)
        lines += [f"・{ja} / {en}", *_reason_lines(removal)]
    lines += [_RULE, "", ""]
    return "\n".join(lines)


def removal_note(removal: Removal) -> str:
    """The text part that stands where a removed attachment was."""
    ja, en = _what(removal)
    if removal.code == "mail.attachment_removed":
        lines = [f"{ja}は、設定により取り除きました。", f"{en} was removed by the configuration."]
    else:
        lines = [
            f"{ja}は無害化できなかったため、取り除きました。",
            f"{en} could not be sanitised and was removed.",
        ]
    lines += _reason_lines(removal)
    if removal.code:
        lines.append(f"  ({removal.code}: {_printable(removal.detail, 300)})")
    return "\n".join(lines) + "\n"
