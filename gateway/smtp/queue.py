"""The mail queue: each accepted mail is one transfer plus a row of envelope and delivery state.

    accept:   transfer row ('admitted') → mail row ('queued') → the message written durably as
              the transfer's staged input → transfer 'staged'; only then does the relay say 250
    process:  the daemon advances the transfer like any file (isolated sanitise + verify); its
              release is placed in spool/mail/outgoing/, its refusal's reason in spool/mail/refused/
    deliver:  once the transfer is final, the sanitised message (or a refusal notice) goes to the
              smart host; per-recipient results, the attempt count and the next attempt are
              committed after every attempt, so the deferred queue survives restarts

A crash before the message is staged leaves an 'admitted' transfer without input, which the
daemon deletes (the mail row with it) at the next start: the sender never had its 250 and
sends again.
"""

from __future__ import annotations

import email.errors
import email.parser
import email.policy
import hashlib
import json
import os
import re
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from gateway.config import MAIL_CHANNEL
from gateway.fsutil import fsync_dir
from gateway.journal import Journal, JournalView, Row, Transfer
from gateway.spool import Spool
from gateway.transfers import Destination, new_transfer_id

#: queued: accepted, waiting for its sanitising or its first delivery; deferred: an attempt
#: left recipients to try again; delivered | failed (some recipient refused for good) |
#: expired (given up after give_up_hours) are final.
OPEN_STATES = ("queued", "deferred")
MAIL_STATES = (*OPEN_STATES, "delivered", "failed", "expired")
#: per recipient: pending → delivered | deferred (→ again) | failed | expired
RECIPIENT_OPEN = ("pending", "deferred")

HEADER_BYTES = 64 * 1024  # headers past this are not read for the subject (the worker reads them all)
SUBJECT_CHARS = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]+")


@dataclass(frozen=True)
class Recipient:
    address: str
    status: str = "pending"
    code: int | None = None
    message: str = ""

    @property
    def open(self) -> bool:
        return self.status in RECIPIENT_OPEN


@dataclass(frozen=True)
class QueuedMail:
    transfer_id: str
    mail_from: str
    recipients: tuple[Recipient, ...]
    subject: str
    message_id: str
    peer: str
    received: float
    state: str
    attempts: int
    next_attempt: float
    finished: float | None = None
    sent: str | None = None  # "message" (the sanitised mail) or "notice" (a refusal notice)
    last_error: str | None = None

    @classmethod
    def from_row(cls, row: Row) -> QueuedMail:
        values = dict(row)
        values["recipients"] = tuple(Recipient(**r) for r in json.loads(values["recipients"]))
        return cls(**values)

    def open_recipients(self) -> list[str]:
        return [r.address for r in self.recipients if r.open]

    def summary(self) -> dict[str, object]:
        """What operators see of a mail (`mukaika status --json`, /status)."""
        return {"transfer_id": self.transfer_id, "from": self.mail_from, "subject": self.subject,
                "state": self.state, "attempts": self.attempts,
                "recipients": [asdict(r) for r in self.recipients], "last_error": self.last_error}  # fmt: skip


def mail_dirs(spool: Spool) -> tuple[Path, Path, Path]:
    """receiving/ (messages being written), outgoing/ (released), refused/ (reasons) in the spool."""
    base = spool.root / "mail"
    return base / "receiving", base / "outgoing", base / "refused"


def mail_destination(spool: Spool) -> Destination:
    """Where the transfer processor places a mail transfer's release or refusal: the spool, never a share."""
    _, outgoing, refused = mail_dirs(spool)
    return Destination(outgoing, refused, return_rejected=False)


def clean_header(value: str, limit: int = SUBJECT_CHARS) -> str:
    """One line of printable text (no controls, no bidi overrides), at most ``limit`` characters."""
    return " ".join(_CONTROL.sub(" ", value).split())[:limit]


