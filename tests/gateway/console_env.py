"""A console on a real journal, spool and vault, with the daemon replaced by a small stand-in."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path, PurePath
from typing import Any

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient, TestServer

from gateway.config import Config, parse_config
from gateway.console.app import Console
from gateway.console.users import add_user
from gateway.isolation.provider import ZygoteProvider
from gateway.journal import Journal, Placement
from gateway.originals import OriginalReleases
from gateway.spool import Spool
from gateway.transfers import TransferProcessor
from gateway.vault import Vault
from sanitizers.registry import default_registry

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Clock:
    now: float = field(default_factory=time.time)

    def __call__(self) -> float:
        return self.now


class ConsoleEnv:
    """Everything the console touches, in ``root``; ``scheduled`` records what it asks the daemon to advance."""

    def __init__(
        self, root: Path, *, approval: str = "none", console_extra: str = "", clamav: str = ""
    ) -> None:
        self.root = root
        self.users_file = root / "users.toml"
        self.outbox, self.rejected, self.approved = root / "out", root / "rejected", root / "approved"
        self.config: Config = parse_config(
            f"""
[gateway]
spool_dir = "{root / "spool"}"
[console]
listen = "127.0.0.1:8751"
users_file = "{self.users_file}"
{console_extra}
[clamav]
socket = "{clamav}"
[rules.txt]
method = "rebuild"
[[channels]]
name = "test"
inbox = "{root / "in"}"
outbox = "{self.outbox}"
rejected = "{self.rejected}"
approved = "{self.approved}"
approval = "{approval}"
""",
            "test",
            default_registry(),
        )
        self.spool = Spool(root / "spool")
        self.spool.create()
        self.vault = Vault.open(root / "spool" / "originals.key", create=True)
        self.journal = Journal(self.spool.journal_path)
        self.processor = TransferProcessor(
            self.spool, self.journal, ZygoteProvider(1), lambda: self.config, self.vault
        )
        self.releases = OriginalReleases(self.journal, self.spool, self.vault, lambda: self.config)
        self.scheduled: list[str] = []
        self.clock = Clock()

    # the backend protocol
    def queue_numbers(self) -> dict[str, int]:
        return {"queue_depth": 0, "in_flight": 0, "waiting": 0}

    def schedule(self, transfer_id: str) -> None:
        self.scheduled.append(transfer_id)

    def add_users(self, **roles: str) -> None:
        for name, role in roles.items():
            add_user(self.users_file, name, role, PASSWORD)

    def finished_transfer(self, data: bytes = b"original text", *, name: str = "memo.txt",
                          reason_code: str | None = None) -> str:  # fmt: skip
        """A released (or, with ``reason_code``, rejected) transfer whose original is kept encrypted."""
        transfer_id = f"t-{hashlib.sha256(data + name.encode()).hexdigest()[:8]}"
        inbox = self.root / "drop"
        inbox.mkdir(exist_ok=True)
        (inbox / name).write_bytes(data)
        self.journal.create(transfer_id, "test", (), str(inbox / name), name, name)
        staged = self.spool.stage(inbox, PurePath(name), transfer_id)
        state = "rejected" if reason_code else "released"
        self.journal.update(transfer_id, state=state, size_in=staged.size, sha256_in=staged.sha256,
                            file_type="txt", method=None if reason_code else "rebuild", reason_code=reason_code)  # fmt: skip
        self.spool.retain_original(transfer_id, self.vault)
        return transfer_id

    def held_transfer(self, output: bytes = b"clean text", name: str = "report.txt") -> str:
        """A sanitised transfer waiting for approval, its output planned for the outbox."""
        transfer_id = self.finished_transfer(b"held original " + output, name=name)
        self.journal.update(transfer_id, state="sanitising", finished=None)
        work = self.spool.work_dir(transfer_id) / "attempt-1"
        work.mkdir(parents=True)
        (work / name).write_bytes(output)
        placement = Placement(
            "output", str(self.outbox), name, str(work / name), hashlib.sha256(output).hexdigest()
        )
        self.journal.plan_placements(transfer_id, [placement], state="awaiting_approval", name_out=name)
        return transfer_id

    def console(self) -> Console:
        return Console(self, self.config.console, clock=self.clock)  # type: ignore[arg-type]


def many_transfers(env: ConsoleEnv, count: int, name: str, *, age: float = 0.0) -> None:
    """``count`` released transfers named ``name.format(n)``, newest first, in one commit."""
    now = time.time() - age
    rows = [(f"t-many-{n:04d}", "test", "[]", f"/in/{n}", name.format(n), name.format(n), "released", now - n, now - n,
             now - n, "jpeg", "rebuild", 90_000 + n) for n in range(count)]  # fmt: skip
    with env.journal.transaction() as db:
        db.executemany(
            "INSERT INTO transfers (id, channel, rel_dir, inbox_path, name_in, name, state, created, updated,"
            " finished, file_type, method, size_in) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )


def many_audit_entries(env: ConsoleEnv, count: int, action: str, *, age: float = 0.0) -> None:
    now = time.time() - age
    with env.journal.transaction() as db:
        db.executemany(
            "INSERT INTO audit (time, actor, action, target, remote, detail) VALUES (?, 'op', ?, ?, '127.0.0.1', '')",
            [(now - n, action, f"request:{n}") for n in range(count)],
        )


class Browser:
    """A test client that keeps cookies itself: the console's cookies are Secure, which a jar withholds over http."""

    def __init__(self, client: Any) -> None:  # a TestClient, or a ClientSession with a base_url
        self.client = client
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    async def request(self, method: str, path: str, data: dict[str, str] | None = None,
                      headers: dict[str, str] | None = None) -> tuple[ClientResponse, str]:  # fmt: skip
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = await self.client.request(method, path, data=data, allow_redirects=False,
                                             headers={"Cookie": cookie, **(headers or {})})  # fmt: skip
        for header in response.headers.getall("Set-Cookie", []):
            for name, morsel in SimpleCookie(header).items():
                if morsel["max-age"] == "0" or morsel.value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        body = await response.text()
        if match := CSRF.search(body):
            self.csrf = match.group(1)
        return response, body

    async def get(self, path: str) -> tuple[ClientResponse, str]:
        return await self.request("GET", path)

    async def post(
        self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True
    ) -> tuple[ClientResponse, str]:
        fields = dict(data or {})
        if csrf:
            fields.setdefault("csrf_token", self.csrf)
        return await self.request("POST", path, fields)

    async def login(self, user: str, password: str = PASSWORD) -> ClientResponse:
        await self.get("/login")
        response, _ = await self.post("/login", {"user": user, "password": password})
        if response.status == 303:
            await self.get("/")  # picks up the session's CSRF token
        return response


def run_console(
    env: ConsoleEnv, scenario: Callable[[Callable[[], Awaitable[Browser]]], Awaitable[None]]
) -> None:
    """Serve the console of ``env`` on loopback and run ``scenario`` with a factory of fresh browsers."""

    async def main() -> None:
        async with TestServer(env.console().app(), host="127.0.0.1") as server:
            clients: list[TestClient[Any, Any]] = []

            async def browser() -> Browser:
                client: TestClient[Any, Any] = TestClient(server)
                await client.start_server()
                clients.append(client)
                return Browser(client)

            try:
                await scenario(browser)
            finally:
                for client in clients:
                    await client.close()

    asyncio.run(main())
