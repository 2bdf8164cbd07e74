"""Approval in the real daemon: a held transfer survives a restart and is placed once, after approval only."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import aiohttp
import pytest

from gateway.journal import JournalView
from tests.gateway.console_env import PASSWORD, Browser
from tests.gateway.daemon_harness import MUKAIKA, RunningGateway, png_bytes

pytestmark = pytest.mark.slow


def states(gateway: RunningGateway) -> list[str]:
    view = JournalView.open_read_only(gateway.spool / "journal.sqlite")
    try:
        return [t.state for t in view.search()]
    finally:
        view.close()


async def console_session(socket: Path, action: str, transfer_id: str) -> tuple[int, int]:
    """Log in as the approver over the unix socket, decide; return (login status, decision status)."""
    async with aiohttp.ClientSession(
        "http://localhost", connector=aiohttp.UnixConnector(str(socket))
    ) as session:
        browser = Browser(session)
        login = await browser.login("boss")
        await browser.get("/approvals")
        data = {"note": "宛先の誤り"} if action == "deny" else {}
        response, _ = await browser.post(f"/transfers/{transfer_id}/{action}", data)
        return login.status, response.status


@pytest.mark.parametrize("action", ["approve", "deny"])
def test_held_transfer_waits_across_a_restart_until_an_approver_decides(tmp_path: Path, action: str) -> None:
    socket = tmp_path / "console.sock"
    gateway = RunningGateway(
        tmp_path,
        extra=f'\n[console]\nlisten = "unix:{socket}"\nusers_file = "{tmp_path / "users.toml"}"\n',
        channel_extra='approval = "required"',
    )
    subprocess.run([str(MUKAIKA), "user", "add", "boss", "--role", "approver", "--password-stdin", "--config",
                    str(gateway.config)], input=f"{PASSWORD}\n", text=True, check=True, capture_output=True)  # fmt: skip
    with gateway:
        (gateway.inbox / "photo.png").write_bytes(png_bytes())
        gateway.wait_for(lambda: states(gateway) == ["awaiting_approval"], 60, "the hold")
        assert (socket.stat().st_mode & 0o777) == 0o660
    with gateway:  # started again: its start-up recovers the held transfer from the journal
        gateway.wait_for(lambda: gateway.log_text().count("console listening") == 2, 30, "the second start")
        assert states(gateway) == ["awaiting_approval"] and gateway.files(gateway.outbox) == []
        transfer_id = next(line for line in gateway.log_text().splitlines() if "awaiting approval" in line)
        view = JournalView.open_read_only(gateway.spool / "journal.sqlite")
        (held,) = view.in_state("awaiting_approval")
        view.close()
        assert held.id in transfer_id
        assert asyncio.run(console_session(socket, action, held.id)) == (303, 303)
        final = "released" if action == "approve" else "rejected"
        gateway.wait_for(lambda: states(gateway) == [final], 30, final)
        if action == "approve":
            assert gateway.files(gateway.outbox) == ["photo.png"] and gateway.files(gateway.rejected) == []
        else:
            assert gateway.files(gateway.outbox) == [] and gateway.files(gateway.rejected) == [
                "photo.png.reason.txt"
            ]
            assert "宛先の誤り" in (gateway.rejected / "photo.png.reason.txt").read_text(encoding="utf-8-sig")
