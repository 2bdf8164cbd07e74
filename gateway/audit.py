"""Audit records: every console action and user change, in the journal's table and the log.

The journal row is the record operators can list in the console; the log line (event
"audit", with ACTOR, ACTION, TARGET fields under journald) reaches the central log store.
"""

from __future__ import annotations

import structlog

from gateway.journal import AuditEntry, Journal

log = structlog.get_logger("mukaika.audit")


def log_audit(entry: AuditEntry) -> None:
    log.info("audit", actor=entry.actor, action=entry.action, target=entry.target, remote=entry.remote,
             detail=entry.detail)  # fmt: skip


def record(journal: Journal, entry: AuditEntry) -> None:
    journal.audit(entry)
    log_audit(entry)
