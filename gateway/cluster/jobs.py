"""The sanitise jobs of several nodes, carried by procrastinate on the journal's PostgreSQL.

A gateway node defers a transfer's job inside the transaction that records it as staged
(``enqueue``), so the journal and the queue cannot disagree after a crash. Worker nodes take
the jobs (gateway.cluster.worker_node). One job per transfer at a time: the transfer id is
both the job's lock (never two runs at once) and its queueing lock (never two waiting).
Retries with back-off, and the recovery of jobs whose worker stopped sending heartbeats,
are procrastinate's.
"""

from __future__ import annotations

import contextlib
from typing import Any

import procrastinate
import psycopg

from gateway.journal import JournalUnavailableError

SANITISE_TASK = "mukaika.sanitise"
WORKER_APPLICATION = "mukaika-worker"  # worker nodes connect as "mukaika-worker:<node>"
QUEUE = "sanitise"
#: A step that failed for a reason outside the file (the journal or spool unreachable, clamd
#: down): tried again after 2, 7, 12 … seconds, for about seven hours.
RETRY = procrastinate.RetryStrategy(max_attempts=100, wait=2, linear_wait=5)


def queue_app(url: str, *, worker_node: str = "") -> procrastinate.App:
    """The procrastinate app on ``url``: workers use an async pool; gateways defer on the
    journal's own connection and need none."""
    connector: procrastinate.BaseConnector
    if worker_node:
        # A queue that fills faster than autovacuum analyses it (a burst after a quiet hour) has
        # statistics saying "empty": the planner then checks every waiting job's lock before
        # sorting them, ~50 ms a fetch at 2,000 waiting. Without bitmap scans it walks the
        # priority index and stops at the first free job, whatever the statistics say.
        kwargs = {
            "application_name": f"{WORKER_APPLICATION}:{worker_node}",
            "options": "-c enable_bitmapscan=off",
        }
        connector = procrastinate.PsycopgConnector(conninfo=url, kwargs=kwargs)
    else:
        connector = procrastinate.SyncPsycopgConnector(conninfo=url)
    return procrastinate.App(connector=connector)


def enqueue(app: procrastinate.App, connection: Any, transfer_id: str) -> None:
    """Defer the transfer's sanitise job on ``connection``, inside the caller's transaction."""
    app.configure_task(
        SANITISE_TASK, queue=QUEUE, lock=transfer_id, queueing_lock=transfer_id, connection=connection
    ).defer(transfer_id=transfer_id)


async def replace_stalled(app: procrastinate.App, job: procrastinate.jobs.Job) -> None:
    """Give a stalled job's transfer a new job, then delete the stalled one.

    procrastinate's own retry would put the same row back in the queue; the worker that ran it,
    if it had only lost its connection, may record that run's end on the row later and send it
    round again while another node runs it. It cannot touch a new row, nor revive a deleted one.
    Until the stalled row is gone it holds the transfer's lock, so the new job waits for that.
    """
    transfer_id = str(job.task_kwargs["transfer_id"])
    deferrer = app.configure_task(SANITISE_TASK, queue=QUEUE, lock=transfer_id, queueing_lock=transfer_id)
    with contextlib.suppress(procrastinate.exceptions.AlreadyEnqueued):  # a round before ours did it
        await deferrer.defer_async(transfer_id=transfer_id)
    await app.job_manager.finish_job(job, status=procrastinate.jobs.Status.FAILED, delete_job=True)


def ensure_schema(url: str) -> None:
    """Create procrastinate's tables once; nodes starting together wait for each other.

    Raises JournalUnavailableError when PostgreSQL cannot be reached."""
    try:
        _create_schema(url)
    except psycopg.Error as exc:
        raise JournalUnavailableError(f"cannot prepare the job queue: {exc}") from None


def _create_schema(url: str) -> None:
    with psycopg.connect(url, autocommit=False, connect_timeout=10) as connection:
        connection.execute("SELECT pg_advisory_xact_lock(hashtext('mukaika/procrastinate-schema'))")
        present = connection.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
        if present is not None and not present[0]:
            schema = procrastinate.schema.SchemaManager.get_schema()
            connection.execute(schema.encode())  # one script: no parameters, taken as it is
