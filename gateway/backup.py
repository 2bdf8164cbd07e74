"""`mukaika backup PATH`: a consistent copy of the journal, taken while the daemon runs.

SQLite's online backup API copies the database inside one read transaction, so the copy is
the journal as of one commit while the daemon goes on writing (WAL lets it). The copy is
written under a temporary name beside PATH, checked, made durable, and only then renamed
over PATH: PATH is never a half-written journal, and an older backup there stays whole
until the new one replaces it.

A journal in PostgreSQL is the database's to back up (pg_dump, or the server's own backups
and WAL archive): this command refuses it rather than copy half of what matters.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import time
from pathlib import Path

from gateway.dburl import is_postgres_url, redact_url
from gateway.fsutil import fsync_dir


class BackupError(Exception):
    """The copy could not be made or did not check out."""


def backup_journal(journal: Path | str, target: Path) -> Path:
    """Copy ``journal`` to ``target`` (into it, under a dated name, if it is a directory); return the file.

    Raises FileNotFoundError if there is no journal, BackupError or OSError if no copy was made
    (always for a PostgreSQL journal: ``journal`` is then its URL).
    """
    if is_postgres_url(journal):
        raise BackupError(
            f"the journal is in PostgreSQL ({redact_url(str(journal))}): back it up with the database's"
            " tools, e.g. pg_dump --format=custom --file=journal.dump with the same connection settings"
        )
    journal = Path(journal)
    if not journal.is_file():
        raise FileNotFoundError(journal)
    if target.is_dir():
        target = target / f"journal-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.sqlite"
    temp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    # the journal names every file and who approved what: the copy is for its owner only
    os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
    try:
        _copy(journal, temp)
        with temp.open("rb") as copy:
            os.fsync(copy.fileno())
        temp.replace(target)
        fsync_dir(target.parent)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return target


def _copy(journal: Path, temp: Path) -> None:
    # read-write, though only read: closing the last connection then removes the -wal and -shm
    # files it had to create while the daemon was down, which would otherwise stay behind owned
    # by whoever ran the backup (root), and the service user could no longer open its journal
    source = sqlite3.connect(f"{journal.absolute().as_uri()}?mode=rw", uri=True)
    try:
        with contextlib.closing(sqlite3.connect(temp)) as copy:
            # in one step: a copy made in steps starts again whenever the daemon commits meanwhile
            source.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
            (check,) = copy.execute("PRAGMA quick_check").fetchone()
            if check != "ok":
                raise BackupError(f"the copy does not check out: {check}")
    except sqlite3.Error as exc:
        raise BackupError(str(exc)) from None
    finally:
        source.close()
