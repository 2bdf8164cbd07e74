"""Channel ownership through PostgreSQL advisory locks, on a real server."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from gateway.cluster.jobs import WORKER_APPLICATION, enqueue, ensure_schema, queue_app
from gateway.cluster.overview import cluster_overview
from gateway.cluster.ownership import ChannelOwnership, channel_owners
from tests.gateway.daemon_harness import MUKAIKA, REPOSITORY
from tests.postgres_harness import PostgresCluster, running_cluster


def owners(url: str, channels: tuple[str, ...]) -> dict[str, str]:
    with psycopg.connect(url) as connection:
        return channel_owners(connection, channels)


def test_each_channel_has_one_owner_and_a_standby_takes_it_when_the_owner_goes(
    postgres: PostgresCluster,
) -> None:
    url = postgres.new_database()
    first, second = ChannelOwnership(url, "gw1"), ChannelOwnership(url, "gw2")
    try:
        assert first.review(["east", "west"]).gained == {"east", "west"}
        change = second.review(["east", "west", "north"])
        assert change.gained == {"north"} and second.owned == {"north"}
        assert owners(url, ("east", "west", "north")) == {"east": "gw1", "west": "gw1", "north": "gw2"}
        first.close()  # its session ends: PostgreSQL frees its locks at once
        assert second.review(["east", "west", "north"]).gained == {"east", "west"}
        assert owners(url, ("east", "west")) == {"east": "gw2", "west": "gw2"}
    finally:
        first.close()
        second.close()


def test_a_channel_dropped_from_the_config_is_given_back(postgres: PostgresCluster) -> None:
    url = postgres.new_database()
    first, second = ChannelOwnership(url, "gw1"), ChannelOwnership(url, "gw2")
    try:
        first.review(["east", "west"])
        assert first.review(["east"]).lost == {"west"}
        assert second.review(["west"]).gained == {"west"}
    finally:
        first.close()
        second.close()


def test_a_node_whose_process_is_killed_loses_its_channels_at_once(postgres: PostgresCluster) -> None:
    """SIGKILL: no unlock is sent, the kernel closes the socket and the server ends the session."""
    url = postgres.new_database()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from gateway.cluster.ownership import ChannelOwnership;"
         f" o = ChannelOwnership({url!r}, 'victim'); o.review(['east']); print('held', flush=True);"
         " time.sleep(60)"],
        cwd=REPOSITORY, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    standby = ChannelOwnership(url, "standby")
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert standby.review(["east"]).gained == frozenset()
        holder.kill()
        holder.wait(10)
        started = time.monotonic()
        while not standby.review(["east"]).gained and time.monotonic() - started < 5:
            time.sleep(0.05)
        assert standby.owned == {"east"}, "the standby never got the lock"
        assert time.monotonic() - started < 2
    finally:
        holder.kill()
        holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()
        standby.close()


def test_losing_the_server_gives_up_every_channel_and_they_come_back_with_it() -> None:
    with running_cluster() as private:
        url = private.new_database()
        node = ChannelOwnership(url, "gw1")
        try:
            node.review(["east", "west"])
            private.stop("immediate")
            change = node.review(["east", "west"])
            assert change.lost == {"east", "west"} and node.owned == set()
            private.start()
            private.wait_ready()
            assert node.review(["east", "west"]).gained == {"east", "west"}
        finally:
            node.close()


def test_a_worker_node_needs_a_postgresql_journal(tmp_path: Path) -> None:
    config = tmp_path / "mukaika.toml"
    config.write_text(f'[gateway]\nspool_dir = "{tmp_path}/spool"\n', encoding="utf-8")
    result = subprocess.run([str(MUKAIKA), "worker", "--config", str(config)], capture_output=True, text=True,
                            timeout=60, cwd=REPOSITORY)  # fmt: skip
    assert result.returncode == 2
    assert "a worker node needs [journal] url" in result.stdout + result.stderr


def test_the_overview_names_connected_nodes_channel_owners_and_channels_nobody_serves(
    postgres: PostgresCluster,
) -> None:
    url = postgres.new_database()
    ensure_schema(url)
    gateway = ChannelOwnership(url, "gw-a")
    try:
        gateway.review(["east"])
        with (
            psycopg.connect(url, application_name=f"{WORKER_APPLICATION}:wk-b") as worker,
            worker.transaction(),
        ):
            enqueue(queue_app(url), worker, "20261207T000000-00000000")
            overview = cluster_overview(url, ["east", "west"])
        assert overview.gateways == ["gw-a"] and overview.workers == ["wk-b"]
        assert overview.owners == {"east": "gw-a"} and overview.jobs == {}  # not committed yet
        assert "channels: east → gw-a; NOT SERVED: west" in overview.lines(["east", "west"])
        assert cluster_overview(url, ["east"]).jobs == {"todo": 1}
    finally:
        gateway.close()
    deadline = time.monotonic() + 5  # the server ends the session a moment after the client goes
    while cluster_overview(url, ["east"]).gateways and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cluster_overview(url, ["east"]).gateways == []


@pytest.mark.parametrize("command", ["run", "worker"])
def test_a_node_that_cannot_reach_its_database_says_so_and_exits_for_systemd_to_retry(
    tmp_path: Path, command: str
) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "mukaika.toml"
    config.write_text(f'[gateway]\nspool_dir = "{tmp_path}/spool"\nlog_format = "json"\n'
                      f'[journal]\nurl = "postgresql://mukaika:s3cret@127.0.0.1:{port}/mukaika"\n', encoding="utf-8")  # fmt: skip
    result = subprocess.run([str(MUKAIKA), command, "--config", str(config)], capture_output=True, text=True,
                            timeout=60, cwd=REPOSITORY)  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "the journal cannot be opened" in output and f"127.0.0.1:{port}" in output
    assert "s3cret" not in output
