"""Under systemd the canonical transfer line reaches journald with indexed fields.

journald's socket path is fixed, so the test runs the logging side in its own mount
namespace with a tmpfs over /run/systemd/journal, where a real datagram socket receives
what the native protocol sends (a large entry as a sealed memfd, as journald accepts it).
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gateway import transfers
from tests.transfer_line import documented_fields

SCRIPT = textwrap.dedent(
    """
    import array, json, logging, os, socket, struct
    import structlog
    from gateway.logsetup import configure_logging
    from gateway.transfers import log_transfer
    from tests.transfer_line import every_field_transfer

    def parse(data):
        fields = []
        while data:
            head, sep, rest = data.partition(b"\\n")
            if b"=" in head:
                name, _, value = head.partition(b"=")
                data = rest
            else:  # NAME, then a 64-bit length and the value, for values with line breaks
                (length,) = struct.unpack("<Q", rest[:8])
                name, value, data = head, rest[8 : 8 + length], rest[9 + length :]
            fields.append((name.decode(), value.decode()))
        return fields

    def receive(receiver):
        data, ancillary, _, _ = receiver.recvmsg(1 << 20, socket.CMSG_SPACE(4))
        for level, kind, payload in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fd = array.array("i", payload[:4])[0]
                with os.fdopen(fd, "rb") as memfd:  # journald maps it from the start
                    memfd.seek(0)
                    return parse(memfd.read()), True
        return parse(data), False

    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind("/run/systemd/journal/socket")
    receiver.settimeout(5)
    configure_logging("auto", "info")
    log_transfer(every_field_transfer())
    logging.getLogger("aiohttp.access").warning("GET /metrics 200")
    structlog.get_logger("mukaika.test").error("big", detail="x" * 400_000, lines="one\\ntwo")
    print(json.dumps([receive(receiver) for _ in range(3)]))
    """
)


@pytest.fixture(scope="module")
def journal_entries(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[list[tuple[str, str]], bool]]:
    """Each entry as journald received it: its (name, value) pairs in order, and whether it came as a memfd."""
    if os.geteuid() != 0:
        pytest.skip("a private mount namespace for journald's socket needs root")
    script = tmp_path_factory.mktemp("journald") / "log.py"
    script.write_text(SCRIPT)
    shell = ("mkdir -p /run/systemd/journal && mount -t tmpfs tmpfs /run/systemd/journal && "
             f"exec {sys.executable} {script}")  # fmt: skip
    env = {**os.environ, "JOURNAL_STREAM": "8:12345", "PYTHONPATH": str(Path(__file__).parents[2])}
    result = subprocess.run(["unshare", "-m", "sh", "-c", shell], capture_output=True, text=True, env=env,
                            timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0, result.stderr
    entries: list[tuple[list[tuple[str, str]], bool]] = json.loads(result.stdout)
    return entries


def test_transfer_line_arrives_with_indexed_fields(
    journal_entries: list[tuple[list[tuple[str, str]], bool]],
) -> None:
    transfer = dict(journal_entries[0][0])
    assert transfer["TRANSFER_ID"] == "20260401T012345-1a2b3c4d"
    assert transfer["CHANNEL"] == "internet-to-lgwan"
    assert transfer["VERDICT"] == "released"
    assert transfer["FILE_TYPE"] == "png"
    assert transfer["SHA256_IN"] == "ab" * 32
    assert transfer["NAME"] == "acod.png" and transfer["NAME_IN"] == "a\u202ecod.png"
    assert transfer["FOLDERS"] == '["課"]'
    assert transfer["DURATION_MS"] == "500.0"
    assert transfer["PRIORITY"] == "6" and transfer["SYSLOG_IDENTIFIER"] == "mukaika"
    assert transfer["MESSAGE"].startswith("transfer verdict=released name=acod.png reason=policy.reject")


def test_every_field_once_and_exactly_those_the_readme_tables(
    journal_entries: list[tuple[list[tuple[str, str]], bool]],
) -> None:
    names = [name for name, _ in journal_entries[0][0]]
    assert sorted(names) == sorted(set(names)), "a field sent twice"
    _, documented = documented_fields()
    assert sorted(set(names) - documented) == [], "sent but not in the README's table"
    assert sorted(documented - set(names)) == [], "in the README's table but not sent"


def test_the_code_location_is_ours(journal_entries: list[tuple[list[tuple[str, str]], bool]]) -> None:
    transfer = dict(journal_entries[0][0])
    source, first = inspect.getsourcelines(transfers.log_transfer)
    line = first + next(i for i, text in enumerate(source) if 'log.info("transfer"' in text)
    assert (transfer["CODE_FILE"], transfer["CODE_LINE"], transfer["CODE_FUNC"]) == (
        transfers.__file__, str(line), "log_transfer")  # fmt: skip


def test_standard_library_logs_take_the_same_path(
    journal_entries: list[tuple[list[tuple[str, str]], bool]],
) -> None:
    library = dict(journal_entries[1][0])
    assert library["MESSAGE"] == "GET /metrics 200"
    assert library["LOGGER_NAME"] == "aiohttp.access" and library["PRIORITY"] == "4"
    assert library["CODE_FILE"].endswith("log.py") and library["CODE_FUNC"] == "<module>"  # the caller


def test_an_entry_too_large_for_a_datagram_goes_as_a_memfd(
    journal_entries: list[tuple[list[tuple[str, str]], bool]],
) -> None:
    fields, as_memfd = journal_entries[2]
    big = dict(fields)
    assert as_memfd and big["DETAIL"] == "x" * 400_000 and big["LINES"] == "one\ntwo"
    assert big["PRIORITY"] == "3" and big["EVENT"] == "big"
