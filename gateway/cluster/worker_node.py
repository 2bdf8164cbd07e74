"""`mukaika worker`: a worker node, running sanitise jobs from the queue in confined workers.

It takes the jobs the gateway nodes defer (gateway.cluster.jobs) and runs each through the
same isolation provider as a single node: a fresh confined worker sanitises the staged file
from the shared spool, a fresh confined verifier checks the output, and the outcome is planned
in the journal only if this attempt is still the transfer's latest. It never places a file
and holds no originals key: placing is the channel owner's work (gateway.cluster.ownership).

Jobs whose worker node stopped sending heartbeats (killed, frozen, cut off) are put back in
the queue by every worker node's watch for stalled jobs, so another node takes them. After
PostgreSQL was away, a node starts its queue worker afresh: a job whose end could not be
recorded meanwhile then belongs to a worker that sends no heartbeats, and is put back too.
"""

from __future__ import annotations

import asyncio
import signal

import structlog

from gateway.cluster.jobs import QUEUE, RETRY, SANITISE_TASK, ensure_schema, queue_app
from gateway.config import MAIL_CHANNEL, Config
from gateway.isolation.confinement import NONE, probe
from gateway.isolation.provider import IsolationProvider, ZygoteProvider
from gateway.journal import JournalError, open_journal
from gateway.sdnotify import notify
from gateway.smtp.queue import mail_destination
from gateway.spool import Spool
from gateway.transfers import TransferProcessor

log = structlog.get_logger("mukaika.worker")


class WorkerNode:
    def __init__(self, config: Config, pool: IsolationProvider | None = None) -> None:
        self.config = config
        url = config.journal_target()
        if not isinstance(url, str):
            raise WorkerNodeError(
                'a worker node needs [journal] url = "postgresql://…", shared with the gateways'
            )
        self.url = url
        self.pool = pool or ZygoteProvider(config.gateway.worker_count(), config.gateway.confinement)
        self.stopping = asyncio.Event()
        self.reconnected = asyncio.Event()  # PostgreSQL answers again after it was away

    async def serve(self) -> int:
        settings = self.config.cluster
        confinement = _checked_confinement(self.pool)
        await asyncio.to_thread(ensure_schema, self.url)
        journal = await asyncio.to_thread(open_journal, self.url)
        spool = Spool(self.config.gateway.spool_dir.absolute())
        processor = TransferProcessor(spool, journal, self.pool, lambda: self.config, vault=None)
        processor.destinations[MAIL_CHANNEL] = mail_destination(spool)  # the relay's mail, as on a gateway
        app = queue_app(self.url, worker_node=settings.node)

        @app.task(name=SANITISE_TASK, queue=QUEUE, retry=RETRY)
        async def sanitise(transfer_id: str) -> None:
            structlog.contextvars.bind_contextvars(transfer_id=transfer_id)
            try:
                await processor.sanitise_handed_over(transfer_id)
            finally:
                structlog.contextvars.unbind_contextvars("transfer_id")

        await self.pool.start()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        try:
            async with app.open_async():
                stalled = asyncio.create_task(self._requeue_stalled(app))
                notify("READY=1", f"STATUS=worker node {settings.node}, {self.pool.size} worker(s)")
                log.info("worker node started", node=settings.node, workers=self.pool.size,
                         confinement=confinement, journal=self.config.journal_redacted())  # fmt: skip
                while not self.stopping.is_set():
                    self.reconnected.clear()
                    worker = asyncio.create_task(app.run_worker_async(
                        queues=[QUEUE], name=settings.node, concurrency=self.pool.size, delete_jobs="successful",
                        install_signal_handlers=False, update_heartbeat_interval=settings.heartbeat_seconds,
                        stalled_worker_timeout=settings.stalled_seconds, fetch_job_polling_interval=1.0,
                    ))  # fmt: skip
                    await self._until_stopped_or_reconnected(worker)
                    worker.cancel()  # procrastinate lets the running jobs finish first
                    await asyncio.gather(worker, return_exceptions=True)
                notify("STOPPING=1")
                stalled.cancel()
                await asyncio.gather(stalled, return_exceptions=True)
        finally:
            await self.pool.close()
            journal.close()
        log.info("worker node stopped", node=settings.node)
        return 0

    async def _until_stopped_or_reconnected(self, worker: asyncio.Task[None]) -> None:
        waits = {asyncio.create_task(self.stopping.wait()), asyncio.create_task(self.reconnected.wait())}
        done, _ = await asyncio.wait({worker, *waits}, return_when=asyncio.FIRST_COMPLETED)
        for task in waits:
            task.cancel()
        if worker in done and not worker.cancelled() and (error := worker.exception()) is not None:
            log.error("queue worker stopped; starting it again", error=repr(error))
            await asyncio.sleep(self.config.cluster.heartbeat_seconds)
        elif self.reconnected.is_set():
            log.warning("PostgreSQL is back: the queue worker starts afresh")

    async def _requeue_stalled(self, app: object) -> None:
        """Put back the jobs of worker nodes that stopped sending heartbeats, however they ended."""
        from procrastinate import App

        assert isinstance(app, App)
        settings = self.config.cluster
        away = False
        while True:
            await asyncio.sleep(settings.heartbeat_seconds)
            try:
                jobs = await app.job_manager.get_stalled_jobs(
                    queue=QUEUE, seconds_since_heartbeat=settings.stalled_seconds
                )
                for job in jobs:
                    log.warning("job of a silent worker put back in the queue", job_id=job.id,
                                transfer_id=job.task_kwargs.get("transfer_id"))  # fmt: skip
                    await app.job_manager.retry_job(job)
            except Exception as exc:  # the database away: the next round tries again
                if not away:
                    log.error("PostgreSQL cannot be reached", error=str(exc))
                away = True
                continue
            if away:
                away = False
                self.reconnected.set()


def _checked_confinement(pool: IsolationProvider) -> str:
    host = probe()
    if pool.confinement == NONE:
        log.warning('workers run WITHOUT confinement ([gateway] confinement = "none")')
    elif host.problem is not None:
        raise WorkerNodeError(f"workers cannot be confined on this host: {host.problem}")
    return host.describe(pool.confinement)


class WorkerNodeError(RuntimeError):
    """The worker node cannot start (its config or host is not fit for it)."""


def run_worker_node(config: Config) -> int:
    try:
        return asyncio.run(WorkerNode(config).serve())
    except WorkerNodeError as exc:
        log.error("cannot start the worker node", error=str(exc))
        return 2
    except JournalError as exc:  # systemd starts it again (Restart=always)
        log.error("cannot start the worker node: the journal cannot be opened",
                  journal=config.journal_redacted(), error=str(exc))  # fmt: skip
        return 1
