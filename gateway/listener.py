"""Serving one of the gateway's aiohttp applications on loopback or a unix socket.

The config accepts nothing else for ``listen`` ("127.0.0.1:PORT", "[::1]:PORT" or
"unix:/path"); the socket file is made group-accessible for a reverse proxy and removed
again at stop. Sockets that systemd passed in (``gateway.activation``) are served as given.
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Sequence
from pathlib import Path

import structlog
from aiohttp import web

log = structlog.get_logger("mukaika.http")

UNIX_SOCKET_MODE = 0o660
SHUTDOWN_SECONDS = 2.0  # an open client connection must not hold up the daemon's stop


class LocalServer:
    """The lifecycle of ``app`` at ``listen``, started and stopped by the gateway; ``what``
    names it in the log ("status endpoint", "console"). With ``sockets``, it accepts on those
    (already listening) instead, and ``listen`` only describes them."""

    def __init__(
        self, app: web.Application, listen: str, what: str, sockets: Sequence[socket.socket] = ()
    ) -> None:
        self.listen = listen
        self.what = what
        self.sockets = tuple(sockets)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS)

    async def start(self) -> None:
        """Listen, or log why not and raise OSError: a configured server that is missing fails start-up."""
        await self._runner.setup()
        site: web.BaseSite
        try:
            if self.sockets:
                for sock in self.sockets:
                    await web.SockSite(self._runner, sock).start()
            elif self.listen.startswith("unix:"):
                path = self.listen.removeprefix("unix:")
                site = web.UnixSite(self._runner, path)
                await site.start()
                Path(path).chmod(UNIX_SOCKET_MODE)
            else:
                host, _, port = self.listen.rpartition(":")
                site = web.TCPSite(self._runner, host.strip("[]"), int(port))
                await site.start()
        except OSError as exc:
            log.error(f"{self.what} cannot listen", listen=self.listen, error=str(exc))
            await self._runner.cleanup()
            raise
        log.info(f"{self.what} listening", listen=self.listen)

    async def stop(self) -> None:
        await self._runner.cleanup()
        if self.listen.startswith("unix:") and not self.sockets:  # a passed socket is systemd's to remove
            with contextlib.suppress(FileNotFoundError):
                Path(self.listen.removeprefix("unix:")).unlink()
