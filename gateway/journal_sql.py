"""Where the journal keeps its rows: a SQLite file in the spool (embedded, the default) or a
PostgreSQL database shared by several nodes, behind one small interface.

The journal writes its SQL once, with ``?`` placeholders and the syntax both databases
accept (``ON CONFLICT``, ``RETURNING``, ``LIKE ... ESCAPE``); what differs is decided here
and nowhere else: placeholders, column types, where the schema version is kept, how a
transaction begins and takes its row locks, and what a lost server looks like to callers.

Both keep one connection per journal, shared by the daemon's threads behind one lock (the
journal's commits are short; the daemon's I/O threads take turns). A PostgreSQL connection
that broke is dropped and the next call connects again: losing the server is a
JournalUnavailableError for the call that met it, never a restart of the daemon.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, Protocol

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import RowMaker

from gateway.dburl import is_postgres_url, redact_url


class JournalError(Exception):
    """The journal's database refused or failed a statement; the transaction it was in was rolled back."""


class JournalUnavailableError(JournalError):
    """The PostgreSQL server cannot be reached, or the connection broke; the next call connects again."""


class Row(Protocol):
    """A result row by column name (``row["state"]``) or position, as sqlite3.Row offers both."""

    def keys(self) -> list[str]: ...

    def __getitem__(self, key: int | str, /) -> Any: ...


class Result:
    """What one statement returned: its rows, all fetched, and how many rows it changed."""

    def __init__(self, rows: list[Row], rowcount: int) -> None:
        self.rows = rows
        self.rowcount = rowcount

    def fetchone(self) -> Row | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[Row]:
        return self.rows

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)


class Session:
    """The statements of one transaction, written with ``?`` placeholders for either database."""

    def __init__(self, database: Database, connection: Any) -> None:
        self._database = database
        self.connection = connection  # the driver's own (sqlite3.Connection or psycopg.Connection)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Result:
        return self._database.execute(self.connection, sql, params)

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        for params in rows:
            self.execute(sql, params)

    def locking(self, sql: str, params: Sequence[Any] = ()) -> Result:
        """A SELECT whose rows stay locked against other writers until the commit."""
        return self.execute(sql + self._database.row_locks, params)

    def lock_table(self, table: str) -> None:
        """Keep other writers of ``table`` waiting until the commit (they would add rows meanwhile)."""
        self._database.lock_table(self.connection, table)


class Database(ABC):
    """One connection to the journal's database, shared by the daemon's threads behind a lock."""

    backend: str  # "sqlite" or "postgresql"
    #: appended to a SELECT to lock the rows it reads (a SQLite transaction locks the whole file)
    row_locks: str

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._session: Session | None = None  # the transaction in progress, which nested calls join

    @property
    def url(self) -> str | None:
        """The PostgreSQL URL, password included (None for SQLite); log only ``redact_url(url)``."""
        return None

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One commit: everything in the block, or nothing if it raises (a transaction begun
        inside it, by the same thread, joins it)."""
        with self._lock:
            if self._session is not None:
                yield self._session
                return
            connection = self._connection()
            self._guarded(partial(self._begin, connection))
            self._session = session = Session(self, connection)
            try:
                yield session
                self._commit(connection)
            except BaseException as exc:
                self._abort(connection)
                if isinstance(exc, self._driver_error):
                    raise self._failure(exc) from exc
                raise
            finally:
                self._session = None

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """A read on its own (inside a transaction in progress, a read of that transaction)."""
        with self._lock:
            if self._session is not None:
                return self._session.execute(sql, params).rows
            connection = self._connection()
            try:
                result = self._read_alone(connection, sql, params)
            except self._driver_error as exc:
                self._abort(connection)
                raise self._failure(exc) from exc
            return result.rows

    def _read_alone(self, connection: Any, sql: str, params: Sequence[Any]) -> Result:
        """A read outside any transaction, which leaves none open (SQLite: outside BEGIN, each
        statement commits on its own)."""
        return self._run(connection, sql, params)

    def execute(self, connection: Any, sql: str, params: Sequence[Any]) -> Result:
        try:
            return self._run(connection, sql, params)
        except self._driver_error as exc:
            raise self._failure(exc) from exc

    def _guarded(self, step: Callable[[], object]) -> None:
        try:
            step()
        except self._driver_error as exc:
            raise self._failure(exc) from exc

    # ── what each database does its own way ───────────────────────────────────────────
    _driver_error: type[Exception]

    @abstractmethod
    def ensure_schema(self, schema: str, migrations: Sequence[str]) -> None:
        """Create the tables (first open) and apply the migrations not yet applied, in order."""

    @abstractmethod
    def has_table(self, name: str) -> bool: ...

    @abstractmethod
    def lock_table(self, connection: Any, table: str) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def _connection(self) -> Any: ...

    @abstractmethod
    def _run(self, connection: Any, sql: str, params: Sequence[Any]) -> Result: ...

    @abstractmethod
    def _begin(self, connection: Any) -> None: ...

    @abstractmethod
    def _commit(self, connection: Any) -> None: ...

    @abstractmethod
    def _abort(self, connection: Any) -> None:
        """Roll back what is in progress; never raises (the connection may be gone)."""

    @abstractmethod
    def _failure(self, exc: Exception) -> JournalError: ...


def open_database(target: str | Path, *, read_only: bool = False) -> Database:
    """A ``postgresql://`` (or ``postgres://``) URL, or the path of a SQLite file."""
    if is_postgres_url(target):
        return PostgresDatabase(str(target), read_only=read_only)
    if isinstance(target, str) and "://" in target:
        raise ValueError(f"not a journal target: {redact_url(target)} (a postgresql:// URL or a file path)")
    return SqliteDatabase(Path(target), read_only=read_only)