def read_headers(untrusted_message: bytes) -> tuple[str, str]:
    """Subject and Message-ID, for operators to find a mail by: the header block only, bounded.

    The daemon parses no content; these two header fields are read with the standard
    library's pure-Python parser, from at most HEADER_BYTES, and cut to one clean line. A
    header that does not decode leaves the field empty.
    """
    head = untrusted_message[:HEADER_BYTES]
    end = min((i for i in (head.find(b"\r\n\r\n"), head.find(b"\n\n")) if i >= 0), default=len(head))
    try:
        headers = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(head[:end])
        untrusted_subject = str(headers.get("subject", "") or "")
        untrusted_id = str(headers.get("message-id", "") or "")
    except (email.errors.MessageError, ValueError, TypeError, LookupError, IndexError):
        return "", ""
    return clean_header(untrusted_subject), clean_header(untrusted_id)


class MailQueue:
    """The mail table's changes; every method runs in an I/O thread (it commits and fsyncs)."""

    def __init__(self, journal: Journal, spool: Spool) -> None:
        self.journal = journal
        self.spool = spool
        self.receiving, self.outgoing, self.refused = mail_dirs(spool)

    def create_dirs(self) -> None:
        """The mail areas of the spool; a message left half-written in receiving/ was never acknowledged."""
        for directory in (self.receiving.parent, self.receiving, self.outgoing, self.refused):
            directory.mkdir(parents=True, exist_ok=True)
            directory.chmod(0o700)
        for leftover in self.receiving.iterdir():
            leftover.unlink()

    def accept(self, untrusted_message: bytes, mail_from: str, rcpt_tos: list[str], peer: str) -> str:
        """Make the mail durable as a staged transfer; return its id. Raises OSError (disk full)."""
        transfer_id = new_transfer_id()
        subject, message_id = read_headers(untrusted_message)
        now = time.time()
        self.journal.create(transfer_id, MAIL_CHANNEL, (), f"smtp://{peer}", f"{transfer_id}.eml",
                            f"{transfer_id}.eml")  # fmt: skip
        try:
            recipients = json.dumps([asdict(Recipient(address)) for address in rcpt_tos], ensure_ascii=False)
            with self.journal.transaction() as db:
                db.execute(
                    "INSERT INTO mail (transfer_id, mail_from, recipients, subject, message_id, peer, received,"
                    " state, next_attempt) VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', ?)",
                    (transfer_id, mail_from, recipients, subject, message_id, peer, now, now),
                )
            digest = self._write_staged(transfer_id, untrusted_message)
        except BaseException:
            self.journal.delete(transfer_id)  # not acknowledged: the sender keeps the mail
            raise
        self.journal.update(transfer_id, state="staged", size_in=len(untrusted_message), sha256_in=digest)
        return transfer_id

    def _write_staged(self, transfer_id: str, untrusted_message: bytes) -> str:
        tmp = self.receiving / transfer_id
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "wb") as writer:
                writer.write(untrusted_message)
                writer.flush()
                os.fsync(writer.fileno())
            tmp.replace(self.spool.staged_path(transfer_id))
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(self.spool.incoming)
        return hashlib.sha256(untrusted_message).hexdigest()

    def due(
        self, now: float, limit: int, busy: frozenset[str] = frozenset()
    ) -> list[tuple[QueuedMail, Transfer]]:
        """Open mails whose transfer is final and whose next attempt has come, oldest first."""
        rows = self.journal.rows(
            "SELECT mail.* FROM mail JOIN transfers ON transfers.id = mail.transfer_id WHERE mail.state IN"
            " ('queued', 'deferred') AND mail.next_attempt <= ? AND transfers.state IN ('released', 'rejected',"
            " 'failed') ORDER BY mail.next_attempt LIMIT ?",
            (now, limit + len(busy)),
        )
        mails = [QueuedMail.from_row(row) for row in rows if row["transfer_id"] not in busy][:limit]
        return [(mail, self.journal.get(mail.transfer_id)) for mail in mails]

    def record_attempt(self, mail: QueuedMail, recipients: tuple[Recipient, ...], *, state: str,
                       next_attempt: float, sent: str, error: str | None) -> QueuedMail:  # fmt: skip
        """Commit one delivery attempt's per-recipient results and the mail's next state."""
        assert state in MAIL_STATES
        now = time.time()
        finished = None if state in OPEN_STATES else now
        encoded = json.dumps([asdict(r) for r in recipients], ensure_ascii=False)
        with self.journal.transaction() as db:
            db.execute(
                "UPDATE mail SET recipients = ?, state = ?, attempts = attempts + 1, next_attempt = ?,"
                " finished = ?, sent = ?, last_error = ? WHERE transfer_id = ?",
                (encoded, state, next_attempt, finished, sent, error, mail.transfer_id),
            )
        return replace(mail, recipients=recipients, state=state, attempts=mail.attempts + 1,
                       next_attempt=next_attempt, finished=finished, sent=sent, last_error=error)  # fmt: skip

    def discard_delivered(self, transfer: Transfer) -> None:
        """Remove the spool's copy of what was sent (the encrypted original stays for retention_days)."""
        if transfer.path_out is not None and Path(transfer.path_out).parent in (self.outgoing, self.refused):
            Path(transfer.path_out).unlink(missing_ok=True)

    def tidy_finished(self) -> None:
        """At start: remove the copies of mails that were finished just before a crash."""
        for directory in (self.outgoing, self.refused):
            for path in directory.iterdir():
                if path.name.startswith("."):  # a placement's temp name, finished by its transfer
                    continue
                transfer_id = path.name.split(".", 1)[0]
                rows = self.journal.rows("SELECT state FROM mail WHERE transfer_id = ?", (transfer_id,))
                if rows and rows[0]["state"] not in OPEN_STATES:
                    path.unlink()

    def open_count(self) -> int:
        rows = self.journal.rows("SELECT count(*) AS n FROM mail WHERE state IN ('queued', 'deferred')")
        return int(rows[0]["n"])


