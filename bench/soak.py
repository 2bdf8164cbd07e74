"""Soak: a steady mixed stream into a running daemon while workers and the daemon are killed.

    make soak MINUTES=5        (or: .venv/bin/python -m bench.soak --minutes 5, from the checkout)
    .venv/bin/python -m bench.soak --nodes 3 --minutes 5        (several nodes, see below)

Drops text, CSV, PNG and JPEG with a canary in their metadata, PDFs with JavaScript, Word
documents with macros (.docm), zips, executables, and now and then a FIFO or a symlink, at
``--rate`` files per second. Meanwhile it SIGKILLs a running worker every few seconds and
the daemon itself now and then (restarting it). Every ``--report`` seconds it prints what
was dropped, released and refused, the throughput, and the memory of the daemon and of its
largest worker. After a quiet period it checks the no-loss invariant (tests/gateway/
invariants.py) against the journal and the folders; the exit status is 1 if it fails.
Run as a module from the checkout so that the shared test helpers import.

With ``--nodes N`` (N >= 2) it runs N nodes as processes on one private PostgreSQL and one
spool (tests.gateway.cluster_harness): one gateway and N-1 worker nodes, or two gateways and
N-2 worker nodes when N >= 3, serving two channels ("east" and "west") that both get the
stream. It SIGKILLs a confined worker of a worker node every few seconds, a whole worker node
every 8-20 s and a gateway node every 15-40 s, each node restarted 0.5-3 s later, and checks
the invariant over both channels at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pikepdf
from PIL import Image

from tests.gateway.cluster_harness import Cluster, Node
from tests.gateway.daemon_harness import RunningGateway, png_bytes
from tests.gateway.invariants import GatewayDirs, inbox_name, no_loss_violations, outcomes, read_journal
from tests.postgres_harness import running_cluster
from tests.sanitizers.ooxml_builders import macros, word
from tests.sanitizers.pdf_builders import build, js_action

CANARY = "soak-canary-must-not-cross"
# a worker killed mid-file is refused as worker.timeout; one in flight at too many daemon kills as
# worker.crash; a verifier killed mid-check as verify.failed, saying so (any other verify.failed is a bug)
TOLERATED = ("worker.timeout", "worker.crash", "verify.failed")
KILLED_VERIFIER = "the verifier ended with status -9"
RULES = """
[channels.rules.csv]
method = "rebuild"
[channels.rules.docm]
method = "rebuild"
"""


# ── the mixed stream ────────────────────────────────────────────────────────────────────
@dataclass(frozen=True)
class Kind:
    extension: str
    expected: str  # "released" or the reason code of the refusal
    make: Callable[[random.Random, Path], bytes] | None  # None: a special entry, not a file


def text(rng: random.Random, scratch: Path) -> bytes:
    return ("市役所からのお知らせ\r\n" * rng.randint(5, 400)).encode("cp932")


def csv(rng: random.Random, scratch: Path) -> bytes:
    rows = "".join(f"{i},支所{i % 9},{rng.randint(0, 99999)}\r\n" for i in range(rng.randint(10, 3000)))
    return ("番号,支所,金額\r\n" + rows + '=HYPERLINK("http://x"),0,0\r\n').encode("cp932")


def png(rng: random.Random, scratch: Path) -> bytes:
    return png_bytes((rng.randrange(256), rng.randrange(256), 9), text=CANARY)


def jpeg(rng: random.Random, scratch: Path) -> bytes:
    exif = Image.Exif()
    exif[0x010E] = CANARY  # ImageDescription
    buffer = io.BytesIO()
    Image.effect_noise((rng.randint(64, 640), rng.randint(64, 480)), 50).convert("RGB").save(
        buffer, "JPEG", quality=85, exif=exif
    )
    return buffer.getvalue()


def pdf(rng: random.Random, scratch: Path) -> bytes:
    def open_action(document: pikepdf.Pdf) -> None:
        document.Root.OpenAction = js_action(f"app.alert('{CANARY}')")

    path = build(
        scratch / "soak.pdf", open_action, texts=tuple(f"page {n}" for n in range(rng.randint(1, 8)))
    )
    return path.read_bytes()


def docm(rng: random.Random, scratch: Path) -> bytes:
    package = word((f"議事録 {rng.random()}",))
    macros(package)
    return package.write(scratch / "soak.docm").read_bytes()


def zipped(rng: random.Random, scratch: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("お知らせ.txt", text(rng, scratch))
        archive.writestr("写真.png", png(rng, scratch))
    return buffer.getvalue()


def exe(rng: random.Random, scratch: Path) -> bytes:
    return b"MZ" + rng.randbytes(rng.randint(200, 4000))


KINDS = (
    Kind("txt", "released", text), Kind("csv", "released", csv), Kind("png", "released", png),
    Kind("jpg", "released", jpeg), Kind("pdf", "released", pdf), Kind("docm", "released", docm),
    Kind("zip", "released", zipped), Kind("exe", "policy.reject", exe),
)  # fmt: skip
SPECIAL = (Kind("fifo", "input.not_regular", None), Kind("lnk", "input.not_regular", None))
VARIANTS = 4  # distinct contents per kind, made once: the stream should cost the daemon, not us


class Stream:
    def __init__(
        self, rng: random.Random, inbox: Path, scratch: Path, contents: dict[str, list[bytes]] | None = None
    ) -> None:
        self.rng = rng
        self.inbox = inbox
        self.contents = contents or {
            k.extension: [k.make(rng, scratch) for _ in range(VARIANTS)] for k in KINDS if k.make
        }
        self.expected: dict[str, str] = {}

    def drop_one(self) -> None:
        kind = self.rng.choice(SPECIAL) if self.rng.random() < 0.02 else self.rng.choice(KINDS)
        name = f"{len(self.expected):06}-{kind.extension}.{kind.extension}"
        target = self.inbox / name
        if kind.extension == "fifo":
            os.mkfifo(target)
        elif kind.extension == "lnk":
            target.symlink_to("/etc/passwd")
        elif self.rng.random() < 0.5:  # a download: complete before it gets its name
            partial = target.with_name(f"{name}.part")
            partial.write_bytes(self.rng.choice(self.contents[kind.extension]))
            partial.rename(target)
        else:
            target.write_bytes(self.rng.choice(self.contents[kind.extension]))
        self.expected[name] = kind.expected


# ── processes and memory ────────────────────────────────────────────────────────────────
def children() -> dict[int, list[int]]:
    """Parent pid → child pids, for every process we can see."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def workers(daemon_pid: int) -> list[int]:
    """The daemon's workers: children of its zygote (gateway.isolation.zygote), a child of the daemon."""
    tree = children()
    found = []
    for child in tree.get(daemon_pid, []):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"gateway.isolation.zygote" in command:
            found += tree.get(child, [])
    return found


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


