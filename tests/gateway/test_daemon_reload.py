"""The real daemon and its config: share folders that must exist, and reloads that report."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.gateway.daemon_harness import MUKAIKA, REPOSITORY, RunningGateway, png_bytes
from tests.gateway.test_http import UnixHTTPConnection, get

pytestmark = pytest.mark.slow


def log_events(gateway: RunningGateway, event: str) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in gateway.log_text().splitlines() if line.startswith("{")]
    return [line for line in lines if line.get("event") == event]


def readyz(socket_path: Path) -> tuple[int, dict[str, object]]:
    status, _, body = get(UnixHTTPConnection(str(socket_path)), "/readyz")
    return status, json.loads(body)


def test_run_refuses_a_share_folder_that_does_not_exist(tmp_path: Path) -> None:
    gateway = RunningGateway(tmp_path)  # not started: nobody made its folders
    gateway.inbox.mkdir()
    gateway.rejected.mkdir()
    result = subprocess.run([str(MUKAIKA), "run", "--config", str(gateway.config)], capture_output=True,
                            text=True, timeout=60, cwd=REPOSITORY, check=False)  # fmt: skip
    assert result.returncode == 2
    (line,) = [json.loads(x) for x in (result.stdout + result.stderr).splitlines() if "cannot start" in x]
    assert line["event"] == "cannot start: a folder the config names is not there"
    assert line["problems"] == [
        f"{gateway.config}: channels[0].outbox: {gateway.outbox} does not exist; create it or mount the"
        " share first (the gateway creates only the spool)"
    ]
    assert not gateway.outbox.exists() and not gateway.spool.exists()


def test_a_share_that_vanishes_fails_readyz_and_the_log_names_it(tmp_path: Path) -> None:
    status_socket = tmp_path / "status.sock"
    # rescans are rare here: a file found after the share is back was found by the restarted watcher
    gateway = RunningGateway(tmp_path, rescan=300, http=f'listen = "unix:{status_socket}"')
    with gateway:
        assert readyz(status_socket)[0] == 200
        gateway.inbox.rmdir()
        gateway.wait_for(lambda: bool(log_events(gateway, "share folder unavailable")), 10, "the log line")
        (event,) = log_events(gateway, "share folder unavailable")
        assert (event["key"], event["problem"], event["level"]) == (
            "channels[0].inbox", f"{gateway.inbox} does not exist", "error")  # fmt: skip
        status, body = readyz(status_socket)
        assert status == 503 and "shares" in body["failed"]  # type: ignore[operator]
        assert body["checks"]["shares"] == f"channels[0].inbox: {gateway.inbox} does not exist"  # type: ignore[index]
        gateway.inbox.mkdir()
        gateway.wait_for(lambda: bool(log_events(gateway, "share folder available again")), 10, "the share")
        assert readyz(status_socket)[0] == 200
        (gateway.inbox / "back.png").write_bytes(png_bytes())
        gateway.wait_for_outputs(released=1, rejected=0, timeout=20)


def reload(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(MUKAIKA), "reload", "--config", str(config)], capture_output=True, text=True,
                          timeout=60, cwd=REPOSITORY, check=False)  # fmt: skip


def test_a_reload_tells_systemd_and_mukaika_reload_what_became_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(tmp_path / "notify.sock"))
    receiver.settimeout(20)
    runtime = tmp_path / "run"  # as systemd's RuntimeDirectory=: the daemon and ExecReload both see it
    runtime.mkdir()
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "notify.sock"))
    monkeypatch.setenv("RUNTIME_DIRECTORY", str(runtime))
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)

    def message() -> list[str]:
        return receiver.recv(4096).decode().split("\n")

    gateway = RunningGateway(tmp_path)
    try:
        with gateway:
            assert message() == ["READY=1", "STATUS=watching 1 channel(s)"]
            assert (runtime / "daemon.json").exists()
            good = gateway.config.read_text()
            applied = good.replace(
                '[rules.png]\nmethod = "rebuild"', '[rules.png]\nmethod = "reject"'
            ).replace('log_format = "json"\n', 'log_format = "json"\nlog_level = "debug"\n')
            gateway.config.write_text(applied)
            before = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
            result = reload(gateway.config)
            assert (result.returncode, result.stderr) == (0, "")
            assert result.stdout.splitlines() == ["reloaded: 2 change(s)", '  gateway.log_level: "info" -> "debug"',
                                                  '  rules.png.method: "rebuild" -> "reject"']  # fmt: skip
            reloading, monotonic, status = message()
            assert (reloading, status) == ("RELOADING=1", "STATUS=reloading the configuration")
            assert before <= int(monotonic.removeprefix("MONOTONIC_USEC=")) <= time.monotonic_ns() // 1000
            assert message() == ["READY=1", "STATUS=watching 1 channel(s)"]
            (waiting,) = log_events(gateway, "changed settings take effect at the next restart")
            assert waiting["changes"] == ['gateway.log_level: "info" -> "debug"']

            gateway.config.write_text(good + "\n[rules.gif]\nmethod = 'shred'\n")
            result = reload(gateway.config)  # refused by the check: the daemon is not even told
            assert result.returncode == 1
            assert f"{gateway.config}: rules.gif.method: unknown method 'shred'" in result.stderr

            gateway.config.write_text(applied.replace(str(gateway.spool), str(tmp_path / "elsewhere")))
            result = reload(gateway.config)  # passes the check, refused by the running daemon
            assert result.returncode == 1
            assert f"{gateway.config}: gateway.spool_dir: cannot change without a restart" in result.stderr
            assert message()[0] == "RELOADING=1"  # the broken file before it sent nothing
            assert message() == ["READY=1", "STATUS=reload refused, 1 problem(s): the previous config runs"]

            (gateway.inbox / "photo.png").write_bytes(png_bytes())  # the last applied config is in force
            gateway.wait_for_outputs(released=0, rejected=1)
            assert "policy.reject" in (gateway.rejected / "photo.png.reason.txt").read_text(
                encoding="utf-8-sig"
            )
        assert message()[0] == "STOPPING=1"
        assert not (runtime / "daemon.json").exists()
        assert "no running gateway found" in reload(gateway.config).stderr
    finally:
        receiver.close()
