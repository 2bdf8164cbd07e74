"""The journal: one SQLite row per transfer, the source of truth for recovery.

A state is committed before the file operation it allows (WAL, synchronous=FULL), so after
a crash every unfinished row says what may have happened and recovery can finish it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

#: admitted → staged → sanitising → releasing | rejecting → released | rejected
#: (held: waiting for something outside, e.g. a scanner; awaiting_approval: sanitised, its
#: output planned, waiting for an approver in the console; failed: could not be finished)
FINAL_STATES = ("released", "rejected", "failed")
STATES = (
    "admitted",
    "staged",
    "sanitising",
    "releasing",
    "rejecting",
    "held",
    "awaiting_approval",
    *FINAL_STATES,
)
#: pending → approved → released, or pending → denied | expired
REQUEST_STATES = ("pending", "approved", "released", "denied", "expired")
#: Mail still to be delivered (gateway.smtp.queue.OPEN_STATES): its transfer's row must stay.
OPEN_MAIL_STATES = ("queued", "deferred")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS transfers (
    id TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    rel_dir TEXT NOT NULL,
    inbox_path TEXT NOT NULL,
    name_in TEXT NOT NULL,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    finished REAL,
    size_in INTEGER,
    sha256_in TEXT,
    file_type TEXT,
    method TEXT,
    findings TEXT,
    reason_code TEXT,
    reason_message TEXT,
    name_out TEXT,
    size_out INTEGER,
    sha256_out TEXT,
    path_out TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    original_purged INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS transfers_state ON transfers(state);
CREATE INDEX IF NOT EXISTS transfers_finished ON transfers(finished);
CREATE TABLE IF NOT EXISTS placements (
    transfer_id TEXT NOT NULL REFERENCES transfers(id),
    key TEXT NOT NULL,
    directory TEXT NOT NULL,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    final_path TEXT,
    PRIMARY KEY (transfer_id, key)
);
"""

#: Schema changes after the first release, applied in order to journals of older versions
#: (``PRAGMA user_version`` counts those applied).
_MIGRATIONS = (
    """
    ALTER TABLE transfers ADD COLUMN decided_by TEXT;
    CREATE TABLE release_requests (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        transfer_id TEXT NOT NULL REFERENCES transfers(id),
        requested_by TEXT NOT NULL,
        reason TEXT NOT NULL,
        created REAL NOT NULL,
        expires REAL NOT NULL,
        state TEXT NOT NULL,
        decided_by TEXT,
        decided REAL,
        note TEXT,
        directory TEXT,
        final_path TEXT
    );
    CREATE INDEX release_requests_state ON release_requests(state);
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        time REAL NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT,
        remote TEXT,
        detail TEXT
    );
    CREATE TABLE known_users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        disabled INTEGER NOT NULL,
        changed REAL NOT NULL
    );
    """,
    # the SMTP relay's envelope and delivery state of each mail transfer (gateway.smtp.queue)
    """
    CREATE TABLE mail (
        transfer_id TEXT PRIMARY KEY REFERENCES transfers(id),
        mail_from TEXT NOT NULL,
        recipients TEXT NOT NULL,
        subject TEXT NOT NULL,
        message_id TEXT NOT NULL,
        peer TEXT NOT NULL,
        received REAL NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt REAL NOT NULL,
        finished REAL,
        sent TEXT,
        last_error TEXT
    );
    CREATE INDEX mail_state ON mail(state, next_attempt);
    """,
)


@dataclass(frozen=True)
class Transfer:
    id: str
    channel: str
    rel_dir: str  # JSON list of cleaned folder names below the inbox
    inbox_path: str
    name_in: str
    name: str
    state: str
    created: float
    updated: float
    finished: float | None = None
    size_in: int | None = None
    sha256_in: str | None = None
    file_type: str | None = None
    method: str | None = None
    findings: str | None = None
    reason_code: str | None = None
    reason_message: str | None = None
    name_out: str | None = None
    size_out: int | None = None
    sha256_out: str | None = None
    path_out: str | None = None
    attempts: int = 0
    original_purged: int = 0
    decided_by: str | None = None  # the approver who released or denied a held transfer

    @property
    def folders(self) -> tuple[str, ...]:
        return tuple(json.loads(self.rel_dir))

    def summary(self) -> dict[str, object]:
        """What operators see of a transfer (the status page and `mukaika status --json`)."""
        finished = (
            datetime.fromtimestamp(self.finished, UTC).isoformat() if self.finished is not None else None
        )
        return {"id": self.id, "channel": self.channel, "name": self.name, "state": self.state,
                "reason": self.reason_code, "reason_message": self.reason_message, "file_type": self.file_type,
                "method": self.method, "finished": finished}  # fmt: skip


