"""`mukaika worker`: a worker node, running sanitise jobs from the queue in confined workers.

It takes the jobs the gateway nodes defer (gateway.cluster.jobs) and runs each through the
same isolation provider as a single node: a fresh confined worker sanitises the staged file
from the shared spool, a fresh confined verifier checks the output, and the outcome is planned
in the journal only if this attempt is still the transfer's latest. It never places a file
and holds no originals key: placing is the channel owner's work (gateway.cluster.ownership).

Jobs whose worker node stopped sending heartbeats (killed, frozen, cut off) are put back in
the queue by every worker node's watch for stalled jobs, so another node takes them; a node
does so only once it has itself been connected for ``stalled_seconds``, since nobody sends
heartbeats while PostgreSQL is away. After
PostgreSQL was away, a node starts its queue worker afresh: a job whose end could not be
recorded meanwhile then belongs to a worker that sends no heartbeats, and is put back too.
"""

from __future__ import annotations

import asyncio
import signal
import time

import procrastinate
import psycopg
import structlog

from gateway.cluster.jobs import (
    QUEUE,
    RETRY,
    SANITISE_TASK,
    WORKER_APPLICATION,
    ensure_schema,
    queue_app,
    replace_stalled,
)
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
        self.away = False

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
                watch = asyncio.create_task(self._watch(app))
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
                watch.cancel()
                await asyncio.gather(watch, return_exceptions=True)
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

    async def _watch(self, app: procrastinate.App) -> None:
        """Every heartbeat: is PostgreSQL there? Then put back the jobs of silent worker nodes.

        While PostgreSQL is away no node can send heartbeats, so silence is evidence only once
        this node has itself been connected for ``stalled_seconds``: the others have had as
        long to send theirs (and to record how the jobs they ran meanwhile ended).
        """
        settings = self.config.cluster
        connected_since: float | None = None
        probe: psycopg.AsyncConnection[tuple[object, ...]] | None = None
        try:
            while True:
                await asyncio.sleep(settings.heartbeat_seconds)
                try:
                    if probe is None or probe.closed:
                        probe = await psycopg.AsyncConnection.connect(
                            self.url, autocommit=True, connect_timeout=5,
                            application_name=f"{WORKER_APPLICATION}:{settings.node}",
                        )  # fmt: skip
                    await asyncio.wait_for(probe.execute("SELECT 1"), settings.heartbeat_seconds)
                except (psycopg.Error, OSError, TimeoutError) as exc:
                    if probe is not None:
                        await probe.close()
                        probe = None
                    if connected_since is not None:
                        log.error("PostgreSQL cannot be reached", error=str(exc) or type(exc).__name__)
                        self.away = True
                    connected_since = None
                    continue
                now = time.monotonic()
                if connected_since is None:
                    connected_since = now
                    if self.away:
                        self.away = False
                        self.reconnected.set()
                if now - connected_since >= settings.stalled_seconds:
                    await self._requeue_stalled(app)
        finally:
            if probe is not None:
                await probe.close()

    async def _requeue_stalled(self, app: procrastinate.App) -> None:
        """Put back the jobs of worker nodes that stopped sending heartbeats, however they ended."""
        try:
            jobs = await app.job_manager.get_stalled_jobs(
                queue=QUEUE, seconds_since_heartbeat=self.config.cluster.stalled_seconds
            )
            for job in jobs:
                log.warning("job of a silent worker put back in the queue", job_id=job.id,
                            transfer_id=job.task_kwargs.get("transfer_id"))  # fmt: skip
                await replace_stalled(app, job)
        except Exception as exc:  # procrastinate's connection lost meanwhile: the next round
            log.error("stalled jobs not put back this round", error=repr(exc))


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
