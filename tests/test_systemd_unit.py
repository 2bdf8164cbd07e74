"""The shipped unit is hardened (systemd's own score) without breaking what workers need."""

from __future__ import annotations

import functools
import re
import subprocess
from pathlib import Path

from gateway.activation import METRICS_SOCKET
from sanitizers.base import Limits

UNIT = Path(__file__).parents[1] / "systemd" / "mukaika.service"


def directives(name: str) -> list[str]:
    return re.findall(rf"^{name}=(.*)$", UNIT.read_text(encoding="utf-8"), re.M)


def test_systemd_rates_the_unit_at_most_0_5() -> None:
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(UNIT)],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match is not None, result.stdout + result.stderr
    assert float(match.group(1)) <= 0.5


def test_workers_can_still_set_their_own_limits_and_keep_no_network() -> None:
    denied = " ".join(d for d in directives("SystemCallFilter") if d.startswith("~"))
    assert "@resources" not in denied  # setrlimit/prlimit for every worker
    assert directives("PrivateNetwork") == ["yes"] and directives("IPAddressDeny") == ["any"]
    assert directives("NoNewPrivileges") == ["yes"] and directives("UMask") == ["0077"]
    assert directives("User") == ["mukaika"]


@functools.cache
def syscalls_of(group: str) -> frozenset[str]:
    """The calls of a systemd syscall group, nested groups expanded (systemd-analyze syscall-filter)."""
    listing = subprocess.run(["systemd-analyze", "syscall-filter", "--no-pager", group], capture_output=True,
                             text=True, check=True, timeout=60).stdout  # fmt: skip
    calls: set[str] = set()
    for line in listing.splitlines()[1:]:
        entry = line.strip()
        if entry and not entry.startswith("#"):
            calls |= syscalls_of(entry) if entry.startswith("@") else {entry}
    return frozenset(calls)


def unit_allows() -> frozenset[str]:
    """What the unit's SystemCallFilter= lines let through: allow lists joined, deny lists removed."""
    allowed: set[str] = set()
    denied: set[str] = set()
    for line in directives("SystemCallFilter"):
        names = line.removeprefix("~").split()
        calls = set().union(*(syscalls_of(n) if n.startswith("@") else {n} for n in names))
        (denied if line.startswith("~") else allowed).update(calls)
    return frozenset(allowed - denied)


def test_the_unit_lets_workers_confine_themselves() -> None:
    """Landlock and seccomp must work under the unit: the daemon refuses to start without them."""
    needed = {"landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self", "seccomp", "prctl",
              "setrlimit", "prlimit64", "setsid", "clone", "fork"}  # fmt: skip
    assert needed - unit_allows() == set()
    # NoNewPrivileges= is what Landlock and seccomp ask for anyway; nothing of ours needs a namespace
    assert directives("NoNewPrivileges") == ["yes"] and directives("RestrictNamespaces") == ["yes"]
    assert directives("PrivateUsers") == ["yes"]


def test_a_fork_bomb_stops_before_the_service_runs_out_of_tasks() -> None:
    assert Limits().worker_processes * 2 <= int(directives("TasksMax")[0])


def test_the_relays_drop_in_opens_only_the_network_to_named_addresses(tmp_path: Path) -> None:
    """With systemd/mukaika-smtp.conf the service reaches the MTAs, still rated OK, still deny-by-default."""
    drop_in = UNIT.with_name("mukaika-smtp.conf")
    units = tmp_path / "etc" / "systemd" / "system"
    (units / "mukaika.service.d").mkdir(parents=True)
    (units / "mukaika.service").write_text(UNIT.read_text(encoding="utf-8"), encoding="utf-8")
    (units / "mukaika.service.d" / "smtp.conf").write_text(
        drop_in.read_text(encoding="utf-8"), encoding="utf-8"
    )
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", f"--root={tmp_path}", "--no-pager", "mukaika.service"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match is not None, result.stdout + result.stderr
    assert float(match.group(1)) <= 1.5
    assert "Service defines IP address allow list with only localhost entries" in result.stdout
    settings = dict(line.split("=", 1) for line in drop_in.read_text(encoding="utf-8").splitlines()
                    if "=" in line and not line.startswith("#"))  # fmt: skip
    assert settings == {"PrivateNetwork": "no", "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
                        "IPAddressAllow": "localhost"}  # fmt: skip