# ── the run ─────────────────────────────────────────────────────────────────────────────
class Soak:
    def __init__(self, args: argparse.Namespace, root: Path) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.gateway = RunningGateway(root, settle=0.3, rescan=2.0, workers=2, channel_extra=RULES)
        self.gateway.inbox.mkdir(parents=True)
        scratch = root / "scratch"
        scratch.mkdir()
        self.stream = Stream(self.rng, self.gateway.inbox, scratch)
        self.started = time.monotonic()
        self.worker_kills = self.daemon_kills = 0
        self.worker_rss_max = 0.0
        self.last_report = (self.started, 0)

    def finished(self) -> tuple[int, int]:
        """Released and refused so far, from the folders (the journal is busy being killed)."""
        released = sum(1 for p in self.gateway.outbox.iterdir() if not p.name.startswith("."))
        refused = sum(1 for p in self.gateway.rejected.iterdir() if p.name.endswith(".reason.txt"))
        return released, refused

    def report(self, final: bool = False) -> None:
        now = time.monotonic()
        released, refused = self.finished()
        since, done_before = self.last_report
        daemon = (
            f"{rss_mb(self.gateway.process.pid):6.1f} MB" if self.gateway.process is not None else "  (down) "
        )
        print(f"{now - self.started:7.0f} s  dropped {len(self.stream.expected):6}  released {released:6}  "
              f"refused {refused:5}  {(released + refused - done_before) / max(now - since, 1e-9):5.2f} files/s  "
              f"daemon RSS {daemon}  worker RSS max {self.worker_rss_max:6.1f} MB  "
              f"kills: {self.worker_kills} workers, {self.daemon_kills} daemon"
              + ("  (final)" if final else ""), flush=True)  # fmt: skip
        self.last_report = (now, released + refused)
        self.worker_rss_max = 0.0

    def run(self) -> int:
        self.gateway.start()
        deadline = self.started + self.args.minutes * 60
        next_drop = next_report = time.monotonic()
        next_report += self.args.report
        next_worker_kill = time.monotonic() + self.rng.uniform(2, 8)
        next_daemon_kill = time.monotonic() + self.rng.uniform(20, 60)
        restart_at = next_sample = 0.0
        pids: list[int] = []
        while (now := time.monotonic()) < deadline:
            if now >= next_drop:
                self.stream.drop_one()
                next_drop += self.rng.expovariate(self.args.rate)
            if self.gateway.process is None and now >= restart_at:
                self.gateway.start()  # files dropped while it was down wait in the inbox, unannounced
            if self.gateway.process is not None and now >= next_sample:
                pids = workers(self.gateway.process.pid)
                self.worker_rss_max = max([self.worker_rss_max, *(rss_mb(pid) for pid in pids)])
                next_sample = now + 0.25
            if now >= next_worker_kill and pids:
                with contextlib.suppress(ProcessLookupError):  # it may have finished meanwhile
                    os.kill(self.rng.choice(pids), signal.SIGKILL)
                    self.worker_kills += 1
                pids = []
                next_worker_kill = now + self.rng.uniform(2, 8)
            if now >= next_daemon_kill and self.gateway.process is not None:
                self.gateway.kill()
                self.daemon_kills += 1
                restart_at = now + self.rng.uniform(0.5, 3)
                next_daemon_kill = now + self.rng.uniform(20, 60)
            if now >= next_report:
                self.report()
                next_report += self.args.report
            time.sleep(0.02)
        return self.settle_and_check()

    def settle_and_check(self) -> int:
        """Stop dropping and killing; wait until every drop has an outcome, then check."""
        if self.gateway.process is None:
            self.gateway.start()
        quiet_until = time.monotonic() + self.args.quiet
        while time.monotonic() < quiet_until and sum(self.finished()) < len(self.stream.expected):
            time.sleep(0.5)
        time.sleep(3)  # one more rescan: nothing may appear twice late
        self.report(final=True)
        self.gateway.stop()
        elapsed = time.monotonic() - self.started
        dirs = GatewayDirs(self.gateway.spool, self.gateway.inbox, self.gateway.outbox, self.gateway.rejected)
        problems = no_loss_violations(dirs, self.stream.expected, tolerated=TOLERATED, canary=CANARY.encode())
        problems += [f"{inbox_name(row)}: verify.failed not by a kill: {row['reason_message']}"
                     for row in read_journal(self.gateway.spool)[0]
                     if row["reason_code"] == "verify.failed" and row["reason_message"] != KILLED_VERIFIER]  # fmt: skip
        codes: dict[str, int] = {}
        for found in outcomes(self.gateway.spool).values():
            key = found[0].state if found[0].reason_code is None else f"rejected: {found[0].reason_code}"
            codes[key] = codes.get(key, 0) + 1
        print(f"\n{len(self.stream.expected)} dropped in {self.args.minutes:g} min, all finished after "
              f"{elapsed:.0f} s ({sum(self.finished()) / elapsed:.2f} files/s overall); "
              f"{self.worker_kills} workers and {self.daemon_kills} daemons killed")  # fmt: skip
        return verdict(codes, problems)


