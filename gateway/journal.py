"""The journal: one row per transfer, the source of truth for recovery.

A state is committed before the file operation it allows (SQLite: WAL, synchronous=FULL), so
after a crash every unfinished row says what may have happened and recovery can finish it.
The rows live in a SQLite file in the spool, or in a PostgreSQL database that several nodes
share (gateway.journal_sql: the SQL here is written once for both).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload

from gateway.dburl import redact_url
from gateway.journal_sql import Database, Session, open_database
from gateway.journal_sql import JournalError as JournalError
from gateway.journal_sql import JournalUnavailableError as JournalUnavailableError
from gateway.journal_sql import Row as Row

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
#: (SQLite's ``PRAGMA user_version``, PostgreSQL's schema_version table count those applied).
#: Written for SQLite; gateway.journal_sql gives PostgreSQL its column types.
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
    """The transfers, their placements, release requests, audit and the users seen, on one database.

    ``target`` is a path (the embedded SQLite file) or a ``postgresql://`` URL (a database
    several nodes share); see gateway.journal_sql for what differs between the two.
    """

    def __init__(self, target: str | Path) -> None:
        self._db = open_database(target)
        try:
            self._db.ensure_schema(_SCHEMA, _MIGRATIONS)
        except BaseException:
            self._db.close()
            raise
        self.view = JournalView(self._db)

    @property
    def backend(self) -> str:
        """The database: "sqlite" or "postgresql"."""
        return self._db.backend

    @property
    def url(self) -> str | None:
        """The PostgreSQL URL, password included (None for SQLite): log only ``redact_url(url)``."""
        return self._db.url

    def close(self) -> None:
        self._db.close()

    def transaction(self) -> AbstractContextManager[Session]:
        """One commit for the tables kept by other modules (``with journal.transaction() as db``).

        ``db.execute(sql, params)`` takes SQL with ``?`` placeholders that both databases accept.
        """
        return self._db.transaction()

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Row]:
        return self._db.rows(sql, params)

    def create(self, transfer_id: str, channel: str, folders: tuple[str, ...], inbox_path: str, name_in: str,
               name: str) -> Transfer:  # fmt: skip
        now = time.time()
        with self._db.transaction() as db:
            db.execute(
                "INSERT INTO transfers (id, channel, rel_dir, inbox_path, name_in, name, state, created,"
                " updated) VALUES (?, ?, ?, ?, ?, ?, 'admitted', ?, ?)",
                (transfer_id, channel, json.dumps(list(folders)), inbox_path, name_in, name, now, now),
            )
        return self.get(transfer_id)

    @overload
    def update(self, transfer_id: str, *, expect: Mapping[str, Any], then: Callable[[Any], None] | None = None,
               **values: Any) -> Transfer | None: ...  # fmt: skip
    @overload
    def update(self, transfer_id: str, *, then: Callable[[Any], None], **values: Any) -> Transfer: ...
    @overload
    def update(self, transfer_id: str, **values: Any) -> Transfer: ...
    def update(self, transfer_id: str, *, expect: Mapping[str, Any] | None = None,
               then: Callable[[Any], None] | None = None, **values: Any) -> Transfer | None:  # fmt: skip
        """Commit new values (a new ``state`` among them) for one transfer; return it as committed.

        With ``expect``, only if the row's columns still hold those values (another node may
        have moved it on meanwhile): None when they did not, and nothing is written.
        ``then(connection)`` runs in the same transaction after the update (only if it
        applied), with the database driver's own connection, for rows that must commit with
        it; if it raises, nothing of the transaction is kept.
        """
        _check_values(values)
        _check_expect(expect)
        with self._db.transaction() as db:
            row = _update(db, transfer_id, values, expect)
            if row is None:
                if expect is None:
                    raise KeyError(transfer_id)
                return None
            if then is not None:
                then(db.connection)
        return Transfer(**dict(row))

    def get(self, transfer_id: str) -> Transfer:
        rows = self._db.rows("SELECT * FROM transfers WHERE id = ?", (transfer_id,))
        if not rows:
            raise KeyError(transfer_id)
        return Transfer(**dict(rows[0]))

    def delete(self, transfer_id: str) -> None:
        with self._db.transaction() as db:
            db.execute("DELETE FROM mail WHERE transfer_id = ?", (transfer_id,))
            db.execute("DELETE FROM placements WHERE transfer_id = ?", (transfer_id,))
            db.execute("DELETE FROM transfers WHERE id = ?", (transfer_id,))

    def unfinished(self) -> list[Transfer]:
        rows = self._db.rows(
            "SELECT * FROM transfers WHERE state NOT IN ('released', 'rejected', 'failed') ORDER BY created"
        )
        return [Transfer(**dict(row)) for row in rows]

    def plan_placements(self, transfer_id: str, placements: list[Placement], *,
                        expect: Mapping[str, Any] | None = None, **values: Any) -> bool:  # fmt: skip
        """Record what will be placed, and the new state, in one commit; whether it applied.

        A placement already planned under its key stays as first planned. With ``expect``,
        as ``update``: nothing is recorded unless the row still holds those values.
        """
        _check_values(values)
        _check_expect(expect)
        with self._db.transaction() as db:
            if _update(db, transfer_id, values, expect) is None and expect is not None:
                return False
            for p in placements:
                db.execute(
                    "INSERT INTO placements (transfer_id, key, directory, name, source, sha256)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                    (transfer_id, p.key, p.directory, p.name, p.source, p.sha256),
                )
        return True

    def placements(self, transfer_id: str) -> list[Placement]:
        rows = self._db.rows(
            "SELECT key, directory, name, source, sha256, final_path FROM placements"
            " WHERE transfer_id = ? ORDER BY key",
            (transfer_id,),
        )
        return [Placement(**dict(row)) for row in rows]

    def placement_done(self, transfer_id: str, key: str, final_path: str, **values: Any) -> None:
        """Record where a placement landed, with any new transfer values, in one commit."""
        _check_values(values)
        with self._db.transaction() as db:
            db.execute(
                "UPDATE placements SET final_path = ? WHERE transfer_id = ? AND key = ?",
                (final_path, transfer_id, key),
            )
            if values:
                _update(db, transfer_id, values)

    # ── approvals and audit ────────────────────────────────────────────────────────────
    def audit(self, entry: AuditEntry) -> None:
        with self._db.transaction() as db:
            _audit(db, entry)

    def decide_held(self, transfer_id: str, decided_by: str, audit: AuditEntry,
                    deny_placements: list[Placement] | None = None, **values: Any) -> None:  # fmt: skip
        """Release (``deny_placements`` None) or deny a transfer awaiting approval, in one commit.

        A release turns the planned output placement loose (state ``releasing``); a denial
        replaces it with ``deny_placements`` (state ``rejecting``). Raises DecisionRefusedError
        when the transfer no longer awaits approval (decided by someone else meanwhile, on
        this node or another: the update applies only to a row still awaiting).
        """
        _check_values(values)
        state = "releasing" if deny_placements is None else "rejecting"
        with self._db.transaction() as db:
            decided = _update(db, transfer_id, {"state": state, "decided_by": decided_by, **values},
                              {"state": "awaiting_approval"})  # fmt: skip
            if decided is None:
                raise DecisionRefusedError("not_awaiting")
            if deny_placements is not None:
                db.execute("DELETE FROM placements WHERE transfer_id = ?", (transfer_id,))
                for p in deny_placements:
                    db.execute(
                        "INSERT INTO placements (transfer_id, key, directory, name, source, sha256)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        (transfer_id, p.key, p.directory, p.name, p.source, p.sha256),
                    )
            _audit(db, audit)

    def request_release(self, transfer_id: str, requested_by: str, reason: str, expires: float,
                        audit: AuditEntry) -> int:  # fmt: skip
        """Record a pending request for a transfer's original; one open request per transfer."""
        with self._db.transaction() as db:
            # the transfer's row locked first: a second request, or the purge, waits for this commit
            row = db.locking("SELECT original_purged FROM transfers WHERE id = ?", (transfer_id,)).fetchone()
            if row is None or row["original_purged"]:  # the retention purge may have won the race
                raise DecisionRefusedError("no_original")
            open_request = db.execute(
                "SELECT 1 FROM release_requests WHERE transfer_id = ? AND state IN ('pending', 'approved')",
                (transfer_id,),
            ).fetchone()
            if open_request is not None:
                raise DecisionRefusedError("already_requested")
            created = db.execute(
                "INSERT INTO release_requests (transfer_id, requested_by, reason, created, expires, state)"
                " VALUES (?, ?, ?, ?, ?, 'pending') RETURNING id",
                (transfer_id, requested_by, reason, time.time(), expires),
            ).fetchone()
            assert created is not None
            request_id = int(created["id"])
            _audit(
                db, AuditEntry(audit.actor, audit.action, f"request:{request_id}", audit.remote, audit.detail)
            )
        return request_id

    def decide_release(self, request_id: int, decided_by: str, *, approve: bool, note: str, now: float,
                       directory: str | None, audit: AuditEntry) -> ReleaseRequest:  # fmt: skip
        """Approve or deny a pending request, never by its requester and never once expired."""
        with self._db.transaction() as db:
            row = db.locking("SELECT * FROM release_requests WHERE id = ?", (request_id,)).fetchone()
            if row is None or row["state"] != "pending":
                raise DecisionRefusedError("not_pending")
            if row["expires"] <= now:
                raise DecisionRefusedError("expired")
            if row["requested_by"] == decided_by:
                raise DecisionRefusedError("own_request")
            decided = db.execute(
                "UPDATE release_requests SET state = ?, decided_by = ?, decided = ?, note = ?, directory = ?"
                " WHERE id = ? AND state = 'pending' RETURNING *",
                ("approved" if approve else "denied", decided_by, now, note, directory, request_id),
            ).fetchone()
            assert decided is not None  # the row is locked and was pending
            _audit(db, audit)
        return ReleaseRequest(**dict(decided))

    def release_placed(self, request_id: int, final_path: str, audit: AuditEntry) -> None:
        with self._db.transaction() as db:
            db.execute(
                "UPDATE release_requests SET state = 'released', final_path = ? WHERE id = ? AND state = 'approved'",
                (final_path, request_id),
            )
            _audit(db, audit)

    def expire_requests(self, now: float) -> list[ReleaseRequest]:
        """Mark pending requests past their expiry as expired (audited); return them."""
        with self._db.transaction() as db:
            rows = db.locking(
                "SELECT * FROM release_requests WHERE state = 'pending' AND expires <= ?", (now,)
            )
            expired = [ReleaseRequest(**dict(row)) for row in rows]
            for request in expired:
                db.execute("UPDATE release_requests SET state = 'expired', decided = ? WHERE id = ?",
                           (now, request.id))  # fmt: skip
                _audit(db, AuditEntry("system", "release.expire", f"request:{request.id}",
                                      detail=f"transfer {request.transfer_id}", time=now))  # fmt: skip
        return expired

    def sync_users(self, users: dict[str, tuple[str, bool, float]]) -> list[AuditEntry]:
        """Audit the changes made to the users file since it was last seen (by `mukaika user`).

        ``users`` maps a name to (role, disabled, changed); the journal keeps the last state seen.
        """
        entries: list[AuditEntry] = []
        with self._db.transaction() as db:
            db.lock_table("known_users")  # two nodes reading the same file audit each change once
            known = {row["name"]: (row["role"], bool(row["disabled"]), row["changed"])
                     for row in db.execute("SELECT * FROM known_users")}  # fmt: skip
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
                db.execute(
                    "INSERT INTO known_users (name, role, disabled, changed) VALUES (?, ?, ?, ?) ON CONFLICT (name)"
                    " DO UPDATE SET role = excluded.role, disabled = excluded.disabled, changed = excluded.changed",
                    (name, role, int(disabled), changed),
                )
            for name in sorted(set(known) - set(users)):
                entries.append(AuditEntry("users-file", "user.remove", f"user:{name}"))
                db.execute("DELETE FROM known_users WHERE name = ?", (name,))
            for entry in entries:
                _audit(db, entry)
        return entries

    def mark_purged(self, transfer_id: str) -> bool:
        """Mark a transfer's original purged unless a request for it is open; True if marked.

        Committed before the file is removed, so a request made meanwhile either sees the
        mark and is refused, or keeps the original from being removed.
        """
        with self._db.transaction() as db:
            # locked first, so that the update's look at the requests sees one committed meanwhile
            db.locking("SELECT id FROM transfers WHERE id = ?", (transfer_id,))
            marked = db.execute(
                "UPDATE transfers SET original_purged = 1 WHERE id = ? AND original_purged = 0 AND id NOT IN"
                " (SELECT transfer_id FROM release_requests WHERE state IN ('pending', 'approved'))",
                (transfer_id,),
            )
        return marked.rowcount == 1

    def finished_before(self, cutoff: float) -> Iterator[Transfer]:
        rows = self._db.rows(
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
        with self._db.transaction() as db:
            rows = db.locking(
                f"SELECT id FROM transfers WHERE finished < ? AND state IN ({_marks(FINAL_STATES)})"  # noqa: S608
                " AND original_purged = 1 AND id NOT IN (SELECT transfer_id FROM release_requests"
                f" WHERE state IN ({_marks(open_requests)})) AND id NOT IN (SELECT transfer_id FROM mail"
                f" WHERE state IN ({_marks(OPEN_MAIL_STATES)})) ORDER BY finished LIMIT ?",
                (cutoff, *FINAL_STATES, *open_requests, *OPEN_MAIL_STATES, limit),
            )
            ids = [row["id"] for row in rows]
            if not ids:
                return 0
            for table in ("placements", "release_requests", "mail"):  # children first: foreign keys
                db.execute(f"DELETE FROM {table} WHERE transfer_id IN ({_marks(ids)})", ids)  # noqa: S608
            db.execute(f"DELETE FROM transfers WHERE id IN ({_marks(ids)})", ids)  # noqa: S608
        return len(ids)


def open_journal(target: str | Path) -> Journal:
    """The journal at ``target``: a ``postgresql://`` (or ``postgres://``) URL, else a SQLite file's path."""
    return Journal(target)


class JournalView:
    """Read-only questions about the journal, asked by the status endpoint and `mukaika status`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @classmethod
    def open_read_only(cls, target: str | Path) -> JournalView:
        """Open without write access (the daemon may be running); FileNotFoundError if absent.

        A PostgreSQL journal is read over a connection whose transactions are read-only; it is
        absent while no gateway has created its tables.
        """
        db = open_database(target, read_only=True)
        try:
            if not db.has_table("transfers"):
                raise FileNotFoundError(f"no journal tables at {redact_url(str(target))}")
        except BaseException:
            db.close()
            raise
        return cls(db)

    def close(self) -> None:
        self._db.close()

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[Row]:
        """A query for the tables read by other modules (gateway.smtp.queue), ``?`` placeholders."""
        return self._db.rows(sql, params)

    def has_table(self, name: str) -> bool:
        """Whether the journal has the table (a journal opened read-only is not migrated)."""
        return self._db.has_table(name)

    def ping(self) -> None:
        """Raise JournalError unless the database answers a trivial query."""
        self._db.rows("SELECT count(*) AS n FROM transfers WHERE id = ''")

    def counts_by_state(self, finished_since: float | None = None) -> dict[str, int]:
        """Transfers per state; with ``finished_since``, only those finished from then on."""
        if finished_since is None:
            rows = self._db.rows("SELECT state, count(*) AS n FROM transfers GROUP BY state")
        else:
            rows = self._db.rows("SELECT state, count(*) AS n FROM transfers WHERE finished >= ? GROUP BY state",
                                 (finished_since,))  # fmt: skip
        return {row["state"]: row["n"] for row in rows}

    def recent(self, limit: int) -> list[Transfer]:
        """The last ``limit`` finished transfers, newest first."""
        rows = self._db.rows(
            "SELECT * FROM transfers WHERE finished IS NOT NULL ORDER BY finished DESC LIMIT ?", (limit,)
        )
        return [Transfer(**dict(row)) for row in rows]

    def errors(self, limit: int) -> list[Transfer]:
        """The last ``limit`` refusals that point at the gateway rather than at the file, newest first."""
        rows = self._db.rows(
            f"SELECT * FROM transfers WHERE state = 'rejected' AND {_ERROR_CODES}"  # noqa: S608
            " ORDER BY finished DESC LIMIT ?",
            (limit,),
        )
        return [Transfer(**dict(row)) for row in rows]

    def transfer(self, transfer_id: str) -> Transfer | None:
        rows = self._db.rows("SELECT * FROM transfers WHERE id = ?", (transfer_id,))
        return Transfer(**dict(rows[0])) if rows else None

    def search(self, *, channel: str = "", state: str = "", file_type: str = "", day: str = "",
               name: str = "", limit: int = 200, offset: int = 0) -> list[Transfer]:  # fmt: skip
        """Transfers matching every given filter, newest first; ``day`` is YYYY-MM-DD (local time)."""
        where, params = _search_filter(channel, state, file_type, day, name)
        rows = self._db.rows(
            f"SELECT * FROM transfers WHERE {where} ORDER BY created DESC LIMIT ? OFFSET ?",  # noqa: S608
            (*params, limit, offset),
        )
        return [Transfer(**dict(row)) for row in rows]

    def search_count(self, *, channel: str = "", state: str = "", file_type: str = "", day: str = "",
                     name: str = "") -> int:  # fmt: skip
        """How many transfers ``search`` with the same filters finds in all."""
        where, params = _search_filter(channel, state, file_type, day, name)
        return int(self._db.rows(f"SELECT count(*) AS n FROM transfers WHERE {where}", tuple(params))[0]["n"])  # noqa: S608

    def in_state(self, state: str, limit: int = 200) -> list[Transfer]:
        rows = self._db.rows(
            "SELECT * FROM transfers WHERE state = ? ORDER BY created LIMIT ?", (state, limit)
        )
        return [Transfer(**dict(row)) for row in rows]

    def waiting_in(self, states: Sequence[str], channels: Sequence[str], limit: int = 500) -> list[Transfer]:
        """Transfers in one of ``states`` of one of ``channels``, oldest first (a gateway node's
        poll for its own channels: another node's backlog must not hide them)."""
        if not states or not channels:
            return []
        rows = self._db.rows(
            f"SELECT * FROM transfers WHERE state IN ({_marks(states)}) AND channel IN ({_marks(channels)})"  # noqa: S608
            " ORDER BY created LIMIT ?",
            (*states, *channels, limit),
        )
        return [Transfer(**dict(row)) for row in rows]

    def recent_rejections(self, limit: int) -> list[Transfer]:
        rows = self._db.rows(
            "SELECT * FROM transfers WHERE state = 'rejected' ORDER BY finished DESC LIMIT ?", (limit,)
        )
        return [Transfer(**dict(row)) for row in rows]

    def release_request(self, request_id: int) -> ReleaseRequest | None:
        rows = self._db.rows("SELECT * FROM release_requests WHERE id = ?", (request_id,))
        return ReleaseRequest(**dict(rows[0])) if rows else None

    def release_requests(self, *, states: tuple[str, ...] = REQUEST_STATES, transfer_id: str = "",
                         limit: int = 200) -> list[ReleaseRequest]:  # fmt: skip
        sql = f"SELECT * FROM release_requests WHERE state IN ({_marks(states)})"  # noqa: S608
        params: list[Any] = list(states)
        if transfer_id:
            sql += " AND transfer_id = ?"
            params.append(transfer_id)
        rows = self._db.rows(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
        return [ReleaseRequest(**dict(row)) for row in rows]

    def audit_entries(self, limit: int = 500, offset: int = 0) -> list[AuditEntry]:
        rows = self._db.rows("SELECT * FROM audit ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset))
        return [AuditEntry(**dict(row)) for row in rows]

    def audit_count(self) -> int:
        return int(self._db.rows("SELECT count(*) AS n FROM audit")[0]["n"])

    def release_request_count(self, states: tuple[str, ...] = REQUEST_STATES) -> int:
        sql = f"SELECT count(*) AS n FROM release_requests WHERE state IN ({_marks(states)})"  # noqa: S608
        return int(self._db.rows(sql, states)[0]["n"])

    def oldest_unfinished(self) -> Transfer | None:
        rows = self._db.rows(
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
        rows = self._db.rows(
            f"SELECT channel, state, count(*) AS n, min(created) AS oldest FROM transfers"  # noqa: S608
            f" WHERE state IN ({_marks(unfinished)}) GROUP BY channel, state",
            tuple(unfinished),
        )
        return {(row["channel"], row["state"]): (row["n"], row["oldest"]) for row in rows}


#: Reason codes of refusals caused by a worker, a sanitiser bug, a failed output check or a spool changed underneath.
_ERROR_CODES = "(reason_code LIKE 'worker.%' OR reason_code LIKE 'verify.%' OR reason_code IN ('sanitizer.crash', 'spool.changed'))"


def _update(db: Session, transfer_id: str, values: Mapping[str, Any],
            expect: Mapping[str, Any] | None = None) -> Row | None:  # fmt: skip
    """Set ``values`` (and ``updated``, ``finished`` on a final state) on a transfer still matching
    ``expect``; the row as updated, or None if no row matched."""
    values = {**values, "updated": time.time()}
    if values.get("state") in FINAL_STATES:
        values["finished"] = values["updated"]
    assignments = ", ".join(f"{k} = ?" for k in values)  # keys checked against the dataclass
    conditions, expected = _matching(expect or {})
    return db.execute(
        f"UPDATE transfers SET {assignments} WHERE id = ?{conditions} RETURNING *",  # noqa: S608
        (*values.values(), transfer_id, *expected),
    ).fetchone()


def _matching(expect: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """`` AND column = ?`` for each expected value (``IS NULL`` for None), and the parameters."""
    conditions, params = "", []
    for column, value in expect.items():  # keys checked against the dataclass
        if value is None:
            conditions += f" AND {column} IS NULL"
        else:
            conditions += f" AND {column} = ?"
            params.append(value)
    return conditions, params


def _audit(db: Session, entry: AuditEntry) -> None:
    db.execute(
        "INSERT INTO audit (time, actor, action, target, remote, detail) VALUES (?, ?, ?, ?, ?, ?)",
        (entry.time or time.time(), entry.actor, entry.action, entry.target, entry.remote, entry.detail),
    )


def _search_filter(channel: str, state: str, file_type: str, day: str, name: str) -> tuple[str, list[Any]]:
    """The WHERE clause (and its parameters) of a transfer search."""
    clauses: list[str] = ["1 = 1"]
    params: list[Any] = []
    for column, value in (("channel", channel), ("state", state), ("file_type", file_type)):
        if value:
            clauses.append(f"{column} = ?")
            params.append(value)
    if day:
        local_day = _local_day(day)
        if local_day is None:
            clauses.append("1 = 0")  # no such day: nothing was created on it
        else:
            clauses.append("created >= ? AND created < ?")
            params += local_day
    if name:
        pattern = "%" + name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clauses.append("(lower(name) LIKE lower(?) ESCAPE '\\' OR lower(name_out) LIKE lower(?) ESCAPE '\\')")
        params += [pattern, pattern]
    return " AND ".join(clauses), params


def _local_day(day: str) -> list[float] | None:
    """[start, end) of the local day YYYY-MM-DD as epoch seconds (23 or 25 hours across DST)."""
    try:
        date = datetime.strptime(day, "%Y-%m-%d")
    except ValueError:
        return None
    start = time.mktime((date.year, date.month, date.day, 0, 0, 0, 0, 0, -1))
    end = time.mktime((date.year, date.month, date.day + 1, 0, 0, 0, 0, 0, -1))  # mktime rolls the month
    return [start, end]


def _marks(values: Sequence[object]) -> str:
    """One placeholder per value, for ``IN (...)``."""
    return ", ".join("?" * len(values))


def _check_values(values: Mapping[str, Any]) -> None:
    unknown = set(values) - set(_TRANSFER_FIELDS)
    if unknown or values.get("state", "admitted") not in STATES:
        raise ValueError(f"bad journal update {sorted(unknown) or values.get('state')}")


def _check_expect(expect: Mapping[str, Any] | None) -> None:
    unknown = set(expect or {}) - set(_TRANSFER_FIELDS)
    if unknown:
        raise ValueError(f"bad journal condition {sorted(unknown)}")
