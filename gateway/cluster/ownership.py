"""Which channels this gateway node serves: one PostgreSQL advisory lock per channel.

The locks are held by a connection of their own. The owner of a channel watches its inbox
and places its results; the other nodes that name the channel stand by and try the lock
again every ``review``. A node that dies, or loses its connection, loses its locks with it
(PostgreSQL releases a session's advisory locks when the session ends), and a standby takes
the channel over at its next review. A node that cannot reach PostgreSQL gives up every
channel at once: it may no longer be the owner, so it must stop acting as one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg
import structlog

log = structlog.get_logger("mukaika.cluster")

#: The first key of every channel lock (the second is a hash of the channel's name).
LOCK_CLASS = 0x6D6B  # "mk"
APPLICATION = "mukaika-gateway"


@dataclass(frozen=True)
class Change:
    gained: frozenset[str]
    lost: frozenset[str]


class ChannelOwnership:
    def __init__(self, url: str, node: str) -> None:
        self.url = url
        self.node = node
        self.owned: set[str] = set()
        self._connection: psycopg.Connection[tuple[object, ...]] | None = None

    def review(self, wanted: Iterable[str]) -> Change:
        """Take the free locks of ``wanted`` channels, give back the others; blocking (a thread)."""
        wanted = set(wanted)
        before = set(self.owned)
        try:
            connection = self._connect()
            connection.execute("SELECT 1")  # a dead session holds nothing, whatever we think we own
            for name in sorted(self.owned - wanted):
                connection.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (LOCK_CLASS, name))
                self.owned.discard(name)
            for name in sorted(wanted - self.owned):
                row = connection.execute(
                    "SELECT pg_try_advisory_lock(%s, hashtext(%s))", (LOCK_CLASS, name)
                ).fetchone()
                if row is not None and row[0]:
                    self.owned.add(name)
        except psycopg.Error as exc:
            self._drop()
            if before:
                log.error("lost the journal: giving up every channel", node=self.node, error=str(exc),
                          channels=sorted(before))  # fmt: skip
        return Change(frozenset(self.owned - before), frozenset(before - self.owned))

    def close(self) -> None:
        self._drop()

    def _connect(self) -> psycopg.Connection[tuple[object, ...]]:
        if self._connection is None or self._connection.closed:
            self._connection = psycopg.connect(
                self.url, autocommit=True, connect_timeout=5, application_name=f"{APPLICATION}:{self.node}",
                keepalives=1, keepalives_idle=5, keepalives_interval=2, keepalives_count=3,
            )  # fmt: skip
        return self._connection

    def _drop(self) -> None:
        self.owned.clear()
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with contextlib.suppress(psycopg.Error):
                connection.close()


def channel_owners(
    connection: psycopg.Connection[tuple[object, ...]], channels: Iterable[str]
) -> dict[str, str]:
    """channel → the node holding its lock, for the channels someone holds."""
    owners: dict[str, str] = {}
    for name in channels:
        row = connection.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = hashtext(%s)::oid",
            (LOCK_CLASS, name),
        ).fetchone()
        if row is not None and isinstance(row[0], str) and row[0].startswith(f"{APPLICATION}:"):
            owners[name] = row[0].removeprefix(f"{APPLICATION}:")
    return owners