@dataclass(frozen=True)
class Placement:
    """A file to put durably into a directory exactly once (see spool.place_once)."""

    key: str
    directory: str
    name: str
    source: str
    sha256: str
    final_path: str | None = None


@dataclass(frozen=True)
class ReleaseRequest:
    """An operator's request to release a retained original, and the approver's decision."""

    id: int
    transfer_id: str
    requested_by: str
    reason: str
    created: float
    expires: float
    state: str
    decided_by: str | None = None
    decided: float | None = None
    note: str | None = None
    directory: str | None = None
    final_path: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    """Who did what to which object, from where (one row of the audit table)."""

    actor: str
    action: str
    target: str = ""
    remote: str = ""
    detail: str = ""
    time: float = 0.0
    id: int = 0


class DecisionRefusedError(Exception):
    """A request or a held transfer cannot be decided (``code`` names why, for the console)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


_TRANSFER_FIELDS = tuple(f.name for f in fields(Transfer))


class Journal:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # one connection shared by the daemon's I/O threads, serialised by a lock
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._lock = threading.RLock()
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)
        self._migrate()
        self.view = JournalView(self._db, self._lock)

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(_MIGRATIONS[version:], start=version + 1):
            # executescript commits first; the steps and the version bump commit together
            self._db.executescript(f"BEGIN IMMEDIATE; {script} PRAGMA user_version = {number}; COMMIT;")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db, self._lock)

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def transaction(self) -> _Transaction:
        """One commit for the tables kept by other modules (``with journal.transaction() as db``)."""
        return self._transaction()

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return self._rows(sql, params)

    def create(self, transfer_id: str, channel: str, folders: tuple[str, ...], inbox_path: str, name_in: str,
               name: str) -> Transfer:  # fmt: skip
        now = time.time()
        with self._transaction():
            self._db.execute(
                "INSERT INTO transfers (id, channel, rel_dir, inbox_path, name_in, name, state, created,"
                " updated) VALUES (?, ?, ?, ?, ?, ?, 'admitted', ?, ?)",
                (transfer_id, channel, json.dumps(list(folders)), inbox_path, name_in, name, now, now),
            )
        return self.get(transfer_id)

    def update(self, transfer_id: str, **values: Any) -> Transfer:
        """Commit new values (a new ``state`` among them) for one transfer."""
        _check_values(values)
        with self._transaction():
            self._update(transfer_id, values)
        return self.get(transfer_id)

    def _update(self, transfer_id: str, values: dict[str, Any]) -> None:
        values["updated"] = time.time()
        if values.get("state") in FINAL_STATES:
            values["finished"] = values["updated"]
        assignments = ", ".join(f"{k} = ?" for k in values)  # keys checked against the dataclass
        self._db.execute(f"UPDATE transfers SET {assignments} WHERE id = ?", (*values.values(), transfer_id))  # noqa: S608

    def get(self, transfer_id: str) -> Transfer:
        rows = self._rows("SELECT * FROM transfers WHERE id = ?", (transfer_id,))
        if not rows:
            raise KeyError(transfer_id)
        return Transfer(**dict(rows[0]))

    def exists(self, transfer_id: str) -> bool:
        return bool(self._rows("SELECT 1 FROM transfers WHERE id = ?", (transfer_id,)))

    def delete(self, transfer_id: str) -> None:
        with self._transaction():
            self._db.execute("DELETE FROM mail WHERE transfer_id = ?", (transfer_id,))
            self._db.execute("DELETE FROM placements WHERE transfer_id = ?", (transfer_id,))
            self._db.execute("DELETE FROM transfers WHERE id = ?", (transfer_id,))

    def unfinished(self) -> list[Transfer]:
        rows = self._rows(
            "SELECT * FROM transfers WHERE state NOT IN ('released', 'rejected', 'failed') ORDER BY created"
        )
        return [Transfer(**dict(row)) for row in rows]

    def plan_placements(self, transfer_id: str, placements: list[Placement], **values: Any) -> None:
        """Record what will be placed, and the new state, in one commit."""
        _check_values(values)
        with self._transaction():
            for p in placements:
                self._db.execute(
                    "INSERT OR IGNORE INTO placements (transfer_id, key, directory, name, source, sha256)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (transfer_id, p.key, p.directory, p.name, p.source, p.sha256),
                )
            self._update(transfer_id, values)

    def placements(self, transfer_id: str) -> list[Placement]:
        rows = self._rows(
            "SELECT key, directory, name, source, sha256, final_path FROM placements"
            " WHERE transfer_id = ? ORDER BY key",
            (transfer_id,),
        )
        return [Placement(**dict(row)) for row in rows]

    def placement_done(self, transfer_id: str, key: str, final_path: str, **values: Any) -> None:
        """Record where a placement landed, with any new transfer values, in one commit."""
        _check_values(values)
        with self._transaction():
            self._db.execute(
                "UPDATE placements SET final_path = ? WHERE transfer_id = ? AND key = ?",
                (final_path, transfer_id, key),
            )
            if values:
                self._update(transfer_id, values)

    # ── approvals and audit ────────────────────────────────────────────────────────────
    def audit(self, entry: AuditEntry) -> None:
        with self._transaction():
            self._audit(entry)

    def _audit(self, entry: AuditEntry) -> None:
        self._db.execute(
            "INSERT INTO audit (time, actor, action, target, remote, detail) VALUES (?, ?, ?, ?, ?, ?)",
            (entry.time or time.time(), entry.actor, entry.action, entry.target, entry.remote, entry.detail),
        )

    def decide_held(self, transfer_id: str, decided_by: str, audit: AuditEntry,
                    deny_placements: list[Placement] | None = None, **values: Any) -> None:  # fmt: skip
        """Release (``deny_placements`` None) or deny a transfer awaiting approval, in one commit.

        A release turns the planned output placement loose (state ``releasing``); a denial
        replaces it with ``deny_placements`` (state ``rejecting``). Raises DecisionRefusedError
        when the transfer no longer awaits approval (decided by someone else meanwhile).
        """
        _check_values(values)
        with self._transaction():
            row = self._db.execute("SELECT state FROM transfers WHERE id = ?", (transfer_id,)).fetchone()
            if row is None or row["state"] != "awaiting_approval":
                raise DecisionRefusedError("not_awaiting")
            if deny_placements is None:
                self._update(transfer_id, {"state": "releasing", "decided_by": decided_by, **values})
            else:
                self._db.execute("DELETE FROM placements WHERE transfer_id = ?", (transfer_id,))
                for p in deny_placements:
                    self._db.execute(
                        "INSERT INTO placements (transfer_id, key, directory, name, source, sha256)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        (transfer_id, p.key, p.directory, p.name, p.source, p.sha256),
                    )
                self._update(transfer_id, {"state": "rejecting", "decided_by": decided_by, **values})
            self._audit(audit)

    def request_release(self, transfer_id: str, requested_by: str, reason: str, expires: float,
                        audit: AuditEntry) -> int:  # fmt: skip
        """Record a pending request for a transfer's original; one open request per transfer."""
        with self._transaction():
            row = self._db.execute(
                "SELECT original_purged FROM transfers WHERE id = ?", (transfer_id,)
            ).fetchone()
            if row is None or row["original_purged"]:  # the retention purge may have won the race
                raise DecisionRefusedError("no_original")
            open_request = self._db.execute(
                "SELECT 1 FROM release_requests WHERE transfer_id = ? AND state IN ('pending', 'approved')",
                (transfer_id,),
            ).fetchone()
            if open_request is not None:
                raise DecisionRefusedError("already_requested")
            cursor = self._db.execute(
                "INSERT INTO release_requests (transfer_id, requested_by, reason, created, expires, state)"
                " VALUES (?, ?, ?, ?, ?, 'pending')",
                (transfer_id, requested_by, reason, time.time(), expires),
            )
            request_id = int(cursor.lastrowid or 0)
            self._audit(AuditEntry(audit.actor, audit.action, f"request:{request_id}", audit.remote,
                                   audit.detail))  # fmt: skip
        return request_id

    def decide_release(self, request_id: int, decided_by: str, *, approve: bool, note: str, now: float,
                       directory: str | None, audit: AuditEntry) -> ReleaseRequest:  # fmt: skip
        """Approve or deny a pending request, never by its requester and never once expired."""
        with self._transaction():
            request = self._request(request_id)
            if request is None or request.state != "pending":
                raise DecisionRefusedError("not_pending")
            if request.expires <= now:
                raise DecisionRefusedError("expired")
            if request.requested_by == decided_by:
                raise DecisionRefusedError("own_request")
            self._db.execute(
                "UPDATE release_requests SET state = ?, decided_by = ?, decided = ?, note = ?, directory = ?"
                " WHERE id = ? AND state = 'pending'",
                ("approved" if approve else "denied", decided_by, now, note, directory, request_id),
            )
            self._audit(audit)
        result = self._request(request_id)
        assert result is not None
        return result

    def release_placed(self, request_id: int, final_path: str, audit: AuditEntry) -> None:
        with self._transaction():
            self._db.execute(
                "UPDATE release_requests SET state = 'released', final_path = ? WHERE id = ? AND state = 'approved'",
                (final_path, request_id),
            )
            self._audit(audit)

    def expire_requests(self, now: float) -> list[ReleaseRequest]:
        """Mark pending requests past their expiry as expired (audited); return them."""
        with self._transaction():
            rows = self._db.execute(
                "SELECT * FROM release_requests WHERE state = 'pending' AND expires <= ?", (now,)
            ).fetchall()
            expired = [ReleaseRequest(**dict(row)) for row in rows]
            for request in expired:
                self._db.execute("UPDATE release_requests SET state = 'expired', decided = ? WHERE id = ?",
                                 (now, request.id))  # fmt: skip
                self._audit(AuditEntry("system", "release.expire", f"request:{request.id}",
                                       detail=f"transfer {request.transfer_id}", time=now))  # fmt: skip
        return expired

    def _request(self, request_id: int) -> ReleaseRequest | None:
        row = self._db.execute("SELECT * FROM release_requests WHERE id = ?", (request_id,)).fetchone()
        return ReleaseRequest(**dict(row)) if row is not None else None

    def sync_users(self, users: dict[str, tuple[str, bool, float]]) -> list[AuditEntry]:
        """Audit the changes made to the users file since it was last seen (by `mukaika user`).

        ``users`` maps a name to (role, disabled, changed); the journal keeps the last state seen.
        """
        entries: list[AuditEntry] = []
        with self._transaction():
            known = {row["name"]: (row["role"], bool(row["disabled"]), row["changed"])
                     for row in self._db.execute("SELECT * FROM known_users")}  # fmt: skip
            for name, (role, disabled, changed) in sorted(users.items()):
                before = known.get(name)
                if before == (role, disabled, changed):
                    continue
                if before is None:
                    action, detail = "user.add", f"role={role}"
                elif before[1] != disabled:
                    action, detail = ("user.disable" if disabled else "user.enable"), ""
                elif before[0] != role:
                    action, detail = "user.role", f"{before[0]} -> {role}"
                else:
                    action, detail = "user.passwd", ""
                entries.append(AuditEntry("users-file", action, f"user:{name}", detail=detail, time=changed))
                self._db.execute("INSERT OR REPLACE INTO known_users VALUES (?, ?, ?, ?)",
                                 (name, role, int(disabled), changed))  # fmt: skip
            for name in sorted(set(known) - set(users)):
                entries.append(AuditEntry("users-file", "user.remove", f"user:{name}"))
                self._db.execute("DELETE FROM known_users WHERE name = ?", (name,))
            for entry in entries:
                self._audit(entry)
        return entries

    def mark_purged(self, transfer_id: str) -> bool:
        """Mark a transfer's original purged unless a request for it is open; True if marked.

        Committed before the file is removed, so a request made meanwhile either sees the
        mark and is refused, or keeps the original from being removed.
        """
        with self._transaction():
            cursor = self._db.execute(
                "UPDATE transfers SET original_purged = 1 WHERE id = ? AND original_purged = 0 AND id NOT IN"
                " (SELECT transfer_id FROM release_requests WHERE state IN ('pending', 'approved'))",
                (transfer_id,),
            )
        return cursor.rowcount == 1

    def finished_before(self, cutoff: float) -> Iterator[Transfer]:
        rows = self._rows(
            "SELECT * FROM transfers WHERE finished IS NOT NULL AND finished < ? AND original_purged = 0"
            " AND id NOT IN (SELECT transfer_id FROM release_requests WHERE state IN ('pending', 'approved'))",
            (cutoff,),
        )
        return (Transfer(**dict(row)) for row in rows)

    def purge_finished(self, cutoff: float, limit: int) -> int:
        """Delete up to ``limit`` transfers finished before ``cutoff``, with their rows in other tables.

        Only rows nothing waits on any more: a final state (never held or awaiting approval),
        the original already purged, no release request open, no mail still to be delivered.
        The audit table keeps its entries. Returns how many transfers were deleted.
        """
        open_requests = ("pending", "approved")
        with self._transaction():
            rows = self._db.execute(
                f"SELECT id FROM transfers WHERE finished < ? AND state IN ({_marks(FINAL_STATES)})"  # noqa: S608
                " AND original_purged = 1 AND id NOT IN (SELECT transfer_id FROM release_requests"
                f" WHERE state IN ({_marks(open_requests)})) AND id NOT IN (SELECT transfer_id FROM mail"
                f" WHERE state IN ({_marks(OPEN_MAIL_STATES)})) ORDER BY finished LIMIT ?",
                (cutoff, *FINAL_STATES, *open_requests, *OPEN_MAIL_STATES, limit),
            ).fetchall()
            ids = [row["id"] for row in rows]
            if not ids:
                return 0
            for table in ("placements", "release_requests", "mail"):  # children first: foreign keys
                self._db.execute(f"DELETE FROM {table} WHERE transfer_id IN ({_marks(ids)})", ids)  # noqa: S608
            self._db.execute(f"DELETE FROM transfers WHERE id IN ({_marks(ids)})", ids)  # noqa: S608
        return len(ids)


