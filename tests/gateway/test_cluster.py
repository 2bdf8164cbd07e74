"""Several nodes as real processes on one PostgreSQL and one spool: no file lost or doubled.

Each test runs gateway nodes (`mukaika run`) and worker nodes (`mukaika worker`) from
tests.gateway.cluster_harness on a database of its own, drops files into the channels "east"
and "west", breaks something (a worker node or the channel owner killed, PostgreSQL stopped, a
staged copy altered) and holds both channels to the no-loss invariant (tests.gateway.invariants):
each input ends exactly once with the verdict it deserves, the folders hold exactly what the
journal placed, nothing is released with the canary of a PNG's text chunk, and nothing is
left in the spool. Timings are the harness's (heartbeat 1 s, stalled 4 s, takeover 0.5 s).
"""

from __future__ import annotations

import functools
import io
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from PIL import Image

from tests.gateway.cluster_harness import Cluster, Node
from tests.gateway.daemon_harness import png_bytes
from tests.postgres_harness import PostgresCluster, running_cluster

CANARY = "cluster-canary-must-not-cross"
HEARTBEAT, STALLED, TAKEOVER = 1.0, 4.0, 0.5  # as CLUSTER_TIMING in the harness
FINAL = ("released", "rejected")

Expected = dict[str, dict[str, str]]  # channel → inbox name → "released" or a refusal's code


@pytest.fixture
def cluster(postgres: PostgresCluster, tmp_path: Path) -> Iterator[Cluster]:
    nodes = Cluster(tmp_path, postgres.new_database())
    try:
        yield nodes
    finally:
        nodes.stop_all()


@functools.cache
def slow_png(side: int = 4000) -> bytes:
    """A PNG of ~60 KB that takes a worker about a second to rebuild (16 Mpx), with the canary."""
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", CANARY)
    buffer = io.BytesIO()
    Image.linear_gradient("L").resize((side, side)).convert("RGB").save(buffer, "PNG", pnginfo=info)
    return buffer.getvalue()


class Dropper:
    """Drops files into the cluster's channels and remembers the verdict each deserves."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.expected: Expected = {name: {} for name in cluster.channels}

    def drop(self, channel: str, name: str, data: bytes, verdict: str) -> tuple[str, str]:
        assert name not in self.expected[channel], name
        (self.cluster.channels[channel].inbox / name).write_bytes(data)
        self.expected[channel][name] = verdict
        return channel, name

    def mix(self, tag: str, count: int) -> list[tuple[str, str]]:
        """``count`` files in each channel: canary PNGs, text, and executables the policy refuses."""
        names = []
        for i in range(count):
            colour = (i * 37 % 256, 80, 160)
            names.append(self.drop("east", f"{tag}-{i}.png", png_bytes(colour, text=CANARY), "released"))
            if i % 3 == 2:
                names.append(self.drop("west", f"{tag}-{i}.exe", b"MZ" + bytes(200 + i), "policy.reject"))
            elif i % 3 == 1:
                text = f"お知らせ {tag} {i}\r\n".encode()
                names.append(self.drop("west", f"{tag}-{i}.txt", text * 20, "released"))
            else:
                names.append(self.drop("west", f"{tag}-{i}.png", png_bytes(colour, text=CANARY), "released"))
        return names

    def slow(self, channel: str, tag: str, count: int) -> list[tuple[str, str]]:
        """PNGs that each keep a worker busy for about a second."""
        return [self.drop(channel, f"{tag}-{i}.png", slow_png(), "released") for i in range(count)]

    def count(self) -> int:
        return sum(len(names) for names in self.expected.values())


def assert_no_loss(cluster: Cluster, dropper: Dropper, timeout: float = 120) -> None:
    cluster.wait_until_placed(dropper.expected, timeout)
    problems = cluster.violations(dropper.expected, canary=CANARY.encode())
    assert problems == [], "\n".join(problems)


def runs_at_once(cluster: Cluster) -> list[str]:
    """Attempts that sanitised a transfer while a later attempt had it: two runs of one job at once,
    which the job's lock should rule out (gateway.cluster.jobs); the journal then keeps one outcome."""
    return sorted(f"{node.name}: transfer {line.get('transfer_id')}, attempt {line.get('attempt')}"
                  for node in cluster.nodes if node.role == "worker"
                  for line in node.events("outcome not planned: a later attempt has the transfer"))  # fmt: skip


