"""Under systemd the canonical transfer line reaches journald with indexed fields.

journald's socket path is fixed, so the test runs the logging side in its own mount
namespace with a tmpfs over /run/systemd/journal, where a real datagram socket receives
what the native protocol sends.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPT = textwrap.dedent(
    """
    import json, logging, socket
    from gateway.logsetup import configure_logging
    from gateway.journal import Transfer
    from gateway.transfers import log_transfer

    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind("/run/systemd/journal/socket")
    receiver.settimeout(5)
    configure_logging("auto", "info")
    log_transfer(Transfer(
        id="20261128T000000-abcd0001", channel="internet-to-lgwan", rel_dir="[]", inbox_path="/in/x.exe",
        name_in="請求書.exe", name="請求書.exe", state="rejected", created=1.0, updated=1.5, finished=1.5,
        size_in=4, sha256_in="ab" * 32, file_type="exe", reason_code="policy.reject",
        reason_message="the rule for exe is reject", findings="[]"))
    logging.getLogger("aiohttp.access").warning("GET /metrics 200")
    entries = []
    for _ in range(2):
        data = receiver.recv(65536).decode()
        entries.append(dict(line.split("=", 1) for line in data.splitlines()))
    print(json.dumps(entries))
    """
)


@pytest.fixture
def journal_entries(tmp_path: Path) -> list[dict[str, str]]:
    if os.geteuid() != 0:
        pytest.skip("a private mount namespace for journald's socket needs root")
    script = tmp_path / "log.py"
    script.write_text(SCRIPT)
    shell = ("mkdir -p /run/systemd/journal && mount -t tmpfs tmpfs /run/systemd/journal && "
             f"exec {sys.executable} {script}")  # fmt: skip
    env = {**os.environ, "JOURNAL_STREAM": "8:12345", "PYTHONPATH": str(Path(__file__).parents[2])}
    result = subprocess.run(["unshare", "-m", "sh", "-c", shell], capture_output=True, text=True, env=env,
                            timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    entries: list[dict[str, str]] = json.loads(result.stdout)
    return entries


def test_transfer_line_arrives_with_indexed_fields(journal_entries: list[dict[str, str]]) -> None:
    transfer = journal_entries[0]
    assert transfer["TRANSFER_ID"] == "20261128T000000-abcd0001"
    assert transfer["CHANNEL"] == "internet-to-lgwan"
    assert transfer["VERDICT"] == "rejected"
    assert transfer["REASON"] == "policy.reject"
    assert transfer["FILE_TYPE"] == "exe"
    assert transfer["SHA256_IN"] == "ab" * 32
    assert transfer["DURATION_MS"] == "500.0"
    assert transfer["PRIORITY"] == "6" and transfer["SYSLOG_IDENTIFIER"] == "mukaika"
    assert transfer["MESSAGE"].startswith("transfer verdict=rejected name=請求書.exe reason=policy.reject")


def test_standard_library_logs_take_the_same_path(journal_entries: list[dict[str, str]]) -> None:
    library = journal_entries[1]
    assert library["MESSAGE"] == "GET /metrics 200"
    assert library["LOGGER_NAME"] == "aiohttp.access" and library["PRIORITY"] == "4"