class JournalView:
    """Read-only questions about the journal, asked by the status endpoint and `mukaika status`."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self._db = db
        self._lock = lock

    @classmethod
    def open_read_only(cls, path: Path) -> JournalView:
        """Open without write access (the daemon may be running); FileNotFoundError if absent."""
        if not path.is_file():
            raise FileNotFoundError(path)
        db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, isolation_level=None)
        db.row_factory = sqlite3.Row
        return cls(db, threading.RLock())

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        """A query for the tables read by other modules (gateway.smtp.queue)."""
        return self._rows(sql, params)

    def ping(self) -> None:
        """Raise sqlite3.Error unless the database answers a trivial query."""
        self._rows("SELECT count(*) FROM transfers WHERE id = ''")

    def counts_by_state(self, finished_since: float | None = None) -> dict[str, int]:
        """Transfers per state; with ``finished_since``, only those finished from then on."""
        if finished_since is None:
            rows = self._rows("SELECT state, count(*) AS n FROM transfers GROUP BY state")
        else:
            rows = self._rows("SELECT state, count(*) AS n FROM transfers WHERE finished >= ? GROUP BY state",
                              (finished_since,))  # fmt: skip
        return {row["state"]: row["n"] for row in rows}

    def recent(self, limit: int) -> list[Transfer]:
        """The last ``limit`` finished transfers, newest first."""
        rows = self._rows(
            "SELECT * FROM transfers WHERE finished IS NOT NULL ORDER BY finished DESC LIMIT ?", (limit,)
        )
        return [Transfer(**dict(row)) for row in rows]

    def errors(self, limit: int) -> list[Transfer]:
        """The last ``limit`` refusals that point at the gateway rather than at the file, newest first."""
        rows = self._rows(
            f"SELECT * FROM transfers WHERE state = 'rejected' AND {_ERROR_CODES}"  # noqa: S608
            " ORDER BY finished DESC LIMIT ?",
            (limit,),
        )
        return [Transfer(**dict(row)) for row in rows]

    def transfer(self, transfer_id: str) -> Transfer | None:
        rows = self._rows("SELECT * FROM transfers WHERE id = ?", (transfer_id,))
        return Transfer(**dict(rows[0])) if rows else None

    def search(self, *, channel: str = "", state: str = "", file_type: str = "", day: str = "",
               name: str = "", limit: int = 200, offset: int = 0) -> list[Transfer]:  # fmt: skip
        """Transfers matching every given filter, newest first; ``day`` is YYYY-MM-DD (local time)."""
        where, params = _search_filter(channel, state, file_type, day, name)
        rows = self._rows(
            f"SELECT * FROM transfers WHERE {where} ORDER BY created DESC LIMIT ? OFFSET ?",  # noqa: S608
            (*params, limit, offset),
        )
        return [Transfer(**dict(row)) for row in rows]

    def search_count(self, *, channel: str = "", state: str = "", file_type: str = "", day: str = "",
                     name: str = "") -> int:  # fmt: skip
        """How many transfers ``search`` with the same filters finds in all."""
        where, params = _search_filter(channel, state, file_type, day, name)
        return int(self._rows(f"SELECT count(*) AS n FROM transfers WHERE {where}", tuple(params))[0]["n"])  # noqa: S608

    def in_state(self, state: str, limit: int = 200) -> list[Transfer]:
        rows = self._rows("SELECT * FROM transfers WHERE state = ? ORDER BY created LIMIT ?", (state, limit))
        return [Transfer(**dict(row)) for row in rows]

    def recent_rejections(self, limit: int) -> list[Transfer]:
        rows = self._rows(
            "SELECT * FROM transfers WHERE state = 'rejected' ORDER BY finished DESC LIMIT ?", (limit,)
        )
        return [Transfer(**dict(row)) for row in rows]

    def release_request(self, request_id: int) -> ReleaseRequest | None:
        rows = self._rows("SELECT * FROM release_requests WHERE id = ?", (request_id,))
        return ReleaseRequest(**dict(rows[0])) if rows else None

    def release_requests(self, *, states: tuple[str, ...] = REQUEST_STATES, transfer_id: str = "",
                         limit: int = 200) -> list[ReleaseRequest]:  # fmt: skip
        marks = ", ".join("?" for _ in states)
        sql = f"SELECT * FROM release_requests WHERE state IN ({marks})"  # noqa: S608
        params: list[Any] = list(states)
        if transfer_id:
            sql += " AND transfer_id = ?"
            params.append(transfer_id)
        rows = self._rows(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
        return [ReleaseRequest(**dict(row)) for row in rows]

    def audit_entries(self, limit: int = 500, offset: int = 0) -> list[AuditEntry]:
        rows = self._rows("SELECT * FROM audit ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset))
        return [AuditEntry(**dict(row)) for row in rows]

    def audit_count(self) -> int:
        return int(self._rows("SELECT count(*) AS n FROM audit")[0]["n"])

    def release_request_count(self, states: tuple[str, ...] = REQUEST_STATES) -> int:
        marks = ", ".join("?" for _ in states)
        sql = f"SELECT count(*) AS n FROM release_requests WHERE state IN ({marks})"  # noqa: S608
        return int(self._rows(sql, states)[0]["n"])

    def oldest_unfinished(self) -> Transfer | None:
        rows = self._rows(
            "SELECT * FROM transfers WHERE state NOT IN ('released', 'rejected', 'failed')"
            " ORDER BY created LIMIT 1"
        )
        return Transfer(**dict(rows[0])) if rows else None

    def unfinished_by_channel(self) -> dict[tuple[str, str], tuple[int, float]]:
        """(channel, state) → (how many, creation time of the oldest), over unfinished transfers.

        States are named rather than excluded so that the state index finds the few unfinished
        rows instead of scanning the whole history (this runs at every metrics scrape).
        """
        unfinished = [s for s in STATES if s not in FINAL_STATES]
        marks = ", ".join("?" for _ in unfinished)
        rows = self._rows(
            f"SELECT channel, state, count(*) AS n, min(created) AS oldest FROM transfers"  # noqa: S608
            f" WHERE state IN ({marks}) GROUP BY channel, state",
            tuple(unfinished),
        )
        return {(row["channel"], row["state"]): (row["n"], row["oldest"]) for row in rows}


#: Reason codes of refusals caused by a worker, a sanitiser bug or a failed output check.
_ERROR_CODES = (
    "(reason_code LIKE 'worker.%' OR reason_code LIKE 'verify.%' OR reason_code = 'sanitizer.crash')"
)


def _search_filter(channel: str, state: str, file_type: str, day: str, name: str) -> tuple[str, list[str]]:
    """The WHERE clause (and its parameters) of a transfer search."""
    clauses, params = ["1 = 1"], []
    for column, value in (("channel", channel), ("state", state), ("file_type", file_type)):
        if value:
            clauses.append(f"{column} = ?")
            params.append(value)
    if day:
        clauses.append("date(created, 'unixepoch', 'localtime') = ?")
        params.append(day)
    if name:
        clauses.append("(instr(lower(name), lower(?)) > 0 OR instr(lower(name_out), lower(?)) > 0)")
        params += [name, name]
    return " AND ".join(clauses), params


def _marks(values: Sequence[object]) -> str:
    """One placeholder per value, for ``IN (...)``."""
    return ", ".join("?" * len(values))


def _check_values(values: dict[str, Any]) -> None:
    unknown = set(values) - set(_TRANSFER_FIELDS)
    if unknown or values.get("state", "admitted") not in STATES:
        raise ValueError(f"bad journal update {sorted(unknown) or values.get('state')}")


class _Transaction:
    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self._db = db
        self._lock = lock

    def __enter__(self) -> sqlite3.Connection:
        self._lock.acquire()
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
        finally:
            self._lock.release()