def finished_by(node: Node) -> set[tuple[str, str]]:
    """(channel, name) of the inputs whose canonical transfer line ``node`` wrote: it finished them."""
    return {(str(line["channel"]), str(line["name"])) for line in node.events("transfer")}


# ── 1. several worker nodes share the jobs ───────────────────────────────────────────────
def test_two_worker_nodes_share_the_jobs_and_every_file_ends_once(cluster: Cluster) -> None:
    gateway = cluster.add("gateway", "gw1")
    workers = [cluster.add("worker", "wk1"), cluster.add("worker", "wk2")]
    cluster.start(gateway, *workers)
    dropper = Dropper(cluster)
    dropper.mix("burst", 12)
    dropper.slow("east", "big", 2)  # a worker busy for a second: the other takes the next jobs

    assert_no_loss(cluster, dropper)
    jobs = {worker.name: worker.started_jobs() for worker in workers}
    assert all(jobs.values()), f"a worker node ran no job: {jobs}"
    started = [job for ids in jobs.values() for job in ids]
    assert len(started) == len(set(started)) == dropper.count(), f"each job started once: {jobs}"
    attempts = {row["name"]: row["attempts"] for row in cluster.transfers()}
    assert set(attempts.values()) == {1}, f"nothing was killed, yet a transfer was tried again: {attempts}"
    assert runs_at_once(cluster) == []
    assert gateway.alive() and all(worker.alive() for worker in workers)


# ── 2. a worker node killed mid-job ──────────────────────────────────────────────────────
def catch_running_job(cluster: Cluster, victim: Node, timeout: float = 60) -> tuple[int, str]:
    """A job the victim runs right now whose transfer still waits for its outcome: (job, transfer)."""
    caught: list[tuple[int, str]] = []

    def running() -> bool:
        mine = set(victim.started_jobs(current_run=True))
        rows = cluster.rows(
            "SELECT j.id, t.id AS transfer_id FROM procrastinate_jobs j"
            " JOIN transfers t ON t.id = j.args->>'transfer_id'"
            " WHERE j.status = 'doing' AND t.state = 'sanitising' ORDER BY j.id"
        )
        caught[:] = [(row["id"], row["transfer_id"]) for row in rows if row["id"] in mine]
        return bool(caught)

    cluster.wait_for(running, timeout, f"{victim.name} running a job")
    return caught[0]


def test_a_worker_node_killed_mid_job_has_its_job_redone_by_another_after_its_heartbeat_stops(
    cluster: Cluster,
) -> None:
    gateway = cluster.add("gateway", "gw1")
    victim, survivor = cluster.add("worker", "victim"), cluster.add("worker", "survivor")
    cluster.start(gateway, victim, survivor)
    dropper = Dropper(cluster)
    dropper.slow("east", "slow", 6)
    dropper.mix("fast", 4)

    for _ in range(3):  # the job may end between the look and the kill: catch another then
        job, transfer_id = catch_running_job(cluster, victim)
        victim.kill()
        killed_at = time.monotonic()
        row = cluster.rows("SELECT state, attempts FROM transfers WHERE id = %s", (transfer_id,))[0]
        if (row["state"], row["attempts"]) == ("sanitising", 1):
            break
        victim.start()
    else:
        pytest.fail("never caught the victim in the middle of a job")

    def requeued() -> bool:
        return not cluster.rows("SELECT 1 FROM procrastinate_jobs WHERE id = %s AND status = 'doing'", (job,))

    def redone() -> bool:
        return bool(cluster.rows("SELECT 1 FROM transfers WHERE id = %s AND attempts >= 2", (transfer_id,)))

    cluster.wait_for(requeued, 30, f"job {job} of the killed node replaced")
    requeue_seconds = time.monotonic() - killed_at
    cluster.wait_for(redone, 60, f"transfer {transfer_id} tried again")
    redo_seconds = time.monotonic() - killed_at
    print(f"\nworker node killed mid-job: job {job} back in the queue after {requeue_seconds:.1f} s, "
          f"its transfer tried again after {redo_seconds:.1f} s (stalled_seconds {STALLED:g})")  # fmt: skip

    assert_no_loss(cluster, dropper)
    final = cluster.rows("SELECT state, attempts FROM transfers WHERE id = %s", (transfer_id,))[0]
    assert final == {"state": "released", "attempts": 2}, final
    # not before its heartbeat is stale (it might still be running), not long after either
    assert STALLED - HEARTBEAT - 0.5 <= requeue_seconds <= STALLED + 2 * HEARTBEAT + 2, (
        f"requeued {requeue_seconds:.1f} s after the kill; stalled_seconds is {STALLED:g}"
    )
    putback = [line for line in survivor.events("job of a silent worker put back in the queue")
               if line.get("transfer_id") == transfer_id]  # fmt: skip
    assert len(putback) == 1, putback
    # the stalled job is replaced by a new one, which the old worker can never send round again
    assert not cluster.rows("SELECT 1 FROM procrastinate_jobs WHERE id = %s", (job,)), (
        "the stalled job is left"
    )
    redos = [line for line in survivor.log_lines() if str(line.get("event", "")).startswith("Starting job")
             and f"transfer_id='{transfer_id}'" in str(line.get("event"))]  # fmt: skip
    assert len(redos) == 1, f"the survivor did not run the transfer's new job once: {redos}"
    assert runs_at_once(cluster) == []
    assert gateway.alive() and survivor.alive()


