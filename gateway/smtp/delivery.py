"""Delivery to the LGWAN-side mail server (the smart host) with aiosmtplib.

One attempt is one SMTP transaction for the recipients still open; each recipient's answer is
kept: 2xx delivered, 4xx (or no answer) deferred and tried again with back-off, 5xx failed.
The results are committed after every attempt, so a restart resumes with the recipients left.

A mail is sent at least once: the smart host's 250 and our commit cannot be one step (RFC 1047's
window), so a crash in the instant between them sends that mail again at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import aiosmtplib
import structlog

from gateway.config import SmtpSettings
from gateway.journal import JournalError, Transfer
from gateway.smtp.metrics import MAIL_METRICS
from gateway.smtp.notices import refusal_notice
from gateway.smtp.queue import MailQueue, QueuedMail, Recipient

log = structlog.get_logger("mukaika.mail")

SMTP_TIMEOUT_SECONDS = 60.0
POLL_SECONDS = 0.2
ANSWER_CHARS = 500


@dataclass(frozen=True)
class Answer:
    """The smart host's answer for one recipient; ``code`` None when it never answered."""

    code: int | None
    message: str

    @property
    def status(self) -> str:
        if self.code is not None and 200 <= self.code < 300:
            return "delivered"
        if self.code is not None and 500 <= self.code < 600:
            return "failed"
        return "deferred"


def smart_host_address(smart_host: str) -> tuple[str, int]:
    host, _, port = smart_host.rpartition(":")
    return host.removeprefix("[").removesuffix("]"), int(port)


async def send(
    settings: SmtpSettings, sender: str, recipients: list[str], message: bytes
) -> dict[str, Answer]:
    """One SMTP transaction with the smart host; an answer for every recipient."""
    host, port = smart_host_address(settings.smart_host)
    tls: ssl.SSLContext | None = None
    if settings.smart_host_starttls:
        tls = ssl.create_default_context(
            cafile=str(settings.smart_host_ca_file) if settings.smart_host_ca_file != Path() else None
        )
    client = aiosmtplib.SMTP(hostname=host, port=port, timeout=SMTP_TIMEOUT_SECONDS,
                             local_hostname=settings.hostname or socket.gethostname(),
                             start_tls=settings.smart_host_starttls, tls_context=tls)  # fmt: skip
    answers: dict[str, Answer] = {}
    try:
        await client.connect()
        options = []
        if client.supports_extension("8bitmime") and not message.isascii():
            options.append("BODY=8BITMIME")
        utf8 = not all(a.isascii() for a in (sender, *recipients))
        if utf8 and client.supports_extension("smtputf8"):
            options.append("SMTPUTF8")
        encoding = "utf-8" if utf8 else "ascii"
        await client.mail(sender, options=options, encoding=encoding)
        accepted = []
        for recipient in recipients:
            try:
                await client.rcpt(recipient, encoding=encoding)
                accepted.append(recipient)
            except aiosmtplib.SMTPRecipientRefused as refusal:
                answers[recipient] = Answer(refusal.code, refusal.message[:ANSWER_CHARS])
        if accepted:
            response = await client.data(message)
            for recipient in accepted:
                answers[recipient] = Answer(response.code, response.message[:ANSWER_CHARS])
        with contextlib.suppress(aiosmtplib.SMTPException, OSError):
            await client.quit()  # delivered or not, the answers are in; a failed QUIT changes nothing
    except aiosmtplib.SMTPResponseException as refusal:  # the greeting, MAIL or DATA refused
        answer = Answer(refusal.code, refusal.message[:ANSWER_CHARS])
        answers.update({r: answer for r in recipients if r not in answers})
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        answer = Answer(None, f"{type(exc).__name__}: {exc}"[:ANSWER_CHARS])
        answers.update({r: answer for r in recipients if r not in answers})
    finally:
        client.close()
    return answers


