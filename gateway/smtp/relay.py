"""The mail relay's lifecycle within the daemon: listener and delivery started and stopped together.

start:  spool areas, copies of mails finished before a crash removed, listener, delivery loop
stop:   no new connections; mails being stored get their answer; delivery attempts in flight
        are cancelled (their mails stay open and are tried again at the next start)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog

from gateway.config import Config
from gateway.journal import Journal
from gateway.smtp.delivery import MailDelivery
from gateway.smtp.listener import RelayHandler, SmtpListener
from gateway.smtp.metrics import MAIL_METRICS
from gateway.smtp.queue import MailQueue
from gateway.spool import Spool

log = structlog.get_logger("mukaika.smtp")

QUEUE_COUNT_SECONDS = 1.0


class MailRelay:
    def __init__(self, config: Callable[[], Config], journal: Journal, spool: Spool,
                 schedule: Callable[[str], None], delivers: Callable[[], bool] = lambda: True) -> None:  # fmt: skip
        self.config = config
        self.queue = MailQueue(journal, spool)
        # several nodes: every gateway node receives; the one holding the relay's lock delivers
        self.delivery = MailDelivery(self.queue, lambda: self.config().smtp, delivers)
        self.schedule = schedule
        self.queue_size = 0  # open mails, counted from the journal and by acceptances since
        self.listener: SmtpListener | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await asyncio.to_thread(self.queue.create_dirs)
        await asyncio.to_thread(self.queue.tidy_finished)
        self.queue_size = await asyncio.to_thread(self.queue.open_count)
        handler = RelayHandler(lambda: self.config().smtp, lambda: self.config().limits, self.queue,
                               lambda: self.queue_size, self._accepted)  # fmt: skip
        self.listener = SmtpListener(handler, self.config().smtp)
        await self.listener.start()
        self._tasks = [asyncio.create_task(self.delivery.run(), name="mail-delivery"),
                       asyncio.create_task(self._count_queue(), name="mail-queue-count")]  # fmt: skip

    def _accepted(self, transfer_id: str) -> None:
        self.queue_size += 1
        MAIL_METRICS.queue.set(self.queue_size)
        self.schedule(transfer_id)

    def transfer_finished(self) -> None:
        """A transfer reached a final state: a mail among them can be delivered now."""
        self.delivery.wakeup.set()

    async def _count_queue(self) -> None:
        while True:
            self.queue_size = await asyncio.to_thread(self.queue.open_count)
            MAIL_METRICS.queue.set(self.queue_size)
            await asyncio.sleep(QUEUE_COUNT_SECONDS)

    async def stop_listening(self, grace: float) -> None:
        if self.listener is not None:
            await self.listener.stop(grace)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._tasks, return_exceptions=True)
        log.info("smtp relay stopped", open_mails=self.queue_size)