# ── 3. the channel owner killed ──────────────────────────────────────────────────────────
def test_a_killed_channel_owner_is_replaced_by_the_standby_gateway_which_finishes_its_work(
    cluster: Cluster,
) -> None:
    owner, standby = cluster.add("gateway", "gw1"), cluster.add("gateway", "gw2")
    workers = [cluster.add("worker", "wk1"), cluster.add("worker", "wk2")]
    owner.start()
    cluster.start(standby, *workers)
    assert cluster.owners() == {"east": "gw1", "west": "gw1"}

    dropper = Dropper(cluster)
    dropper.slow("east", "before-slow", 3)
    dropper.mix("before", 10)

    def in_flight() -> bool:  # staged, handed over, some already planned or placed
        states = [row["state"] for row in cluster.transfers()]
        return len(states) >= 8 and any(state not in FINAL for state in states)

    cluster.wait_for(in_flight, 30, "transfers in flight")
    owner.kill()
    killed_at = time.monotonic()
    left = {
        (row["channel"], row["name"]): row["state"]
        for row in cluster.transfers()
        if row["state"] not in FINAL
    }
    after = dropper.mix("after", 4)

    def taken_over() -> bool:
        return cluster.owners() == {"east": "gw2", "west": "gw2"}

    cluster.wait_for(taken_over, 10, "gw2 owning both channels")
    takeover_seconds = time.monotonic() - killed_at
    states = sorted(left.values())
    print(f"\nchannel owner killed with {len(left)} transfers unfinished ({', '.join(states)}): "
          f"gw2 owns both channels after {takeover_seconds:.2f} s (takeover_seconds {TAKEOVER:g})")  # fmt: skip
    assert left, "the owner died with nothing in flight: the test proves nothing"
    assert takeover_seconds <= 5, f"takeover took {takeover_seconds:.2f} s"

    assert_no_loss(cluster, dropper)
    by_standby = finished_by(standby)
    assert set(after) <= by_standby, (
        f"dropped after the kill, not finished by gw2: {sorted(set(after) - by_standby)}"
    )
    assert set(left) <= by_standby, f"left by gw1, not finished by gw2: {sorted(set(left) - by_standby)}"
    assert runs_at_once(cluster) == []
    assert standby.alive() and all(worker.alive() for worker in workers)


# ── 4. PostgreSQL stopped for ten seconds ────────────────────────────────────────────────
@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_the_nodes_ride_out_ten_seconds_without_postgresql(tmp_path: Path, mode: str) -> None:
    with running_cluster() as server:
        durable_commits(server)
        cluster = Cluster(tmp_path, server.new_database())
        try:
            outage(cluster, server, mode)
        finally:
            cluster.stop_all()


def durable_commits(server: PostgresCluster) -> None:
    """synchronous_commit back on (PostgreSQL's default): the harness turns it off for speed, and
    then a crash ("immediate") forgets the last commits, which no deployment should expect."""
    with psycopg.connect(server.url(), autocommit=True) as admin:
        admin.execute("ALTER SYSTEM SET synchronous_commit = on")
        admin.execute("SELECT pg_reload_conf()")