class MailDelivery:
    """Delivers due mails, ``delivery_concurrency`` at a time, until cancelled (at shutdown)."""

    def __init__(self, queue: MailQueue, settings: Callable[[], SmtpSettings],
                 delivers: Callable[[], bool] = lambda: True) -> None:  # fmt: skip
        self.queue = queue
        self.settings = settings
        self.delivers = delivers
        self.in_flight: dict[str, asyncio.Task[None]] = {}
        self.wakeup = asyncio.Event()

    async def run(self) -> None:
        try:
            while True:
                free = self.settings().delivery_concurrency - len(self.in_flight)
                if free > 0 and self.delivers():
                    busy = frozenset(self.in_flight)
                    try:
                        due = await asyncio.to_thread(self.queue.due, time.time(), free, busy)
                    except JournalError as exc:  # the database away: the next round asks again
                        log.error("cannot read the mail queue", error=str(exc))
                        due = []
                    for mail, transfer in due:
                        task = asyncio.create_task(
                            self._attempt(mail, transfer), name=f"deliver-{mail.transfer_id}"
                        )
                        self.in_flight[mail.transfer_id] = task
                        task.add_done_callback(functools.partial(self._done, mail.transfer_id))
                self.wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), POLL_SECONDS)
        finally:
            tasks = list(self.in_flight.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def _done(self, transfer_id: str, _task: asyncio.Task[None]) -> None:
        self.in_flight.pop(transfer_id, None)
        self.wakeup.set()

    async def _attempt(self, mail: QueuedMail, transfer: Transfer) -> None:
        structlog.contextvars.bind_contextvars(transfer_id=mail.transfer_id)
        try:
            await self.attempt(mail, transfer)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a full disk or a bug: the mail stays open, tried again after back-off
            log.error("mail delivery attempt failed", error=f"{type(exc).__name__}: {exc}")
            try:
                await asyncio.to_thread(self._postpone, mail, f"{type(exc).__name__}: {exc}")
            except Exception:  # the journal cannot take it either (disk full): hold the mail back here
                await asyncio.sleep(self.backoff(1))

    def _postpone(self, mail: QueuedMail, error: str) -> None:
        """Try again after back-off, or give up once give_up_hours have passed (the failure may persist)."""
        now = time.time()
        if now - mail.received > self.settings().give_up_hours * 3600:
            expired = tuple(replace(r, status="expired") if r.open else r for r in mail.recipients)
            self.queue.record_attempt(mail, expired, state="expired", next_attempt=now, sent=mail.sent or "",
                                      error=error)  # fmt: skip
            return
        self.queue.record_attempt(mail, mail.recipients, state="deferred", sent=mail.sent or "", error=error,
                                  next_attempt=now + self.backoff(mail.attempts + 1))  # fmt: skip

    def backoff(self, attempts: int) -> float:
        settings = self.settings()
        return float(min(settings.retry_min_seconds * 2 ** max(0, attempts - 1), settings.retry_max_seconds))

    async def attempt(self, mail: QueuedMail, transfer: Transfer) -> QueuedMail:
        """Send what the mail's transfer came to, to the recipients still open; commit the results."""
        settings = self.settings()
        if transfer.state == "released":
            sent, sender = "message", mail.mail_from
            content = await asyncio.to_thread(Path(transfer.path_out or "").read_bytes)
        else:
            sent, sender = "notice", ""
            content = refusal_notice(mail, transfer, sender=settings.notice_from,
                                     hostname=settings.hostname or socket.gethostname())  # fmt: skip
            if mail.attempts == 0:
                MAIL_METRICS.refused.inc()
        answers = await send(settings, sender, mail.open_recipients(), content)
        now = time.time()
        recipients = tuple(
            replace(r, status=answers[r.address].status, code=answers[r.address].code,
                    message=answers[r.address].message)
            if r.open and r.address in answers else r
            for r in mail.recipients
        )  # fmt: skip
        state, next_attempt, error = self._next_state(mail, recipients, now)
        if state == "expired":
            recipients = tuple(replace(r, status="expired") if r.open else r for r in recipients)
        done = await asyncio.to_thread(self.queue.record_attempt, mail, recipients, state=state,
                                       next_attempt=next_attempt, sent=sent, error=error)  # fmt: skip
        if state == "deferred":
            MAIL_METRICS.deferred.inc()
            log.warning("mail deferred", sent=sent, error=error, attempts=done.attempts,
                        retry_in_seconds=round(next_attempt - now, 1),
                        deferred=[r.address for r in recipients if r.open])  # fmt: skip
            return done
        await asyncio.to_thread(self.queue.discard_delivered, transfer)
        log_mail(done)
        MAIL_METRICS.finished.labels(state=state, sent=sent).inc()
        if sent == "message" and state == "delivered":
            MAIL_METRICS.latency.observe(max(0.0, now - mail.received))
        return done

    def _next_state(
        self, mail: QueuedMail, recipients: tuple[Recipient, ...], now: float
    ) -> tuple[str, float, str | None]:
        still_open = [r for r in recipients if r.open]
        errors = [
            f"{r.address}: {r.code or ''} {r.message}".strip()
            for r in recipients
            if r.status in ("deferred", "failed")
        ]
        error = "; ".join(errors)[:2000] or None
        if not still_open:
            failed = any(r.status == "failed" for r in recipients)
            return ("failed" if failed else "delivered"), now, error
        if now - mail.received > self.settings().give_up_hours * 3600:
            return "expired", now, error
        return "deferred", now + self.backoff(mail.attempts + 1), error


def log_mail(mail: QueuedMail) -> None:
    """The one canonical line per mail, once its delivery is final (journald fields MAIL_STATE, SENT, ...).

    What the sanitiser decided (VERDICT, REASON) is on the transfer's own line, with the same TRANSFER_ID.
    """
    log.info(
        "mail",
        transfer_id=mail.transfer_id,
        mail_state=mail.state,
        sent=mail.sent,
        mail_from=mail.mail_from,
        recipients=[{"address": r.address, "status": r.status, "code": r.code} for r in mail.recipients],
        subject=mail.subject,
        message_id=mail.message_id,
        peer=mail.peer,
        attempts=mail.attempts,
        error=mail.last_error,
        duration_ms=round(((mail.finished or time.time()) - mail.received) * 1000, 1),
    )
