"""The notice a recipient gets instead of a mail that could not be made safe (Japanese, then English).

Written by the daemon from what it knows itself (the envelope, the journal's reason code and
transfer id, the detail as staff may read it); of the refused message it repeats only the
subject, already cut to one clean line.
Sent with the null sender, as delivery notices are, so that no reply or bounce loops back.
"""

from __future__ import annotations

import email.utils
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP

from gateway.journal import Transfer
from gateway.reasons import staff_reason
from gateway.smtp.queue import QueuedMail

_RELEASE_JA = (
    "原本が必要な場合は、転送IDを添えて運用担当者に依頼してください。管理画面で依頼と別の担当者の承認を経て"
    "提供されます。"
)
_RELEASE_EN = (
    "If you need the original, ask an operator with the transfer id: it is released through the console"
    " once a second person approves the request."
)


def refusal_notice(mail: QueuedMail, transfer: Transfer, *, sender: str, hostname: str) -> bytes:
    reason = staff_reason(transfer.reason_code, transfer.reason_message)
    text = reason.text
    received = datetime.fromtimestamp(mail.received).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
    body = "\n".join([
        "次のメールは無害化できなかったため、配送されませんでした。",
        "The following mail was not delivered because it could not be made safe.",
        "",
        f"差出人 / From:            {mail.mail_from or '<>'}",
        f"件名 / Subject:           {mail.subject}",
        f"受信日時 / Received:      {received}",
        f"転送ID / Transfer id:     {transfer.id}",
        f"理由コード / Reason code: {reason.code}",
        "",
        f"理由: {text.ja}",
        f"Reason: {text.en}",
        "",
        f"詳細 / Detail: {reason.detail}",
        "",
        f"対処: {text.advice_ja}",
        f"What to do: {text.advice_en}",
        "",
        _RELEASE_JA,
        _RELEASE_EN,
        "",
    ])  # fmt: skip
    notice = EmailMessage(policy=SMTP)
    notice["From"] = sender
    notice["To"] = ", ".join(r.address for r in mail.recipients)
    notice["Subject"] = f"[無害化] 配送できなかったメール / Mail not delivered: {mail.subject}"[:300]
    notice["Date"] = email.utils.formatdate(localtime=True)
    notice["Message-ID"] = email.utils.make_msgid(idstring=transfer.id, domain=hostname)
    notice["Auto-Submitted"] = "auto-generated"
    notice["X-Mukaika-Transfer-Id"] = transfer.id
    notice.set_content(body, charset="utf-8")
    return notice.as_bytes()