def outage(cluster: Cluster, server: PostgresCluster, mode: str) -> None:
    def ten_seconds_away(dropper: Dropper) -> str:
        server.stop(mode)
        stopped_at = time.monotonic()
        dropper.mix("during", 6)
        time.sleep(max(0.0, stopped_at + 10 - time.monotonic()))
        server.start()
        return f"PostgreSQL stopped ({mode}) for {time.monotonic() - stopped_at:.1f} s"

    journal_interrupted(cluster, ten_seconds_away)


def journal_interrupted(cluster: Cluster, interrupt: Callable[[Dropper], str]) -> None:
    """Two gateway and two worker nodes at work on both channels when ``interrupt`` takes the
    journal's server away and gives one back (dropping files meanwhile, and saying what it did).
    Every file then ends once, and every node rides it out without a restart."""
    gateways = [cluster.add("gateway", "gw1"), cluster.add("gateway", "gw2")]
    workers = [cluster.add("worker", "wk1"), cluster.add("worker", "wk2")]
    gateways[0].start()
    cluster.start(gateways[1], *workers)
    pids = {node.name: node.pid for node in cluster.nodes}
    dropper = Dropper(cluster)
    dropper.slow("east", "before-slow", 3)
    dropper.mix("before", 6)
    cluster.wait_for(lambda: bool(cluster.running_jobs()), 30, "a job running")
    what = interrupt(dropper)
    back_at = time.monotonic()
    dropper.mix("after", 3)

    assert_no_loss(cluster, dropper, timeout=90)
    print(f"\n{what}: all {dropper.count()} files finished {time.monotonic() - back_at:.1f} s after")
    dead = [node.name for node in cluster.nodes if not node.alive() or node.pid != pids[node.name]]
    assert dead == [], f"nodes that did not ride it out: {dead}"
    lost = [g.name for g in gateways if g.events("lost the journal: giving up every channel")]
    assert lost, "no gateway noticed the server go: the test proves nothing"
    owners = cluster.owners()
    assert sorted(owners) == ["east", "west"] and set(owners.values()) <= {"gw1", "gw2"}, owners
    # a journal error is handled where it happens, not left to asyncio's "never retrieved" (here: the
    # originals' tending, gateway.daemon.Gateway._tend_originals, once a rescan while the server is away)
    unhandled = {
        g.name: n for g in gateways if (n := g.log_text().count("Task exception was never retrieved"))
    }
    assert unhandled == {}, (
        f"background tasks of the gateways ended with an error nobody handled: {unhandled}"
    )
    # A job that failed while the server was away is retried by its node once its pool reconnects, and
    # put back by another node whose stalled-job watch saw that node silent meanwhile: both run it.
    assert runs_at_once(cluster) == [], "a transfer sanitised by two runs at once after the interruption"


# ── 4b. PostgreSQL fails over to its standby ─────────────────────────────────────────────
def test_the_nodes_follow_postgresql_to_its_synchronous_standby_when_the_primary_dies(tmp_path: Path) -> None:
    """The deployment the README describes: a primary, a synchronous streaming standby, both in
    the nodes' URL with target_session_attrs=read-write. The primary dies mid-stream (as in a
    crash) and the standby is promoted; the nodes carry on against it, and no file is lost."""
    primary = PostgresCluster(durable=True).init()
    standby = None
    try:
        primary.start()
        standby = primary.streaming_standby()
        standby.start()
        with psycopg.connect(primary.url(), autocommit=True) as admin:
            admin.execute(
                "ALTER SYSTEM SET synchronous_standby_names = '*'"
            )  # after the copy: not the standby's
            admin.execute("SELECT pg_reload_conf()")
            deadline = time.monotonic() + 30
            while admin.execute("SELECT sync_state FROM pg_stat_replication").fetchall() != [("sync",)]:
                assert time.monotonic() < deadline, "the standby never became synchronous"
                time.sleep(0.1)
        database = primary.new_database().rpartition("/")[2]
        url = (f"postgresql://postgres@127.0.0.1:{primary.port},127.0.0.1:{standby.port}/{database}"
               "?target_session_attrs=read-write")  # fmt: skip
        cluster = Cluster(tmp_path, url)
        try:
            failover(cluster, primary, standby)
        finally:
            cluster.stop_all()
    finally:
        primary.remove()
        if standby is not None:
            standby.remove()


