"""What staff read about a refusal: reason files in rejected/, and the same texts in the console
and in the notices of the mail relay.

Japanese first, English alongside; UTF-8 with a BOM and CRLF line ends so that every
Windows editor shows it correctly. The technical detail is written as ``staff_detail`` makes
it (no server paths, spool names or library internals); the journal and the canonical log
line keep it whole for operators.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sanitizers.details import staff_detail
from sanitizers.errors import REASONS, ReasonText

FALLBACK_CODE = "sanitizer.crash"


@dataclass(frozen=True)
class StaffReason:
    """A refusal as staff see it: its code, the catalogue's texts and the scrubbed detail."""

    code: str
    text: ReasonText
    detail: str

    def message(self, lang: str) -> str:
        return self.text.en if lang == "en" else self.text.ja

    def advice(self, lang: str) -> str:
        return self.text.advice_en if lang == "en" else self.text.advice_ja


def staff_reason(code: str | None, detail: str | None) -> StaffReason:
    """The texts for ``code`` (an unknown or missing code reads as a crash) and ``detail``."""
    known = code if code in REASONS else FALLBACK_CODE
    return StaffReason(code or FALLBACK_CODE, REASONS[known], staff_detail(detail))


def reason_text(*, name: str, transfer_id: str, code: str, detail: str, when: datetime | None = None) -> str:
    reason = staff_reason(code, detail)
    stamp = (when or datetime.now().astimezone()).strftime("%Y-%m-%d %H:%M:%S %Z")
    lines = [
        "このファイルは無害化できなかったため、送信されませんでした。",
        "This file was not released because it could not be made safe.",
        "",
        f"ファイル名 / File:        {name}",
        f"転送ID / Transfer id:     {transfer_id}",
        f"日時 / Time:              {stamp}",
        f"理由コード / Reason code: {code}",
        "",
        f"理由: {reason.text.ja}",
        f"Reason: {reason.text.en}",
        "",
        f"詳細 / Detail: {reason.detail}",
        "",
        f"対処: {reason.text.advice_ja}",
        f"What to do: {reason.text.advice_en}",
        "",
    ]
    return "\r\n".join(lines)


def reason_bytes(*, name: str, transfer_id: str, code: str, detail: str) -> bytes:
    text = reason_text(name=name, transfer_id=transfer_id, code=code, detail=detail)
    return b"\xef\xbb\xbf" + text.encode("utf-8", "replace")  # names may carry undecodable bytes
