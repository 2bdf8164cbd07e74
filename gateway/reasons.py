"""Reason files: what staff read in rejected/ when a file was refused.

Japanese first, English alongside; UTF-8 with a BOM and CRLF line ends so that every
Windows editor shows it correctly.
"""

from __future__ import annotations

from datetime import datetime

from sanitizers.errors import REASONS, ReasonText

_FALLBACK = REASONS["sanitizer.crash"]


def reason_text(*, name: str, transfer_id: str, code: str, detail: str, when: datetime | None = None) -> str:
    text: ReasonText = REASONS.get(code, _FALLBACK)
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
        f"理由: {text.ja}",
        f"Reason: {text.en}",
        "",
        f"詳細 / Detail: {detail}",
        "",
        f"対処: {text.advice_ja}",
        f"What to do: {text.advice_en}",
        "",
    ]
    return "\r\n".join(lines)


def reason_bytes(*, name: str, transfer_id: str, code: str, detail: str) -> bytes:
    text = reason_text(name=name, transfer_id=transfer_id, code=code, detail=detail)
    return b"\xef\xbb\xbf" + text.encode("utf-8", "replace")  # names may carry undecodable bytes
