"""The SMTP listener facing the internet-side MTA (aiosmtpd), in the daemon's event loop.

It answers 250 to DATA only once the message is durable in the spool and the journal
(``MailQueue.accept``), so a mail the sender considers delivered survives a crash. Refusals
before that are cheap and early: a client not in ``allowed_clients`` at MAIL, a recipient not
on the allow-lists at RCPT (550), a full queue at MAIL and DATA (452: the sender keeps the
mail and tries later), a message over ``max_message_size`` (552).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import ssl
from collections.abc import Callable

import aiosmtplib.email
import structlog
from aiosmtpd.smtp import SMTP, Envelope, Session

from gateway.config import SmtpSettings
from gateway.smtp.metrics import MAIL_METRICS
from gateway.smtp.queue import MailQueue
from sanitizers.base import Limits

log = structlog.get_logger("mukaika.smtp")

# aiosmtpd logs every command at INFO; the relay's own lines say what matters, once per mail
logging.getLogger("mail.log").setLevel(logging.WARNING)

QUEUE_FULL = "452 4.3.1 Mail queue full, try again later"
MALFORMED = "553 5.1.3 Address not accepted"
NULL_SENDER = "<>"
MAX_ADDRESS_CHARS = 254


class RelayHandler:
    """aiosmtpd's hooks: the checks of each command, and the durable acceptance of DATA."""

    def __init__(self, settings: Callable[[], SmtpSettings], limits: Callable[[], Limits], queue: MailQueue,
                 queue_size: Callable[[], int], accepted: Callable[[str], None]) -> None:  # fmt: skip
        self.settings = settings
        self.limits = limits
        self.queue = queue
        self.queue_size = queue_size
        self.accepted = accepted
        self.storing = 0  # DATA commands between the message's arrival and our answer

    def max_message_size(self) -> int:
        return min(self.settings().max_message_size, self.limits().max_file_size)

    async def handle_MAIL(  # noqa: N802 (aiosmtpd's hook names)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        settings = self.settings()
        if not client_allowed(session.peer, settings.allowed_clients):
            return refuse("client", "550 5.7.1 Client host not allowed", peer=session.peer)
        if self.queue_size() >= settings.max_queue:
            return refuse("queue_full", QUEUE_FULL, peer=session.peer)
        # "<>", the null sender of bounces and notices, stays "<>" here: aiosmtpd takes an empty
        # sender for a missing MAIL command
        if address != NULL_SENDER and not deliverable_address(address):
            return refuse("address", MALFORMED, peer=session.peer)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 OK"

    async def handle_RCPT(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        settings = self.settings()
        if len(envelope.rcpt_tos) >= settings.max_recipients:
            return refuse("too_many_recipients", "452 4.5.3 Too many recipients", peer=session.peer)
        if not deliverable_address(address):
            return refuse("address", MALFORMED, peer=session.peer)
        if not recipient_allowed(address, settings):
            return refuse("recipient", "550 5.7.1 Recipient not accepted here", peer=session.peer,
                          recipient=address)  # fmt: skip
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(  # noqa: N802
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        untrusted_message = envelope.original_content or b""
        if len(untrusted_message) > self.max_message_size():
            return refuse("too_big", "552 5.3.4 Message too big", peer=session.peer)
        if self.queue_size() >= self.settings().max_queue:
            return refuse("queue_full", QUEUE_FULL, peer=session.peer)
        peer = format_peer(session.peer)
        sender = "" if envelope.mail_from in (NULL_SENDER, None) else envelope.mail_from
        self.storing += 1
        try:
            # shielded: a shutdown lets the commit finish and answers it, rather than leaving a
            # stored mail unacknowledged (the sender would send it again)
            transfer_id = await asyncio.shield(asyncio.to_thread(
                self.queue.accept, untrusted_message, sender, list(envelope.rcpt_tos), peer
            ))  # fmt: skip
        except OSError as exc:
            log.error("mail not stored; the sender will retry", peer=peer, error=str(exc))
            return refuse(
                "storage", "451 4.3.0 Cannot store the message now, try again later", peer=session.peer
            )
        finally:
            self.storing -= 1
        MAIL_METRICS.accepted.inc()
        log.info("mail accepted", transfer_id=transfer_id, peer=peer, mail_from=envelope.mail_from,
                 recipients=list(envelope.rcpt_tos), size_in=len(untrusted_message))  # fmt: skip
        self.accepted(transfer_id)
        return f"250 2.0.0 OK queued as {transfer_id}"


def refuse(why: str, reply: str, **fields: object) -> str:
    MAIL_METRICS.smtp_refused.labels(why=why).inc()
    log.info("smtp command refused", why=why, reply=reply, **{k: format_peer(v) if k == "peer" else v
                                                              for k, v in fields.items()})  # fmt: skip
    return reply


def format_peer(peer: object) -> str:
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)


def client_allowed(peer: object, allowed: tuple[str, ...]) -> bool:
    if not (isinstance(peer, tuple) and peer):
        return False
    try:
        address = ipaddress.ip_address(str(peer[0]))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in ipaddress.ip_network(network, strict=False) for network in allowed)


def deliverable_address(address: str) -> bool:
    """An address the delivery can put on an SMTP command line as it came (no spaces, brackets, controls)."""
    if len(address) > MAX_ADDRESS_CHARS:
        return False
    try:
        return aiosmtplib.email.quote_address(address) == f"<{address}>"
    except ValueError:
        return False


def recipient_allowed(address: str, settings: SmtpSettings) -> bool:
    address = address.lower()
    local, at, domain = address.rpartition("@")
    if not (local and at and domain):
        return False
    return address in settings.allowed_recipients or domain in settings.allowed_recipient_domains


def tls_context(settings: SmtpSettings) -> ssl.SSLContext | None:
    if not settings.starttls:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(settings.tls_cert, settings.tls_key)
    return context


class SmtpListener:
    """The server's lifecycle: listen at start; at stop, refuse new connections, let mails being
    stored get their answer (within ``grace``), then close the sessions left."""

    def __init__(self, handler: RelayHandler, settings: SmtpSettings) -> None:
        self.handler = handler
        self.settings = settings
        self.sessions: set[SMTP] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen, or log why not and raise OSError: a configured relay that cannot listen fails start-up."""
        loop = asyncio.get_running_loop()
        settings = self.settings
        context = tls_context(settings)
        hostname = settings.hostname or socket.gethostname()
        host, _, port = settings.listen.rpartition(":")

        def session() -> SMTP:
            smtp = _TrackedSMTP(self.sessions, self.handler, data_size_limit=self.handler.max_message_size(),
                                enable_SMTPUTF8=True, hostname=hostname, ident="mukaika", tls_context=context,
                                require_starttls=settings.require_starttls, loop=loop)  # fmt: skip
            return smtp

        try:
            self._server = await loop.create_server(session, host.strip("[]"), int(port))
        except OSError as exc:
            log.error("smtp relay cannot listen", listen=settings.listen, error=str(exc))
            raise
        log.info("smtp relay listening", listen=settings.listen, starttls=context is not None,
                 smart_host=settings.smart_host)  # fmt: skip

    async def stop(self, grace: float) -> None:
        if self._server is None:
            return
        self._server.close()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self.handler.storing and loop.time() < deadline:
            await asyncio.sleep(0.05)
        for smtp in list(self.sessions):
            if smtp.transport is not None:
                smtp.transport.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._server.wait_closed(), 2.0)
        self._server = None


class _TrackedSMTP(SMTP):
    """aiosmtpd's session, known to the listener while its connection lasts (to close it at stop)."""

    def __init__(self, sessions: set[SMTP], *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._sessions = sessions

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._sessions.add(self)
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        self._sessions.discard(self)
        super().connection_lost(error)
