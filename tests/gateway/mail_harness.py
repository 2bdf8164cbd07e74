"""Mails for the relay's tests and benchmark, and what the journal says of them."""

from __future__ import annotations

import json
import smtplib
import sqlite3
import ssl
import time
from email.message import EmailMessage, Message
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from tests.gateway.daemon_harness import png_bytes
from tests.gateway.postfix_harness import free_port

LGWAN = "lgwan.example"
KINDS = ("plain", "html", "one_attachment", "three_attachments")


def smtp_table(relay_port: int, smart_host_port: int, **extra: object) -> str:
    """An [smtp] table relaying 127.0.0.1:relay_port → 127.0.0.1:smart_host_port for lgwan.example."""
    lines = [f'listen = "127.0.0.1:{relay_port}"', f'smart_host = "127.0.0.1:{smart_host_port}"',
             f'allowed_recipient_domains = ["{LGWAN}"]', 'notice_from = "postmaster@gateway.test"',
             "retry_min_seconds = 1", "retry_max_seconds = 2"]  # fmt: skip
    lines += [f"{key} = {json.dumps(value)}" for key, value in extra.items()]
    return "\n".join(lines) + "\n"


#: the relay's mail type, rebuilt by the mail sanitiser
EML_RULE = '[rules.eml]\nmethod = "rebuild"\n'


def mail(kind: str, token: str, recipients: list[str], sender: str = "sender@internet.test") -> EmailMessage:
    """A mail of ``kind`` whose subject and body carry ``token`` (to find it again on the other side)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Subject"] = f"お知らせ {token}"
    message["Message-ID"] = make_msgid(idstring=token, domain="internet.test")
    text = f"本文です。 {token}\n"
    if kind == "html":
        message.set_content(text)
        message.add_alternative(f"<html><body><p>本文です。 {token}</p></body></html>", subtype="html")
    else:
        message.set_content(text)
    attachments = {"one_attachment": 1, "three_attachments": 3}.get(kind, 0)
    for number in range(attachments):
        message.add_attachment(png_bytes((40 * number, 90, 200)), maintype="image", subtype="png",
                               filename=f"図{number + 1}.png")  # fmt: skip
    return message


def send(
    port: int, message: EmailMessage, recipients: list[str] | None = None
) -> dict[str, tuple[int, bytes]]:
    """Hand ``message`` to the SMTP server on 127.0.0.1:port; the refused recipients."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        return client.send_message(message, to_addrs=recipients)


def token_of(message: Message) -> str:
    return str(message["Subject"]).rsplit(" ", 1)[-1]


def is_notice(message: Message) -> bool:
    return message["X-Mukaika-Transfer-Id"] is not None


def body_text(message: Message) -> str:
    """The text of a single-part message (a notice) or of its first text part."""
    part = next((p for p in message.walk() if p.get_content_type() == "text/plain"), message)
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(part.get_content_charset() or "utf-8")


def mail_rows(spool: Path) -> list[dict[str, object]]:
    """Every mail row with its transfer's verdict, read-only (the daemon may be running)."""
    db = sqlite3.connect(f"{(spool / 'journal.sqlite').as_uri()}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    try:
        rows = db.execute(
            "SELECT mail.*, transfers.state AS verdict, transfers.reason_code FROM mail"
            " JOIN transfers ON transfers.id = mail.transfer_id ORDER BY received"
        ).fetchall()
    finally:
        db.close()
    return [dict(row) | {"recipients": json.loads(row["recipients"])} for row in rows]


class Sink:
    """An SMTP server on loopback standing in for the LGWAN-side mail server (aiosmtpd in a thread).

    ``answers`` maps a recipient to the replies its next RCPTs get ("451 4.2.0 busy", ...);
    once they are used up the recipient is accepted. Delivered mails are kept in ``received``.
    """

    def __init__(
        self, answers: dict[str, list[str]] | None = None, tls: tuple[Path, Path] | None = None
    ) -> None:
        """``tls``: a certificate and key; the sink then accepts mail only after STARTTLS."""
        from aiosmtpd.controller import Controller

        self.answers = {k: list(v) for k, v in (answers or {}).items()}
        self.received: list[tuple[str, list[str], bytes, float]] = []
        self.port = free_port()
        server: dict[str, Any] = {}
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*tls)
            server = {"tls_context": context, "require_starttls": True}
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, **server)

    async def handle_RCPT(self, server: object, session: object, envelope: Any, address: str,  # noqa: N802
                          rcpt_options: list[str]) -> str:  # fmt: skip
        pending = self.answers.get(address)
        if pending:
            return pending.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802
        self.received.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content, time.time())
        )
        return "250 2.0.0 Ok"

    def start(self) -> Sink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> Sink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
