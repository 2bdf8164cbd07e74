"""Who is there: the nodes connected to the journal's PostgreSQL, channel owners, the job queue.

Read by `mukaika status`. Nodes name themselves in their connections' application_name
(``mukaika-gateway:<node>``, ``mukaika-worker:<node>``), so a node that died is gone from the
list as soon as PostgreSQL has closed its session.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import psycopg

from gateway.cluster.jobs import QUEUE, WORKER_APPLICATION
from gateway.cluster.ownership import APPLICATION as GATEWAY_APPLICATION
from gateway.cluster.ownership import channel_owners
from gateway.journal import JournalError


@dataclass(frozen=True)
class ClusterOverview:
    owners: dict[str, str]  # channel → the gateway node serving it
    gateways: list[str]  # gateway nodes connected
    workers: list[str]  # worker nodes connected
    jobs: dict[str, int]  # sanitise jobs by procrastinate status (todo, doing, failed, …)

    def as_dict(self) -> dict[str, object]:
        return {"owners": self.owners, "gateways": self.gateways, "workers": self.workers, "jobs": self.jobs}

    def lines(self, channels: Iterable[str]) -> list[str]:
        unserved = [name for name in channels if name not in self.owners]
        return [
            f"gateway nodes: {', '.join(self.gateways) or 'none'}",
            f"worker nodes: {', '.join(self.workers) or 'none'}",
            "channels: "
            + ", ".join(f"{c} → {n}" for c, n in sorted(self.owners.items()))
            + (f"; NOT SERVED: {', '.join(unserved)}" if unserved else ""),
            "jobs: " + (", ".join(f"{status} {n}" for status, n in sorted(self.jobs.items())) or "none"),
        ]


def cluster_overview(url: str, channels: Iterable[str]) -> ClusterOverview:
    """Raises JournalError when PostgreSQL cannot be asked."""
    try:
        return _overview(url, channels)
    except psycopg.Error as exc:
        raise JournalError(f"cannot read the nodes' state: {exc}") from None


def _overview(url: str, channels: Iterable[str]) -> ClusterOverview:
    with psycopg.connect(url, connect_timeout=10, application_name="mukaika-status") as connection:
        names = [str(row[0]) for row in connection.execute(
            "SELECT DISTINCT application_name FROM pg_stat_activity WHERE application_name LIKE 'mukaika-%:%'"
        )]  # fmt: skip
        jobs: dict[str, int] = {}
        if connection.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone() == (True,):
            rows = connection.execute(
                "SELECT status::text, count(*) FROM procrastinate_jobs WHERE queue_name = %s GROUP BY status",
                (QUEUE,),
            )
            jobs = {str(status): int(count) for status, count in rows}
        return ClusterOverview(
            owners=channel_owners(connection, channels),
            gateways=sorted({n.split(":", 1)[1] for n in names if n.startswith(f"{GATEWAY_APPLICATION}:")}),
            workers=sorted({n.split(":", 1)[1] for n in names if n.startswith(f"{WORKER_APPLICATION}:")}),
            jobs=jobs,
        )