def verdict(codes: dict[str, int], problems: list[str]) -> int:
    """Print the outcomes, the violations and the verdict; the exit status."""
    print("outcomes: " + ", ".join(f"{key} {n}" for key, n in sorted(codes.items())))
    for problem in problems[:50]:
        print(f"VIOLATION {problem}")
    print(f"verdict: {'FAIL' if problems else 'PASS'} ({len(problems)} violations of the no-loss invariant)")
    return 1 if problems else 0


# ── several nodes ───────────────────────────────────────────────────────────────────────
#: the kinds the stream drops that the cluster harness's rules do not name
CLUSTER_RULES = """
[rules.csv]
method = "rebuild"
[rules.docm]
method = "rebuild"
"""


class ClusterSoak:
    """The stream into both channels of gateway and worker nodes on one PostgreSQL (``--nodes``)."""

    def __init__(self, args: argparse.Namespace, root: Path, url: str) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.cluster = Cluster(root, url, extra_rules=CLUSTER_RULES)
        gateways = 2 if args.nodes >= 3 else 1
        self.gateways = [self.cluster.add("gateway", f"gw{i + 1}") for i in range(gateways)]
        self.workers = [
            self.cluster.add("worker", f"wk{i + 1}", workers=2) for i in range(args.nodes - gateways)
        ]
        scratch = root / "scratch"
        scratch.mkdir()
        streams: dict[str, Stream] = {}
        for name, dirs in self.cluster.channels.items():
            first = next(iter(streams.values()), None)
            streams[name] = Stream(self.rng, dirs.inbox, scratch, first.contents if first else None)
        self.streams = streams
        self.started = time.monotonic()
        self.kills = {"sandbox": 0, "worker node": 0, "gateway": 0}
        self.exits = 0  # nodes that ended without being killed (each one a finding)
        self.restart_at: dict[str, float] = {}  # node name → when to start it again
        self.worker_rss_max = 0.0
        self.last_report = (self.started, 0)

    def dropped(self) -> int:
        return sum(len(stream.expected) for stream in self.streams.values())

    def finished(self) -> tuple[int, int]:
        """Released and refused so far, from the journal (PostgreSQL is never killed)."""
        rows = self.cluster.rows("SELECT state, count(*) AS n FROM transfers GROUP BY state")
        counts = {row["state"]: int(row["n"]) for row in rows}
        return counts.get("released", 0), counts.get("rejected", 0)

    def report(self, final: bool = False) -> None:
        now = time.monotonic()
        released, refused = self.finished()
        since, done_before = self.last_report
        memory = " ".join(
            f"{node.name} {rss_mb(node.pid):5.1f}" if node.process is not None else f"{node.name} (down)"
            for node in self.cluster.nodes
        )
        kills = ", ".join(f"{n} {what}" for what, n in self.kills.items())
        print(f"{now - self.started:7.0f} s  dropped {self.dropped():6}  released {released:6}  refused {refused:5}  "
              f"{(released + refused - done_before) / max(now - since, 1e-9):5.2f} files/s  RSS MB: {memory}  "
              f"sandbox max {self.worker_rss_max:5.1f}  kills: {kills}" + ("  (final)" if final else ""),
              flush=True)  # fmt: skip
        self.last_report = (now, released + refused)
        self.worker_rss_max = 0.0

    def sandboxes(self) -> list[int]:
        return [pid for node in self.workers if node.process is not None for pid in workers(node.pid)]

    def kill_node(self, nodes: list[Node], what: str, now: float) -> None:
        running = [node for node in nodes if node.process is not None]
        if running:
            victim = self.rng.choice(running)
            victim.kill()
            self.kills[what] += 1
            self.restart_at[victim.name] = now + self.rng.uniform(0.5, 3)

    def restart_due(self, now: float, every: bool = False) -> None:
        for node in self.cluster.nodes:
            if node.process is not None and (code := node.process.poll()) is not None:
                print(f"{node.name} exited on its own (status {code}): restarted, see {node.log}", flush=True)
                self.exits += 1
                node.process = None
            if node.process is None and (every or now >= self.restart_at.get(node.name, 0.0)):
                node.spawn()  # ready in a second or two; files meanwhile wait in the inbox or queue

    def run(self) -> int:
        self.cluster.start(*self.gateways, *self.workers)
        deadline = self.started + self.args.minutes * 60
        next_drop = next_report = time.monotonic()
        next_report += self.args.report
        next_sandbox_kill = time.monotonic() + self.rng.uniform(2, 8)
        next_worker_kill = time.monotonic() + self.rng.uniform(8, 20)
        next_gateway_kill = time.monotonic() + self.rng.uniform(15, 40)
        next_sample = 0.0
        pids: list[int] = []
        channels = list(self.streams.values())
        while (now := time.monotonic()) < deadline:
            if now >= next_drop:
                self.rng.choice(channels).drop_one()
                next_drop += self.rng.expovariate(self.args.rate)
            self.restart_due(now)
            if now >= next_sample:
                pids = self.sandboxes()
                self.worker_rss_max = max([self.worker_rss_max, *(rss_mb(pid) for pid in pids)])
                next_sample = now + 0.25
            if now >= next_sandbox_kill and pids:
                with contextlib.suppress(ProcessLookupError):  # it may have finished meanwhile
                    os.kill(self.rng.choice(pids), signal.SIGKILL)
                    self.kills["sandbox"] += 1
                pids = []
                next_sandbox_kill = now + self.rng.uniform(2, 8)
            if now >= next_worker_kill:
                self.kill_node(self.workers, "worker node", now)
                next_worker_kill = now + self.rng.uniform(8, 20)
            if now >= next_gateway_kill:
                self.kill_node(self.gateways, "gateway", now)
                next_gateway_kill = now + self.rng.uniform(15, 40)
            if now >= next_report:
                self.report()
                next_report += self.args.report
            time.sleep(0.02)
        return self.settle_and_check()

    def settle_and_check(self) -> int:
        """Stop dropping and killing; every node up again; wait for every outcome, then check."""
        self.restart_due(time.monotonic(), every=True)
        for node in self.cluster.nodes:
            node.wait_started()
        expected = {name: stream.expected for name, stream in self.streams.items()}
        with contextlib.suppress(AssertionError):  # what is still missing shows as violations
            self.cluster.wait_until_placed(expected, self.args.quiet)
        time.sleep(3)  # one more rescan: nothing may appear twice late
        self.report(final=True)
        for node in self.cluster.nodes:
            node.stop()
        elapsed = time.monotonic() - self.started
        problems = self.cluster.violations(expected, canary=CANARY.encode(), tolerated=TOLERATED)
        problems += [f"{self.exits} node(s) exited without being killed"] if self.exits else []
        rows = self.cluster.transfers()
        problems += [f"{row['channel']}: {inbox_name(row)}: verify.failed not by a kill: {row['reason_message']}"
                     for row in rows
                     if row["reason_code"] == "verify.failed" and row["reason_message"] != KILLED_VERIFIER]  # fmt: skip
        codes: dict[str, int] = {}
        for row in rows:
            key = row["state"] if row["reason_code"] is None else f"{row['state']}: {row['reason_code']}"
            codes[key] = codes.get(key, 0) + 1
        retried = sum(1 for row in rows if row["attempts"] > 1)
        kills = ", ".join(f"{n} {what}" for what, n in self.kills.items())
        print(f"\n{self.dropped()} dropped into {len(self.streams)} channels in {self.args.minutes:g} min on "
              f"{len(self.gateways)} gateway(s) and {len(self.workers)} worker node(s), all finished after "
              f"{elapsed:.0f} s ({sum(self.finished()) / elapsed:.2f} files/s overall); killed: {kills}; "
              f"{retried} transfers sanitised more than once")  # fmt: skip
        return verdict(codes, problems)


