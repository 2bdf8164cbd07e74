"""Journal retention: transfers finished more than ``[gateway] journal_retention_days`` ago go.

The purge deletes in small batches, each its own short transaction, so the transfers in
flight commit between them instead of waiting behind one long delete; the daemon runs it
in a thread at start-up and hourly, right after the originals' purge. What a row still
matters for stays (``Journal.purge_finished``): unfinished, held and awaiting transfers,
originals not yet purged, open release requests, mail not yet delivered.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from gateway.journal import Journal, JournalError

log = structlog.get_logger("mukaika.retention")

BATCH_ROWS = 500
PAUSE_SECONDS = 0.05  # between batches: room for the commits of transfers in flight


def purge_journal(journal: Journal, days: int, *, now: float | None = None,
                  stopping: Callable[[], bool] = lambda: False) -> int:  # fmt: skip
    """Delete the rows past retention (none with ``days`` 0); return how many transfers went."""
    if days <= 0:
        return 0
    cutoff = (time.time() if now is None else now) - days * 86400
    purged = 0
    try:
        while not stopping():
            deleted = journal.purge_finished(cutoff, BATCH_ROWS)
            purged += deleted
            if deleted < BATCH_ROWS:
                break
            time.sleep(PAUSE_SECONDS)
    except JournalError as exc:  # disk full, a locked file, the server gone: the next hourly run tries again
        log.error("journal purge stopped; will retry", error=str(exc), purged=purged)
    if purged:
        log.info("journal purged", transfers=purged, journal_retention_days=days,
                 finished_before=datetime.fromtimestamp(cutoff, UTC).isoformat())  # fmt: skip
    return purged
