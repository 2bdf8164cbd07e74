"""The gateway daemon: explicit lifecycle, signals as events, bounded work.

    serve → startup (spool, journal, recovery, watchers, first scan)
          → main loop (settle → admit/stage → queue → workers; rescans; purge)
          → shutdown (stop intake, let in-flight work finish within a timeout, then cancel)

Back-pressure: files are staged only while the work queue has room, so 10,000 files
dropped at once wait in the inbox (as settled candidates) instead of in memory or spool.

With a PostgreSQL journal the node is one gateway of several: it serves the channels whose
lock it holds (gateway.cluster.ownership), hands staged transfers to the worker nodes through
the job queue, and places what they planned; it sanitises nothing itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import deque
from pathlib import Path

import structlog

from gateway.activation import ActivationError, describe, take_metrics_sockets
from gateway.cluster.jobs import enqueue, ensure_schema, queue_app
from gateway.cluster.ownership import ChannelOwnership
from gateway.config import MAIL_CHANNEL, Channel, Config, ConfigError, load_config
from gateway.console.app import Console
from gateway.folders import ShareWatch, create_default_folders, require_share_folders
from gateway.http import StatusHandlers, queue_depth
from gateway.intake import InboxWatcher, Settler, scan_tree
from gateway.isolation.confinement import NONE, probe
from gateway.isolation.provider import IsolationProvider, ZygoteProvider
from gateway.journal import FINAL_STATES, Journal, JournalError, open_journal
from gateway.layers import config_changes
from gateway.listener import LocalServer
from gateway.metrics import METRICS
from gateway.originals import OriginalReleases
from gateway.retention import purge_journal
from gateway.runstate import ReloadResult, own_state, remove_state, state_path, write_state
from gateway.sdnotify import notify, reloading, watchdog_interval
from gateway.smtp.queue import mail_destination
from gateway.smtp.relay import MailRelay
from gateway.spool import Spool
from gateway.transfers import TransferProcessor
from gateway.vault import Vault, VaultError
from sanitizers.base import Registry

log = structlog.get_logger("mukaika.daemon")

#: A queued unit of work: an inbox path still to admit, or a transfer id to advance.
WorkItem = tuple[Channel, Path] | str

TICK_SECONDS = 0.2
CONSUMERS_PER_WORKER = 4  # transfers in flight per worker: their staging and placing I/O overlaps
PURGE_INTERVAL_SECONDS = 3600.0
RETRY_BASE_SECONDS = 2.0
RETRY_MAX_SECONDS = 300.0
SHARE_CHECK_SECONDS = 2.0
PLACEMENT_POLL_SECONDS = 0.5  # several nodes: how often a gateway asks what the workers planned
#: What a gateway node resumes when it takes a channel over (the rest is the workers' or an approver's).
GATEWAY_STATES = ("admitted", "staged", "releasing", "rejecting")
#: Several nodes: a transfer left this long in these states by a node that died is resumed by the
#: channel's owner (an admission can take long: a large file copied from a slow share).
ORPHANED_AFTER_SECONDS = {"staged": 30.0, "admitted": 3600.0}
#: Settings read once at start: a reload that changes them says they wait for a restart.
STARTUP_ONLY = ("gateway.workers", "gateway.confinement", "gateway.log_format", "gateway.log_level",
                "gateway.originals_key", "http.", "console.", "smtp.listen", "smtp.hostname", "smtp.tls_",
                "journal.", "cluster.")  # fmt: skip


class Gateway:
    def __init__(
        self,
        config: Config,
        config_arg: str | None,
        registry: Registry,
        pool: IsolationProvider | None = None,
    ) -> None:
        self.config = config
        self.config_arg = config_arg
        self.registry = registry
        self.spool = Spool(config.gateway.spool_dir.absolute())
        self.journal: Journal | None = None
        self.pool = pool or ZygoteProvider(config.gateway.worker_count(), config.gateway.confinement)
        self.settler = Settler(config.gateway.settle_seconds)
        self.queue: asyncio.Queue[WorkItem] = asyncio.Queue(maxsize=self.pool.size * CONSUMERS_PER_WORKER)
        self.admitting: set[Path] = set()  # queued inbox paths, so a rescan cannot queue them twice
        self.backlog: deque[str] = deque()  # recovered and retried transfers go first
        self.in_flight: set[str] = set()
        self.failures: dict[str, int] = {}
        self.stopping = asyncio.Event()
        self.wakeup = asyncio.Event()  # set when the queue gets room, or to stop
        self.processor: TransferProcessor | None = None
        self.watcher: InboxWatcher | None = None
        self.status_server: LocalServer | None = None
        self.scrape_server: LocalServer | None = None  # on the sockets of mukaika-http.socket
        self.releases: OriginalReleases | None = None
        self.console_server: LocalServer | None = None
        self.mail: MailRelay | None = None  # the SMTP relay, with [smtp] listen
        self.tending: asyncio.Task[None] | None = None
        self.purging: asyncio.Task[int] | None = None  # the journal's retention purge, off the loop
        self.retry_errors: deque[dict[str, object]] = deque(maxlen=10)  # shown by /status
        self.confinement = ""  # how workers are confined, as checked at start (shown by /readyz)
        self.shares: ShareWatch | None = None  # whether the share folders are still there (/readyz)
        self.reloads = 0
        #: several nodes: the channel locks this node holds; alone, it serves every channel
        self.ownership: ChannelOwnership | None = None
        self.owned: set[str] = set()
        self.journal_away = False  # several nodes: PostgreSQL did not answer the last poll

    # ── lifecycle ──────────────────────────────────────────────────────────────────────
    async def serve(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self.reload)
        await self.startup(loop)
        consumers = [
            asyncio.create_task(self._consume(), name=f"consumer-{i}")
            for i in range(self.pool.size * CONSUMERS_PER_WORKER)
        ]
        try:
            await self._main_loop()
        finally:
            await self.shutdown(consumers)
        return 0

    def stop(self) -> None:
        self.stopping.set()
        self.wakeup.set()

    async def startup(self, loop: asyncio.AbstractEventLoop) -> None:
        metrics_sockets = take_metrics_sockets()  # before any worker starts: none may inherit them
        require_share_folders(self.config)
        self.spool.create()
        target = self.config.journal_target()
        vault = Vault.open(self.config.gateway.originals_key_path().absolute(), create=True)
        if isinstance(target, str):  # one gateway of several: the worker nodes sanitise
            self.confinement = "on the worker nodes"
            await asyncio.to_thread(ensure_schema, target)
            self.journal = await asyncio.to_thread(open_journal, target)
            jobs = queue_app(target)
            self.ownership = ChannelOwnership(target, self.config.cluster.node)
            self.processor = TransferProcessor(self.spool, self.journal, self.pool, lambda: self.config, vault,
                                               dispatch=lambda connection, tid: enqueue(jobs, connection, tid),
                                               owns=self.owned.__contains__)  # fmt: skip
        else:
            self._check_confinement()
            await self.pool.start()
            self.journal = open_journal(target)
            self.processor = TransferProcessor(
                self.spool, self.journal, self.pool, lambda: self.config, vault
            )
            self._serve_every_channel()
        self.processor.destinations[MAIL_CHANNEL] = mail_destination(self.spool)  # also with [smtp] now off
        self.releases = OriginalReleases(self.journal, self.spool, vault, lambda: self.config)
        create_default_folders(self.config)
        self.shares = ShareWatch(self.config)
        self.watcher = InboxWatcher(loop, self.settler.offer)
        unfinished = []
        if self.ownership is None:
            self._sweep_spool()
            self.releases.resume()
            unfinished = self.journal.unfinished()
            self.backlog.extend(t.id for t in unfinished)
            self.watcher.start(self.config.channels)
            self.rescan()
        else:
            await self._review_ownership()
        if self.config.http.enabled:
            status = StatusHandlers(self, METRICS).app()
            self.status_server = LocalServer(status, self.config.http.listen, "status endpoint")
            await self.status_server.start()
        if metrics_sockets:
            scrape = StatusHandlers(self, METRICS).scrape_app()
            self.scrape_server = LocalServer(
                scrape, describe(metrics_sockets), "metrics listener", metrics_sockets
            )
            await self.scrape_server.start()
        if self.config.console.enabled:
            console = Console(self, self.config.console).app()
            self.console_server = LocalServer(console, self.config.console.listen, "console")
            await self.console_server.start()
        if self.config.smtp.enabled:
            self.mail = MailRelay(lambda: self.config, self.journal, self.spool, self.schedule,
                                  delivers=lambda: MAIL_CHANNEL in self.owned)  # fmt: skip
            await self.mail.start()
        write_state(state_path(self.config), own_state())
        notify("READY=1", f"STATUS=watching {len(self.config.channels)} channel(s)")
        log.info("gateway started", config=self.config.source, layers=self.config.layers, spool=str(self.spool.root),
                 workers=self.pool.size if self.ownership is None else 0, confinement=self.confinement,
                 channels=[c.name for c in self.config.channels], recovered=len(unfinished),
                 journal=self.config.journal_redacted(), node=self.config.cluster.node,
                 owned=sorted(self.owned))  # fmt: skip

    def _check_confinement(self) -> None:
        """Refuse to start without the workers' walls, unless the config gives them up explicitly."""
        host = probe()
        self.confinement = host.describe(self.pool.confinement)
        if self.pool.confinement == NONE:
            log.warning("workers run WITHOUT confinement ([gateway] confinement = \"none\"): a parser taken"
                        " over by a hostile file can read the spool and write the shares")  # fmt: skip
        elif host.problem is not None:
            raise ConfinementUnavailableError(host.problem)

    async def _main_loop(self) -> None:
        next_rescan = time.monotonic() + self.config.gateway.rescan_seconds
        next_purge = time.monotonic()
        watchdog = watchdog_interval()
        next_ping = time.monotonic()
        next_share_check = time.monotonic() + SHARE_CHECK_SECONDS
        next_review = next_poll = time.monotonic()
        while not self.stopping.is_set():
            if watchdog is not None and time.monotonic() >= next_ping:
                notify("WATCHDOG=1", f"STATUS={len(self.in_flight)} in flight, {len(self.settler)} waiting")
                next_ping = time.monotonic() + watchdog
            self._feed_queue()
            now = time.monotonic()
            if now >= next_rescan:
                self.rescan()
                self._tend_originals()
                next_rescan = now + self.config.gateway.rescan_seconds
            if now >= next_purge:
                self.purge_originals()
                self._purge_journal()
                next_purge = now + PURGE_INTERVAL_SECONDS
            if now >= next_share_check:
                self._check_shares()
                next_share_check = now + SHARE_CHECK_SECONDS
            if self.ownership is not None and now >= next_review:
                await self._review_ownership()
                next_review = now + self.config.cluster.takeover_seconds
            if self.ownership is not None and now >= next_poll:
                await self._poll_planned()
                next_poll = now + PLACEMENT_POLL_SECONDS
            self.wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wakeup.wait(), TICK_SECONDS)

    async def shutdown(self, consumers: list[asyncio.Task[None]]) -> None:
        """Finish what is in flight within the timeout; the rest is recovered at next start."""
        notify("STOPPING=1", "STATUS=finishing work in flight")
        if self.watcher is not None:
            self.watcher.stop()
        log.info("gateway stopping", in_flight=len(self.in_flight))
        if self.mail is not None:
            await self.mail.stop_listening(self.config.gateway.shutdown_timeout_seconds)
        deadline = time.monotonic() + self.config.gateway.shutdown_timeout_seconds
        while self.in_flight and time.monotonic() < deadline:
            await asyncio.sleep(TICK_SECONDS)
        for task in consumers:
            task.cancel()
        await asyncio.gather(*consumers, return_exceptions=True)
        if self.status_server is not None:  # before the executor goes: its handlers use threads
            await self.status_server.stop()
        if self.scrape_server is not None:
            await self.scrape_server.stop()
        if self.console_server is not None:
            await self.console_server.stop()
        if self.tending is not None:
            await asyncio.gather(self.tending, return_exceptions=True)
        if self.purging is not None:  # it sees self.stopping and ends after its current batch
            await asyncio.gather(self.purging, return_exceptions=True)
        if self.mail is not None:  # attempts in flight are cancelled: their mails stay open
            await self.mail.stop()
        await self.pool.close()
        await asyncio.get_running_loop().shutdown_default_executor()  # let I/O threads finish their step
        if self.ownership is not None:
            self.ownership.close()
        if self.journal is not None:
            self.journal.close()
        remove_state(state_path(self.config))
        log.info("gateway stopped", interrupted=len(self.in_flight))

    def reload(self) -> None:
        """SIGHUP: adopt a valid new config; an invalid one is refused and the old one kept.

        systemd hears RELOADING=1 then READY=1 either way; `mukaika reload` reads the result
        from the state file (gateway.runstate)."""
        reloading("STATUS=reloading the configuration")
        try:
            new = load_config(self.config_arg, self.registry)
            if new.gateway.spool_dir.absolute() != self.spool.root:
                raise ConfigError(new.source, ["gateway.spool_dir: cannot change without a restart"],
                                  [new.origin("gateway.spool_dir")])  # fmt: skip
            require_share_folders(new)
        except ConfigError as exc:
            self._reloaded(ReloadResult(applied=False, problems=exc.located()))
            log.error("config reload refused", problems=exc.located(), kept=self.config.layers)
            notify(
                "READY=1", f"STATUS=reload refused, {len(exc.problems)} problem(s): the previous config runs"
            )
            return
        changes = config_changes(self.config.settings, new.settings)
        self.config = new
        if self.ownership is None:
            self._serve_every_channel()
        self.settler.settle_seconds = new.gateway.settle_seconds
        create_default_folders(new)
        self.shares = ShareWatch(new)
        self._restart_watcher()
        self._reloaded(ReloadResult(applied=True, changes=changes))
        log.info("config reloaded", config=new.source, layers=new.layers, channels=[c.name for c in new.channels],
                 changes=changes)  # fmt: skip
        if waiting := [c for c in changes if c.startswith(STARTUP_ONLY)]:
            log.warning("changed settings take effect at the next restart", changes=waiting)
        notify("READY=1", f"STATUS=watching {len(new.channels)} channel(s)")

    def _reloaded(self, result: ReloadResult) -> None:
        self.reloads += 1
        write_state(state_path(self.config), own_state(self.reloads, result))

    def _restart_watcher(self) -> None:
        if self.watcher is not None:
            self.watcher.stop()
            try:
                self.watcher.start(self._served())
            except OSError as exc:  # an inbox gone again since it was checked: /readyz says so
                log.error("inbox watchers not running", error=str(exc))
        self.rescan()

    def _check_shares(self) -> None:
        if self.shares is not None and self.shares.review():
            self._restart_watcher()

    # ── for the console ────────────────────────────────────────────────────────────────
    def queue_numbers(self) -> dict[str, int]:
        return {
            "queue_depth": queue_depth(self),
            "in_flight": len(self.in_flight),
            "waiting": len(self.settler),
        }

    def schedule(self, transfer_id: str) -> None:
        """Advance a transfer soon (an approver decided it): placing stays with the consumers."""
        self.backlog.append(transfer_id)
        self.wakeup.set()

    def _tend_originals(self) -> None:
        """Expire undecided requests for originals and retry approved ones not yet placed, off the loop."""
        if self.releases is None or (self.tending is not None and not self.tending.done()):
            return
        releases = self.releases

        def tend() -> None:
            try:
                releases.expire()
                releases.resume(self.owned.__contains__)
            except JournalError as exc:  # the database away: the next rescan tends them
                log.error("release requests not tended this round", error=str(exc))

        self.tending = asyncio.create_task(asyncio.to_thread(tend))

    # ── several nodes ──────────────────────────────────────────────────────────────────
    async def _review_ownership(self) -> None:
        """Take free channel locks, give up dropped channels; resume what a taken-over channel left."""
        assert self.ownership is not None and self.journal is not None
        change = await asyncio.to_thread(self.ownership.review, self.config.channel_names())
        if not (change.gained or change.lost):
            return
        self.owned.clear()
        self.owned.update(self.ownership.owned)
        for name in sorted(change.lost):
            log.warning("channel given up", channel=name, node=self.config.cluster.node)
        for name in sorted(change.gained):
            log.info("channel taken", channel=name, node=self.config.cluster.node)
        METRICS.channels_owned.set(len(self.owned))
        if change.gained:
            try:
                resumed = await asyncio.to_thread(self._resume_channels, change.gained)
            except JournalError as exc:
                log.error("cannot read the journal to resume the channels", error=str(exc))
            else:
                self.backlog.extend(resumed)
        self._restart_watcher()

    def _resume_channels(self, channels: frozenset[str]) -> list[str]:
        """The unfinished transfers of ``channels`` a gateway must advance; tidy the finished ones."""
        assert self.journal is not None and self.processor is not None
        resumed = [
            t.id for t in self.journal.unfinished() if t.channel in channels and t.state in GATEWAY_STATES
        ]
        self._sweep_spool(channels)
        return resumed

    async def _poll_planned(self) -> None:
        """Queue the transfers of this node's channels whose outcome the workers have planned,
        and those another node left staged or half-admitted when it died."""
        assert self.journal is not None
        view = self.journal.view

        def planned() -> list[str]:
            now = time.time()
            waiting = view.waiting_in(("releasing", "rejecting", "staged", "admitted"), sorted(self.owned))
            return [t.id for t in waiting if now - t.updated >= ORPHANED_AFTER_SECONDS.get(t.state, 0)]

        try:
            ids = await asyncio.to_thread(planned)
        except JournalError as exc:
            if not self.journal_away:  # once per outage: the poll runs twice a second
                log.error("cannot read the journal; placing waits", error=str(exc))
            self.journal_away = True
            return
        if self.journal_away:
            log.info("the journal answers again")
            self.journal_away = False
        waiting = set(self.backlog)
        self.backlog.extend(i for i in ids if i not in self.in_flight and i not in waiting)

    def _serve_every_channel(self) -> None:
        """Alone, the node serves every channel the config names (and the relay's)."""
        self.owned.clear()
        self.owned.update(self.config.channel_names())
        METRICS.channels_owned.set(len(self.owned))

    def _served(self) -> tuple[Channel, ...]:
        return tuple(c for c in self.config.channels if c.name in self.owned)

    # ── intake ─────────────────────────────────────────────────────────────────────────
    def rescan(self) -> None:
        for channel in self._served():
            for path in scan_tree(channel.inbox):
                self.settler.offer(channel, path)

    def _feed_queue(self) -> None:
        """Move retried work, then settled files, into the queue while it has room."""
        assert self.processor is not None
        while self.backlog and not self.queue.full():
            self.queue.put_nowait(self.backlog.popleft())
        if self.queue.full():
            return
        for channel, path in self.settler.ready(self.queue.maxsize - self.queue.qsize()):
            self.settler.discard(path)
            if channel.name not in self.owned:  # given up meanwhile: its new owner scans it
                continue
            if path not in self.admitting:
                self.admitting.add(path)
                self.queue.put_nowait((channel, path))

    # ── work ───────────────────────────────────────────────────────────────────────────
    async def _consume(self) -> None:
        while True:
            item = await self.queue.get()
            self.wakeup.set()  # room in the queue: let the main loop admit the next file
            try:
                transfer_id = item if isinstance(item, str) else await self._admit(*item)
                if transfer_id is not None:
                    await self._advance(transfer_id, just_admitted=not isinstance(item, str))
            finally:
                self.queue.task_done()

    async def _admit(self, channel: Channel, path: Path) -> str | None:
        assert self.processor is not None
        try:
            return await asyncio.to_thread(self.processor.admit, channel, path)
        except (OSError, JournalError) as exc:
            log.error(
                "cannot stage file; left in the inbox for the next rescan", path=str(path), error=str(exc)
            )
            return None
        finally:
            self.admitting.discard(path)

    async def _advance(self, transfer_id: str, *, just_admitted: bool = False) -> None:
        assert self.processor is not None
        if transfer_id in self.in_flight:  # queued again while a consumer has it (an approval meanwhile)
            asyncio.get_running_loop().call_later(TICK_SECONDS, self.schedule, transfer_id)
            return
        self.in_flight.add(transfer_id)
        structlog.contextvars.bind_contextvars(transfer_id=transfer_id)
        try:
            await self.processor.advance(transfer_id, just_admitted=just_admitted)
            self.failures.pop(transfer_id, None)
        except asyncio.CancelledError:
            raise
        except (
            Exception
        ) as exc:  # disk full, permissions, a bug, or TransferHeldError: keep the file, retry later
            self._retry_later(transfer_id, exc)
        finally:
            structlog.contextvars.unbind_contextvars("transfer_id")
            self.in_flight.discard(transfer_id)
            if self.mail is not None:
                self.mail.transfer_finished()

    def _retry_later(self, transfer_id: str, exc: Exception) -> None:
        failures = self.failures[transfer_id] = self.failures.get(transfer_id, 0) + 1
        delay = min(RETRY_BASE_SECONDS * 2 ** (failures - 1), RETRY_MAX_SECONDS)
        error = f"{type(exc).__name__}: {exc}"
        log.error("transfer step failed; will retry", transfer_id=transfer_id, error=error,
                  retry_in_seconds=delay, failures=failures)  # fmt: skip
        self.retry_errors.append({"time": time.time(), "transfer_id": transfer_id, "error": error,
                                  "failures": failures})  # fmt: skip
        asyncio.get_running_loop().call_later(delay, self.backlog.append, transfer_id)

    # ── housekeeping ───────────────────────────────────────────────────────────────────
    def _sweep_spool(self, channels: frozenset[str] | None = None) -> None:
        """Finish the bookkeeping of transfers that reached a final state just before a crash.

        Their scratch dir is removed last, so a final transfer with anything left in the
        spool is exactly one whose temp names, original or scratch may still need tidying.
        On a shared spool, only the transfers of ``channels`` (those this node now owns).
        """
        assert self.journal is not None and self.processor is not None
        for transfer_id in self.spool.pending_ids():
            try:
                transfer = self.journal.get(transfer_id)
            except KeyError:
                log.warning("spool entry without a journal row left in place", transfer_id=transfer_id)
                continue
            if transfer.state in FINAL_STATES and (channels is None or transfer.channel in channels):
                self.processor.tidy_finished(transfer_id)

    def purge_originals(self) -> None:
        assert self.journal is not None
        cutoff = time.time() - self.config.gateway.retention_days * 86400
        try:
            for transfer in self.journal.finished_before(cutoff):
                if self.ownership is not None and transfer.channel not in self.owned:
                    continue  # several nodes: the channel's owner purges
                if not self.journal.mark_purged(transfer.id):  # requested since the query: kept
                    continue
                self.spool.original_path(transfer.id).unlink(missing_ok=True)
                log.info("original purged", transfer_id=transfer.id,
                         retention_days=self.config.gateway.retention_days)  # fmt: skip
        except JournalError as exc:  # the journal away for now: the next hourly round purges
            log.error("originals not purged this round", error=str(exc))

    def _purge_journal(self) -> None:
        """Delete journal rows past journal_retention_days in a thread, batch by batch."""
        days = self.config.gateway.journal_retention_days
        if self.journal is None or not days or (self.purging is not None and not self.purging.done()):
            return
        self.purging = asyncio.create_task(
            asyncio.to_thread(purge_journal, self.journal, days, stopping=self.stopping.is_set)
        )


def run_daemon(config: Config, config_arg: str | None, registry: Registry) -> int:
    """`mukaika run`: serve until SIGTERM/SIGINT."""
    try:
        return asyncio.run(Gateway(config, config_arg, registry).serve())
    except VaultError as exc:
        log.error("cannot start: the originals key is unusable", error=str(exc))
        return 2
    except ConfigError as exc:
        log.error("cannot start: a folder the config names is not there", problems=exc.located())
        return 2
    except ActivationError as exc:
        log.error("cannot start: the sockets passed by systemd are not the gateway's", error=str(exc))
        return 2
    except ConfinementUnavailableError as exc:
        log.error("cannot start: workers cannot be confined on this host", error=str(exc),
                  fix='a kernel with Landlock and seccomp, or [gateway] confinement = "none" (not recommended)')  # fmt: skip
        return 2
    except JournalError as exc:  # systemd starts it again (Restart=on-failure)
        log.error(
            "cannot start: the journal cannot be opened", journal=config.journal_redacted(), error=str(exc)
        )
        return 1


class ConfinementUnavailableError(RuntimeError):
    """``confinement = "full"`` on a host without Landlock or seccomp."""