def test_the_metrics_socket_unit_verifies_and_hands_its_socket_to_the_gateway(tmp_path: Path) -> None:
    """mukaika-http.socket: systemd listens on loopback and passes the socket by the name the daemon serves."""
    socket_unit = UNIT.with_name("mukaika-http.socket")
    for unit in (UNIT, socket_unit):  # verify loads the service that Service= names from the same folder
        (tmp_path / unit.name).write_text(unit.read_text(encoding="utf-8"), encoding="utf-8")
    result = subprocess.run(["systemd-analyze", "verify", "--no-pager", str(tmp_path / socket_unit.name)],
                            capture_output=True, text=True, check=False, timeout=60)  # fmt: skip
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
    settings = dict(line.split("=", 1) for line in socket_unit.read_text(encoding="utf-8").splitlines()
                    if "=" in line and not line.startswith("#"))  # fmt: skip
    assert settings["ListenStream"] == "127.0.0.1:9479" and settings["Service"] == UNIT.name
    assert settings["FileDescriptorName"] == METRICS_SOCKET
    assert (settings["IPAddressDeny"], settings["IPAddressAllow"]) == ("any", "localhost")


def test_a_reload_checks_the_config_and_waits_for_the_daemons_answer() -> None:
    """`systemctl reload` fails when the config is refused; Type=notify-reload would need systemd 253."""
    assert directives("Type") == ["notify"]
    (start,) = directives("ExecStart")
    (reload,) = directives("ExecReload")
    program, _, *config = start.split()
    assert reload.split() == [program, "reload", *config]


def exposure(root: Path, unit: str) -> float:
    """systemd's exposure rating of ``unit`` as installed below ``root``."""
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", f"--root={root}", "--no-pager", unit],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match is not None, result.stdout + result.stderr
    return float(match.group(1))


def test_the_worker_node_unit_is_the_gateways_but_for_its_command_and_reaches_only_postgresql(
    tmp_path: Path,
) -> None:
    """mukaika-worker.service keeps every wall of the gateway's; with the cluster drop-in it may open
    TCP connections (to PostgreSQL), still deny-by-default."""
    worker = UNIT.with_name("mukaika-worker.service")
    gateway_walls = {line for line in UNIT.read_text(encoding="utf-8").splitlines()
                     if "=" in line and not line.startswith(("#", "Exec", "Description", "WatchdogSec", "Restart="))}  # fmt: skip
    worker_lines = set(worker.read_text(encoding="utf-8").splitlines())
    assert gateway_walls <= worker_lines, sorted(gateway_walls - worker_lines)
    assert (
        "ExecStart=/opt/mukaika/.venv/bin/mukaika worker --config /etc/mukaika/mukaika.toml" in worker_lines
    )
    units = tmp_path / "etc" / "systemd" / "system"
    (units / "mukaika-worker.service.d").mkdir(parents=True)
    (units / "mukaika-worker.service").write_text(worker.read_text(encoding="utf-8"), encoding="utf-8")
    assert exposure(tmp_path, "mukaika-worker.service") <= 0.5
    drop_in = UNIT.with_name("mukaika-cluster.conf").read_text(encoding="utf-8")
    (units / "mukaika-worker.service.d" / "cluster.conf").write_text(drop_in, encoding="utf-8")
    assert exposure(tmp_path, "mukaika-worker.service") <= 1.5
    settings = dict(
        line.split("=", 1) for line in drop_in.splitlines() if "=" in line and not line.startswith("#")
    )
    assert settings == {"PrivateNetwork": "no", "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
                        "IPAddressAllow": "localhost"}  # fmt: skip