def run_cluster(args: argparse.Namespace, root: Path) -> int:
    with running_cluster() as server:
        soak = ClusterSoak(args, root, server.new_database())
        try:
            return soak.run()
        finally:
            soak.cluster.stop_all()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--rate", type=float, default=3.0, help="files dropped per second")
    parser.add_argument("--report", type=float, default=30, help="seconds between progress lines")
    parser.add_argument("--quiet", type=float, default=300, help="at most this long for the last outcomes")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--keep", action="store_true", help="keep the run's folder even if it passes")
    parser.add_argument("--nodes", type=int, default=1,
                        help="N >= 2: gateway and worker nodes on one PostgreSQL (see above)")  # fmt: skip
    args = parser.parse_args()
    if args.nodes < 1:
        parser.error("--nodes must be 1 (one daemon) or more")
    root = Path(tempfile.mkdtemp(prefix="mukaika-soak-"))
    print(f"soak: {args.minutes:g} min at {args.rate:g} files/s, seed {args.seed}, in {root} "
          f"({os.cpu_count()} CPUs)" + (f", {args.nodes} nodes" if args.nodes > 1 else ""), flush=True)  # fmt: skip
    if args.nodes > 1:
        status = run_cluster(args, root)
    else:
        soak = Soak(args, root)
        try:
            status = soak.run()
        finally:
            if soak.gateway.process is not None:
                soak.gateway.kill()
    if status == 0 and not args.keep:
        shutil.rmtree(root)
    else:
        print(f"left for inspection: {root}")
    return status


if __name__ == "__main__":
    sys.exit(main())