class MailView:
    """Read-only questions about mail, for `mukaika status`, /status and the console."""

    def __init__(self, view: JournalView) -> None:
        self.view = view

    def available(self) -> bool:
        """False for a journal written before the relay existed (opened read-only, not migrated)."""
        return self.view.has_table("mail")

    def mail(self, transfer_id: str) -> QueuedMail | None:
        if not self.available():
            return None
        rows = self.view.rows("SELECT * FROM mail WHERE transfer_id = ?", (transfer_id,))
        return QueuedMail.from_row(rows[0]) if rows else None

    def mails(self, transfer_ids: list[str]) -> dict[str, QueuedMail]:
        if not transfer_ids or not self.available():
            return {}
        marks = ", ".join("?" for _ in transfer_ids)
        rows = self.view.rows(f"SELECT * FROM mail WHERE transfer_id IN ({marks})", tuple(transfer_ids))  # noqa: S608
        return {row["transfer_id"]: QueuedMail.from_row(row) for row in rows}

    def counts(self) -> dict[str, int]:
        if not self.available():
            return {}
        rows = self.view.rows("SELECT state, count(*) AS n FROM mail GROUP BY state")
        return {row["state"]: row["n"] for row in rows}

    def open_by_state(self) -> dict[str, tuple[int, float]]:
        """queued | deferred → (how many, when the oldest was received); indexed, for every scrape."""
        if not self.available():
            return {}
        rows = self.view.rows("SELECT state, count(*) AS n, min(received) AS oldest FROM mail"
                              " WHERE state IN ('queued', 'deferred') GROUP BY state")  # fmt: skip
        return {row["state"]: (row["n"], row["oldest"]) for row in rows}

    def open_mails(self, limit: int) -> list[QueuedMail]:
        """The oldest mails not yet delivered (queued or deferred)."""
        if not self.available():
            return []
        rows = self.view.rows(
            "SELECT * FROM mail WHERE state IN ('queued', 'deferred') ORDER BY received LIMIT ?", (limit,)
        )
        return [QueuedMail.from_row(row) for row in rows]
