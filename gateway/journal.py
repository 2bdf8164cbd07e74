"""The journal: one SQLite row per transfer, the source of truth for recovery.

A state is committed before the file operation it allows (WAL, synchronous=FULL), so after
a crash every unfinished row says what may have happened and recovery can finish it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

#: admitted → staged → sanitising → releasing | rejecting → released | rejected
#: (held: waiting for something outside, e.g. a scanner; failed: could not be finished)
FINAL_STATES = ("released", "rejected", "failed")
STATES = ("admitted", "staged", "sanitising", "releasing", "rejecting", "held", *FINAL_STATES)

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
        self.view = JournalView(self._db, self._lock)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db, self._lock)

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

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

    def finished_before(self, cutoff: float) -> Iterator[Transfer]:
        rows = self._rows(
            "SELECT * FROM transfers WHERE finished IS NOT NULL AND finished < ? AND original_purged = 0",
            (cutoff,),
        )
        return (Transfer(**dict(row)) for row in rows)


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

    def oldest_unfinished(self) -> Transfer | None:
        rows = self._rows(
            "SELECT * FROM transfers WHERE state NOT IN ('released', 'rejected', 'failed')"
            " ORDER BY created LIMIT 1"
        )
        return Transfer(**dict(rows[0])) if rows else None


#: Reason codes of refusals caused by a worker, a sanitiser bug or a failed output check.
_ERROR_CODES = (
    "(reason_code LIKE 'worker.%' OR reason_code LIKE 'verify.%' OR reason_code = 'sanitizer.crash')"
)


def _check_values(values: dict[str, Any]) -> None:
    unknown = set(values) - set(_TRANSFER_FIELDS)
    if unknown or values.get("state", "admitted") not in STATES:
        raise ValueError(f"bad journal update {sorted(unknown) or values.get('state')}")


class _Transaction:
    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self._db = db
        self._lock = lock

    def __enter__(self) -> None:
        self._lock.acquire()
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
        finally:
            self._lock.release()
