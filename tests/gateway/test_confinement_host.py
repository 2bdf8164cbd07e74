"""Fail closed on the host: no confinement, no gateway, unless the config gives it up out loud.

A kernel without Landlock is made here, for the daemon alone, by a seccomp filter under which
landlock_create_ruleset answers ENOSYS, exactly as on a kernel built without it.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.gateway.daemon_harness import MUKAIKA, RunningGateway

WITHOUT_LANDLOCK = (
    sys.executable, "-c",
    "import errno, os, sys, pyseccomp as s\n"
    "f = s.SyscallFilter(s.ALLOW)\n"
    "f.add_rule(s.ERRNO(errno.ENOSYS), 'landlock_create_ruleset')\n"
    "f.load()\n"
    "os.execv(sys.argv[1], sys.argv[1:])\n",
)  # fmt: skip


def test_the_gateway_refuses_to_start_without_landlock(tmp_path: Path) -> None:
    gateway = RunningGateway(tmp_path, wrapper=WITHOUT_LANDLOCK)
    with pytest.raises(AssertionError, match=r"daemon exited \(2\)"):
        gateway.start()
    assert gateway.process is not None
    gateway.process.wait()
    log = gateway.log_text()
    assert "cannot start: workers cannot be confined on this host" in log
    assert "the kernel has no Landlock" in log
    assert gateway.files(gateway.outbox) == []  # it stopped before touching the shares
    assert not (tmp_path / "out-approved").exists()


def test_confinement_none_is_an_explicit_choice_shown_everywhere(tmp_path: Path) -> None:
    socket_path = tmp_path / "status.sock"
    gateway = RunningGateway(tmp_path, wrapper=WITHOUT_LANDLOCK, extra='confinement = "none"',
                             http=f'listen = "unix:{socket_path}"')  # fmt: skip
    with gateway:
        (gateway.inbox / "note.txt").write_text("hello")
        gateway.wait_for_outputs(released=1, rejected=0)
        ready = _get_json(socket_path, "/readyz")
        status = _get_json(socket_path, "/status")
        log = gateway.log_text()
    assert ready["confinement"].startswith("none") and status["confinement"].startswith("none")
    assert status["workers"] == {"workers": 1, "verifications": 1, "verify_failures": 0, "crashes": 0}
    assert "workers run WITHOUT confinement" in log and '"level": "warning"' in log
    cli = subprocess.run([str(MUKAIKA), "status", "--config", str(gateway.config)], capture_output=True,
                         text=True, check=True)  # fmt: skip
    assert 'confinement: none (workers are NOT confined: [gateway] confinement = "none")' in cli.stdout


def test_check_config_shows_the_confinement_that_will_apply(tmp_path: Path) -> None:
    gateway = RunningGateway(tmp_path)
    gateway.create_folders()
    config = gateway.config
    here = subprocess.run(
        [str(MUKAIKA), "check-config", str(config)], capture_output=True, text=True, check=True
    )
    assert "confinement: full (Landlock ABI " in here.stdout and ", seccomp)" in here.stdout
    elsewhere = subprocess.run([*WITHOUT_LANDLOCK, str(MUKAIKA), "check-config", str(config)],
                               capture_output=True, text=True, check=True)  # fmt: skip
    assert "confinement: full, but NOT AVAILABLE here: the kernel has no Landlock" in elsewhere.stdout


def _get_json(socket_path: Path, path: str) -> dict[str, Any]:
    async def get() -> dict[str, Any]:
        connector = aiohttp.UnixConnector(path=str(socket_path))
        async with (
            aiohttp.ClientSession(connector=connector) as session,
            session.get(f"http://localhost{path}") as response,
        ):
            return json.loads(await response.text())  # type: ignore[no-any-return]

    return asyncio.run(get())