def failover(cluster: Cluster, primary: PostgresCluster, standby: PostgresCluster) -> None:
    def primary_dies(dropper: Dropper) -> str:
        primary.stop("immediate")
        died_at = time.monotonic()
        dropper.mix("during", 4)
        time.sleep(2)  # what an automatic failover takes at the least
        standby.promote()
        return f"primary died, standby promoted {time.monotonic() - died_at:.1f} s later"

    journal_interrupted(cluster, primary_dies)


# ── 5. a staged copy altered on the shared spool ─────────────────────────────────────────
def test_a_staged_copy_altered_before_a_worker_takes_it_is_refused_not_sanitised(cluster: Cluster) -> None:
    """Three spellings of the same swap on the NAS: other bytes; a symbolic link to a file with the
    very bytes that were staged (a link could point anywhere the worker may read); a FIFO (a hash
    that would wait for ever). Each is refused as spool.changed; the untouched file goes through."""
    gateway = cluster.add("gateway", "gw1").start()
    dropper = Dropper(cluster)
    originals = {
        name: png_bytes((n, 2, 3), text=CANARY)
        for n, name in enumerate(("bytes.png", "link.png", "fifo.png"))
    }
    for name, data in originals.items():
        dropper.drop("east", name, data, "spool.changed")
    dropper.drop("east", "intact.png", png_bytes((4, 5, 6), text=CANARY), "released")

    def handed_over() -> bool:
        rows = cluster.transfers()
        return len(rows) == 4 and all(row["state"] == "sanitising" for row in rows)

    cluster.wait_for(handed_over, 30, "every file staged and handed over")
    staged = {row["name"]: cluster.spool / "incoming" / row["id"] for row in cluster.transfers()}
    staged["bytes.png"].write_bytes(png_bytes((7, 8, 9), text=CANARY))  # what someone with the NAS could do
    elsewhere = cluster.root / "elsewhere.png"
    elsewhere.write_bytes(originals["link.png"])
    staged["link.png"].unlink()
    staged["link.png"].symlink_to(elsewhere)
    staged["fifo.png"].unlink()
    os.mkfifo(staged["fifo.png"])

    cluster.add("worker", "wk1").start()
    cluster.wait_until_placed(dropper.expected, 120)
    # the link and the FIFO are nobody's original: removed from the spool, not kept encrypted
    kept = {f"{c}: 2 originals retained for 4 staged transfers" for c in cluster.channels}
    problems = cluster.violations(dropper.expected, canary=CANARY.encode())
    assert set(problems) == kept, "\n".join(problems)
    assert sorted(p.name for p in (cluster.spool / "originals").iterdir()) == sorted(
        row["id"] for row in cluster.transfers() if row["name"] in ("bytes.png", "intact.png")
    )
    for row in cluster.transfers():
        if row["name"] != "intact.png":
            assert (row["state"], row["reason_code"]) == ("rejected", "spool.changed"), row
            assert row["sha256_out"] is None and row["method"] is None
    assert gateway.alive()


def test_an_output_altered_on_the_spool_before_its_placement_is_never_released(cluster: Cluster) -> None:
    """The same attack one step later: the worker's verified output is swapped on the NAS while no
    gateway is up to place it. The gateway that takes the channel checks the hash the journal
    recorded before it places anything, and keeps the transfer back rather than release the swap."""
    gateway = cluster.add("gateway", "gw1").start()
    (cluster.channels["east"].inbox / "swapped.png").write_bytes(png_bytes((1, 2, 3), text=CANARY))
    cluster.wait_for(lambda: [row["state"] for row in cluster.transfers()] == ["sanitising"], 30, "staged")
    gateway.kill()
    worker = cluster.add("worker", "wk1").start()
    cluster.wait_for(lambda: [row["state"] for row in cluster.transfers()] == ["releasing"], 30, "planned")
    source = Path(cluster.rows("SELECT source FROM placements WHERE key = 'output'")[0]["source"])
    source.write_bytes(png_bytes((7, 8, 9), text=CANARY))  # what someone with the NAS could do

    gateway.start()
    gateway.wait_for(
        lambda: "recorded hash" in gateway.log_text(current_run=True), 30, "the placement refused"
    )
    assert cluster.channels["east"].outbox.exists() and list(cluster.channels["east"].outbox.iterdir()) == []
    assert [row["state"] for row in cluster.transfers()] == ["releasing"]  # kept back, tried again later
    assert gateway.alive() and worker.alive()