class SqliteDatabase(Database):
    """The embedded journal: WAL, synchronous=FULL, a transaction takes the write lock at once."""

    backend = "sqlite"
    row_locks = ""
    _driver_error = sqlite3.Error

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        super().__init__()
        if read_only:
            if not path.is_file():
                raise FileNotFoundError(path)
            self._db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, isolation_level=None,
                                       check_same_thread=False)  # fmt: skip
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
        self._db.row_factory = sqlite3.Row

    def ensure_schema(self, schema: str, migrations: Sequence[str]) -> None:
        with self._lock:
            self._guarded(partial(self._db.executescript, schema))
            version = self.rows("PRAGMA user_version")[0][0]
            for number, script in enumerate(migrations[version:], start=version + 1):
                # executescript commits first; the steps and the version bump commit together
                step = f"BEGIN IMMEDIATE; {script} PRAGMA user_version = {number}; COMMIT;"
                self._guarded(partial(self._db.executescript, step))

    def has_table(self, name: str) -> bool:
        return bool(self.rows("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)))

    def lock_table(self, connection: Any, table: str) -> None:
        """Nothing to do: BEGIN IMMEDIATE already keeps every other writer out."""

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _connection(self) -> sqlite3.Connection:
        return self._db

    def _run(self, connection: sqlite3.Connection, sql: str, params: Sequence[Any]) -> Result:
        cursor = connection.execute(sql, tuple(params))
        rows = cursor.fetchall()  # also steps a RETURNING statement to its end
        return Result(rows, cursor.rowcount)

    def _begin(self, connection: sqlite3.Connection) -> None:
        connection.execute("BEGIN IMMEDIATE")

    def _commit(self, connection: sqlite3.Connection) -> None:
        connection.execute("COMMIT")

    def _abort(self, connection: sqlite3.Connection) -> None:
        # SQLite may have rolled back itself (disk full), or the file is closed
        with suppress(sqlite3.Error):
            connection.execute("ROLLBACK")

    def _failure(self, exc: Exception) -> JournalError:
        return JournalError(str(exc))


#: Connection parameters unless the URL sets them: a dead server or network is noticed within
#: about a minute, also in the middle of a statement, instead of a thread waiting for ever.
_PG_CONNECT = {"connect_timeout": "10", "keepalives": "1", "keepalives_idle": "30", "keepalives_interval": "10",
               "keepalives_count": "3", "tcp_user_timeout": "30000", "application_name": "mukaika"}  # fmt: skip
_PG_SESSION = (
    "SET statement_timeout = '30s'",
    "SET lock_timeout = '30s'",
    "SET idle_in_transaction_session_timeout = '5min'",
)
#: Errors that mean the server went away (shut down, crashed, restarting) or the link did.
_PG_GONE = (pg_errors.AdminShutdown, pg_errors.CrashShutdown, pg_errors.CannotConnectNow,
            pg_errors.ConnectionException)  # fmt: skip
#: pg_advisory_xact_lock key serialising the schema's creation and migrations ("mukaika" in ASCII)
_SCHEMA_LOCK = 0x6D756B61696B61
#: SQLite column types in the schema → PostgreSQL's (64-bit integers: sizes pass 2 GiB)
_PG_TYPES = (
    (re.compile(r"\bINTEGER PRIMARY KEY AUTOINCREMENT\b"), "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"),
    (re.compile(r"\bINTEGER\b"), "BIGINT"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
)


class PgRow:
    """A PostgreSQL row answering by column name and by position, as sqlite3.Row does."""

    __slots__ = ("_index", "_names", "_values")

    def __init__(self, names: list[str], index: dict[str, int], values: tuple[Any, ...]) -> None:
        self._names = names
        self._index = index
        self._values = values

    def keys(self) -> list[str]:
        return list(self._names)

    def __getitem__(self, key: int | str, /) -> Any:
        return self._values[key if isinstance(key, int) else self._index[key]]

    def __len__(self) -> int:
        return len(self._values)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __repr__(self) -> str:
        return f"PgRow({dict(zip(self._names, self._values, strict=True))!r})"


def _pg_rows(cursor: Any) -> RowMaker[PgRow]:  # psycopg's RowFactory
    names = [column.name for column in cursor.description or ()]
    index = {name: position for position, name in enumerate(names)}
    return lambda values: PgRow(names, index, tuple(values))


@lru_cache(maxsize=1024)
def pg_sql(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s`` (outside string literals), and ``%`` kept literal."""
    out, quoted = [], False
    for char in sql:
        if char == "'":
            quoted = not quoted
        out.append("%%" if char == "%" else "%s" if char == "?" and not quoted else char)
    return "".join(out)


def pg_ddl(script: str) -> str:
    """The SQLite schema with PostgreSQL's column types."""
    for pattern, replacement in _PG_TYPES:
        script = pattern.sub(replacement, script)
    return script


class PostgresDatabase(Database):
    """A journal shared by several nodes: READ COMMITTED, explicit transactions, row locks."""

    backend = "postgresql"
    row_locks = " FOR UPDATE"
    _driver_error = psycopg.Error

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        super().__init__()
        self._url = url
        self._read_only = read_only
        self._conn: psycopg.Connection[PgRow] | None = None
        self._closed = False
        with self._lock:
            self._connection()  # a wrong URL or a server out of reach shows at once

    @property
    def url(self) -> str:
        return self._url

    def ensure_schema(self, schema: str, migrations: Sequence[str]) -> None:
        # several nodes may start at once: the first creates, the others wait and find it done
        with self.transaction() as db:
            db.connection.execute(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
            db.connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT version FROM schema_version").fetchone()
            if row is None:
                db.connection.execute(pg_ddl(schema))
                db.execute("INSERT INTO schema_version (version) VALUES (0)")
            version = 0 if row is None else int(row["version"])
            for number, script in enumerate(migrations[version:], start=version + 1):
                db.connection.execute(pg_ddl(script))
                db.execute("UPDATE schema_version SET version = ?", (number,))

    def has_table(self, name: str) -> bool:
        return bool(self.rows("SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema()"
                              " AND table_name = ?", (name,)))  # fmt: skip

    def lock_table(self, connection: psycopg.Connection[PgRow], table: str) -> None:
        # SHARE ROW EXCLUSIVE: readers go on, a second writer of the table waits for the commit
        self.execute(connection, f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE", ())

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._drop()

    def _connection(self) -> psycopg.Connection[PgRow]:
        if self._closed:
            raise JournalError("the journal is closed")
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def _connect(self) -> psycopg.Connection[PgRow]:
        parameters = {**_PG_CONNECT, **conninfo_to_dict(self._url)}
        try:
            conn = psycopg.connect(make_conninfo("", **parameters), autocommit=False, row_factory=_pg_rows)
        except psycopg.OperationalError as exc:
            raise JournalUnavailableError(
                f"cannot reach the journal at {redact_url(self._url)}: {exc}"
            ) from exc
        try:
            for statement in _PG_SESSION:
                conn.execute(statement)
            if self._read_only:
                conn.execute("SET default_transaction_read_only = on")
            conn.commit()
        except psycopg.Error as exc:
            conn.close()
            raise JournalUnavailableError(f"cannot set up the journal's connection: {exc}") from exc
        return conn

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with suppress(psycopg.Error):
                conn.close()

    def _run(self, connection: psycopg.Connection[PgRow], sql: str, params: Sequence[Any]) -> Result:
        cursor = connection.execute(pg_sql(sql), tuple(params))
        rows: list[Row] = list(cursor.fetchall()) if cursor.description is not None else []
        return Result(rows, cursor.rowcount)

    def _read_alone(self, connection: psycopg.Connection[PgRow], sql: str, params: Sequence[Any]) -> Result:
        """One round trip: the statement alone in autocommit, with no BEGIN and COMMIT around it."""
        connection.autocommit = True
        try:
            return self._run(connection, sql, params)
        finally:
            with suppress(psycopg.Error):  # a broken connection is dropped by the caller
                connection.autocommit = False

    def _begin(self, connection: psycopg.Connection[PgRow]) -> None:
        """Nothing to send: with autocommit off, the first statement begins the transaction."""

    def _commit(self, connection: psycopg.Connection[PgRow]) -> None:
        connection.commit()

    def _abort(self, connection: psycopg.Connection[PgRow]) -> None:
        if connection is not self._conn:  # dropped: the server rolls back what it had
            return
        try:
            connection.rollback()
        except psycopg.Error:
            self._drop()

    def _failure(self, exc: Exception) -> JournalError:
        conn = self._conn
        if conn is None or conn.closed or conn.broken or isinstance(exc, _PG_GONE):
            self._drop()
            return JournalUnavailableError(f"lost the journal at {redact_url(self._url)}: {exc}")
        return JournalError(str(exc))
