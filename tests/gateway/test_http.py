"""The status endpoint: the real daemon answers on loopback or a unix socket; readiness fails honestly."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import stat
from pathlib import Path
from types import SimpleNamespace

import pytest
from aiohttp.test_utils import make_mocked_request
from prometheus_client.parser import text_string_to_metric_families

from gateway import __version__
from gateway.http import StatusHandlers
from gateway.isolation.confinement import probe
from gateway.journal import Journal, Transfer
from gateway.metrics import Metrics
from tests.gateway.daemon_harness import RunningGateway, png_bytes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost")
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.unix_path)


def get(connection: http.client.HTTPConnection, path: str) -> tuple[int, str, str]:
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read().decode()
    finally:
        connection.close()


def samples(metrics_text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(metrics_text)
        for s in family.samples
    }


@pytest.mark.slow
def test_loopback_endpoint_reports_health_readiness_metrics_and_recent_transfers(tmp_path: Path) -> None:
    port = free_port()
    with RunningGateway(tmp_path, http=f'listen = "127.0.0.1:{port}"') as gateway:

        def fetch(path: str) -> tuple[int, str, str]:
            return get(http.client.HTTPConnection("127.0.0.1", port, timeout=10), path)

        (gateway.inbox / "photo.png").write_bytes(png_bytes())
        (gateway.inbox / "setup.exe").write_bytes(b"MZ" + b"\0" * 64)
        gateway.wait_for_outputs(released=1, rejected=1)

        def both_counted() -> bool:  # counted after the final commit, a moment after the files land
            values = samples(fetch("/metrics")[2]).items()
            return sum(value for (name, _), value in values if name == "mukaika_transfers_total") == 2

        gateway.wait_for(both_counted, 10, "both transfers counted")

        assert fetch("/healthz")[:1] == (200,) and fetch("/healthz")[2] == "ok\n"
        status, content_type, body = fetch("/readyz")
        assert status == 200 and content_type.startswith("application/json")
        assert json.loads(body) == {
            "ready": True,
            "failed": [],
            "checks": {"watchers": "ok", "spool": "ok", "journal": "ok", "workers": "ok", "shares": "ok"},
            "confinement": probe().describe("full"),
        }

        status, content_type, text = fetch("/metrics")
        assert status == 200 and content_type.startswith("text/plain; version=")
        values = samples(text)
        transfers = {k: v for k, v in values.items() if k[0] == "mukaika_transfers_total"}
        channel = {"channel": "test"}
        released = frozenset(
            {**channel, "verdict": "released", "file_type": "png", "method": "rebuild"}.items()
        )
        rejected = frozenset({**channel, "verdict": "rejected", "file_type": "exe", "method": "none"}.items())
        assert transfers == {
            ("mukaika_transfers_total", released): 1.0,
            ("mukaika_transfers_total", rejected): 1.0,
        }
        assert values[("mukaika_bytes_in_total", frozenset(channel.items()))] == len(png_bytes()) + 66
        assert values[("mukaika_bytes_out_total", frozenset(channel.items()))] > 0
        assert values[("mukaika_transfer_duration_seconds_count", frozenset(channel.items()))] == 2
        assert values[("mukaika_worker_failures_total", frozenset({("code", "worker.crash")}))] == 0
        for gauge in ("mukaika_queue_depth", "mukaika_in_flight", "mukaika_waiting_files"):
            assert values[(gauge, frozenset())] == 0

        status, _, body = fetch("/status")
        report = json.loads(body)
        assert status == 200
        assert report["states"] == {"released": 1, "rejected": 1}
        assert report["in_flight"] == 0 and report["queue_depth"] == 0
        by_name = {t["name"]: t for t in report["recent"]}
        assert set(by_name) == {"photo.png", "setup.exe"}
        assert by_name["photo.png"]["state"] == "released" and by_name["photo.png"]["method"] == "rebuild"
        assert (
            by_name["setup.exe"]["state"] == "rejected" and by_name["setup.exe"]["reason"] == "policy.reject"
        )
        assert by_name["setup.exe"]["file_type"] == "exe" and by_name["setup.exe"]["finished"]
        assert report["last_errors"] == [] and report["retry_errors"] == []
        assert fetch("/nowhere")[0] == 404


@pytest.mark.slow
def test_unix_socket_endpoint_is_group_only_and_removed_at_stop(tmp_path: Path) -> None:
    sock = tmp_path / "http.sock"
    with RunningGateway(tmp_path, http=f'listen = "unix:{sock}"') as gateway:
        assert stat.S_IMODE(sock.stat().st_mode) == 0o660
        assert get(UnixHTTPConnection(str(sock)), "/healthz")[0] == 200
        status, _, body = get(UnixHTTPConnection(str(sock)), "/readyz")
        assert status == 200 and json.loads(body)["ready"] is True
        (gateway.inbox / "photo.png").write_bytes(png_bytes())
        gateway.wait_for_outputs(released=1, rejected=0)
        gateway.wait_for(
            lambda: json.loads(get(UnixHTTPConnection(str(sock)), "/status")[2])["states"] == {"released": 1},
            10,
            "the transfer in /status",
        )
    assert not sock.exists()


@pytest.mark.slow
def test_an_address_in_use_stops_start_up_with_a_clear_error(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        gateway = RunningGateway(tmp_path, http=f'listen = "127.0.0.1:{port}"')
        with pytest.raises(AssertionError, match="daemon exited"):
            gateway.start()
    assert "status endpoint cannot listen" in gateway.log_text()
    assert "gateway started" not in gateway.log_text()


def test_readyz_is_503_and_names_every_failed_check(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    journal.close()  # a closed connection refuses queries like a broken database does
    source = SimpleNamespace(
        watcher=SimpleNamespace(running=False),
        spool=SimpleNamespace(root=tmp_path / "missing-spool"),
        journal=journal,
        pool=None,
        confinement="full (Landlock ABI 6, seccomp)",
        shares=SimpleNamespace(problems=lambda: {"channels[0].outbox": "/srv/share/out does not exist"}),
    )
    handlers = StatusHandlers(source, Metrics())  # type: ignore[arg-type]
    response = asyncio.run(handlers.readyz(make_mocked_request("GET", "/readyz")))
    assert response.status == 503
    assert response.text is not None
    body = json.loads(response.text)
    assert body["ready"] is False
    assert body["failed"] == ["journal", "shares", "spool", "watchers", "workers"]
    assert body["checks"]["shares"] == "channels[0].outbox: /srv/share/out does not exist"
    assert body["checks"]["spool"].startswith("spool not writable")
    assert body["checks"]["journal"].startswith("journal error")


def test_readyz_fails_only_the_check_that_fails(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    source = SimpleNamespace(
        watcher=SimpleNamespace(running=False),
        spool=SimpleNamespace(root=tmp_path),
        journal=journal,
        pool=SimpleNamespace(size=2),
        confinement="full (Landlock ABI 6, seccomp)",
        shares=SimpleNamespace(problems=dict),
    )
    handlers = StatusHandlers(source, Metrics())  # type: ignore[arg-type]
    try:
        response = asyncio.run(handlers.readyz(make_mocked_request("GET", "/readyz")))
    finally:
        journal.close()
    assert response.status == 503
    assert response.text is not None
    assert json.loads(response.text)["failed"] == ["watchers"]
    assert list(tmp_path.iterdir()) == [tmp_path / "journal.sqlite"]  # the probe file was removed


def test_worker_failures_are_counted_by_code_and_other_refusals_are_not() -> None:
    metrics = Metrics()
    now = 1_000_000.0

    def rejected(code: str) -> Transfer:
        return Transfer("t", "c", "[]", "/in/x", "x", "x", "rejected", now, now + 2, now + 2, size_in=10,
                        file_type="pdf", reason_code=code)  # fmt: skip

    for code in ("worker.timeout", "worker.timeout", "worker.memory", "policy.reject", "sanitizer.crash"):
        metrics.record_transfer(rejected(code))
    value = metrics.registry.get_sample_value
    assert value("mukaika_worker_failures_total", {"code": "worker.timeout"}) == 2
    assert value("mukaika_worker_failures_total", {"code": "worker.memory"}) == 1
    assert value("mukaika_worker_failures_total", {"code": "worker.crash"}) == 0
    rejected = {"channel": "c", "verdict": "rejected", "file_type": "pdf", "method": "none"}
    assert value("mukaika_transfers_total", rejected) == 5
    assert value("mukaika_bytes_out_total", {"channel": "c"}) is None  # nothing released there
    assert value("mukaika_bytes_in_total", {"channel": "c"}) == 50
    assert value("mukaika_transfer_duration_seconds_bucket", {"channel": "c", "le": "2.5"}) == 5
    assert value("mukaika_transfer_duration_seconds_bucket", {"channel": "c", "le": "1.0"}) == 0


def test_metrics_use_their_own_registry_not_the_global_one() -> None:
    from prometheus_client import REGISTRY

    Metrics()  # a second instance would clash in a shared registry
    assert REGISTRY.get_sample_value("mukaika_build_info", {"version": __version__}) is None
