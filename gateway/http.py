"""The operators' status endpoint: /healthz, /readyz, /metrics, /status.

Off unless ``[http] listen`` is set, and then bound only to loopback or a unix socket (the
config refuses anything else): it reports on the gateway, it never controls it. Journal and
spool checks run in threads so that a slow disk cannot stall the event loop.

The socket systemd passes for Prometheus (``mukaika-http.socket``, TCP) gets ``scrape_app``:
/metrics, /healthz and /readyz only. /status names files and people, and the console is never
there: a TCP port is reachable by every local user and, opened up, by a Prometheus elsewhere.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import tempfile
from collections.abc import Collection, Mapping, Sized
from pathlib import Path
from typing import Any, Protocol

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from gateway.config import Config
from gateway.folders import ShareWatch
from gateway.intake import InboxWatcher, Settler
from gateway.isolation.provider import IsolationProvider
from gateway.journal import Journal, JournalError
from gateway.metrics import Metrics
from gateway.smtp.queue import MailView
from gateway.smtp.relay import MailRelay
from gateway.spool import Spool

log = structlog.get_logger("mukaika.http")

RECENT_TRANSFERS = 20
LAST_ERRORS = 10


class StatusSource(Protocol):
    """What the endpoint reads from the running gateway (``gateway.daemon.Gateway``)."""

    @property
    def config(self) -> Config: ...
    @property
    def watcher(self) -> InboxWatcher | None: ...
    @property
    def spool(self) -> Spool: ...
    @property
    def journal(self) -> Journal | None: ...
    @property
    def pool(self) -> IsolationProvider | None: ...
    @property
    def confinement(self) -> str: ...
    @property
    def queue(self) -> asyncio.Queue[Any]: ...
    @property
    def backlog(self) -> Sized: ...
    @property
    def in_flight(self) -> Sized: ...
    @property
    def settler(self) -> Settler: ...
    @property
    def retry_errors(self) -> Collection[Mapping[str, object]]: ...
    @property
    def mail(self) -> MailRelay | None: ...
    @property
    def shares(self) -> ShareWatch | None: ...


async def readiness(source: StatusSource) -> dict[str, str]:
    """Each check's result: "ok" or what is wrong."""
    watching = source.watcher is not None and source.watcher.running
    return {
        "watchers": "ok" if watching else "inbox watchers not running",
        "spool": await asyncio.to_thread(_spool_writable, source.spool.root),
        "journal": await asyncio.to_thread(_journal_answers, source.journal),
        "workers": "ok" if source.pool is not None and source.pool.size > 0 else "no worker pool",
        "shares": await asyncio.to_thread(_shares_present, source.shares),
    }


def _shares_present(shares: ShareWatch | None) -> str:
    if shares is None:
        return "share folders not checked yet"
    problems = shares.problems()
    return "; ".join(f"{key}: {why}" for key, why in problems.items()) or "ok"


def _spool_writable(root: Path) -> str:
    try:
        fd, name = tempfile.mkstemp(prefix=".readyz-", dir=root)
        os.close(fd)
        Path(name).unlink()
    except OSError as exc:
        return f"spool not writable: {exc.strerror or exc}"
    return "ok"


def _journal_answers(journal: Journal | None) -> str:
    if journal is None:
        return "journal not open"
    try:
        journal.view.ping()
    except JournalError as exc:
        return f"journal error: {exc}"
    return "ok"


def queue_depth(source: StatusSource) -> int:
    return source.queue.qsize() + len(source.backlog)


class StatusHandlers:
    def __init__(self, source: StatusSource, metrics: Metrics) -> None:
        self.source = source
        self.metrics = metrics
        metrics.read_journal(lambda: source.journal.view if source.journal is not None else None,
                             lambda: source.config.channel_names())  # fmt: skip

    def app(self) -> web.Application:
        app = self.scrape_app()
        app.router.add_get("/status", self.status)
        return app

    def scrape_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self.healthz)
        app.router.add_get("/readyz", self.readyz)
        app.router.add_get("/metrics", self.metrics_text)
        return app

    async def healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(self, request: web.Request) -> web.Response:
        checks = await readiness(self.source)
        failed = sorted(name for name, result in checks.items() if result != "ok")
        body = {
            "ready": not failed,
            "failed": failed,
            "checks": checks,
            "confinement": self.source.confinement,
        }
        return web.json_response(body, status=503 if failed else 200)

    async def metrics_text(self, request: web.Request) -> web.Response:
        source = self.source
        self.metrics.observe_gateway(queue_depth=queue_depth(source), waiting=len(source.settler),
                                     oldest_waiting=source.settler.oldest_age(),
                                     in_flight=len(source.in_flight))  # fmt: skip
        body = await asyncio.to_thread(self.metrics.exposition)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def status(self, request: web.Request) -> web.Response:
        source = self.source
        if source.journal is None:
            return web.json_response({"error": "journal not open"}, status=503)
        view = source.journal.view
        counts, recent, errors, mail_states = await asyncio.to_thread(
            lambda: (view.counts_by_state(), view.recent(RECENT_TRANSFERS), view.errors(LAST_ERRORS),
                     MailView(view).counts())
        )  # fmt: skip
        relay = source.mail
        mail = None
        if relay is not None:
            mail = {
                "queue": relay.queue_size,
                "delivering": len(relay.delivery.in_flight),
                "states": mail_states,
            }
        body = {
            "states": counts,
            "queue_depth": queue_depth(source),
            "waiting": len(source.settler),
            "oldest_waiting_seconds": round(source.settler.oldest_age(), 3),
            "in_flight": len(source.in_flight),
            "confinement": source.confinement,
            "workers": dataclasses.asdict(source.pool.stats) if source.pool is not None else None,
            "recent": [t.summary() for t in recent],
            "last_errors": [t.summary() for t in errors],
            "retry_errors": [dict(error) for error in source.retry_errors],
            "mail": mail,
        }
        return web.json_response(body)
