"""journald's native protocol: one datagram per entry, or a sealed memfd for a large one.

Spoken here rather than through a binding, because the bindings add their own location:
cysystemd sends ``CODE_FILE=cysystemd/_journal.pyx`` beside the caller's, and journald
keeps both values, so every entry would point at the binding instead of at our code.
The protocol: https://systemd.io/JOURNAL_NATIVE_PROTOCOL/
"""

from __future__ import annotations

import array
import errno
import fcntl
import os
import socket
import struct
import threading
from collections.abc import Mapping

SOCKET_PATH = "/run/systemd/journal/socket"
_SEALS = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL
#: What the kernel answers when one datagram cannot carry the entry.
_TOO_BIG = (errno.EMSGSIZE, errno.ENOBUFS)


def encode_entry(fields: Mapping[str, str]) -> bytes:
    """Fields as the protocol wants them: ``NAME=value`` lines, or a length prefix for multi-line values."""
    parts = []
    for name, value in fields.items():
        key, data = name.encode("ascii"), value.encode("utf-8", "replace")
        if b"\n" in data:
            parts.append(key + b"\n" + struct.pack("<Q", len(data)) + data + b"\n")
        else:
            parts.append(key + b"=" + data + b"\n")
    return b"".join(parts)


class JournalSocket:
    """A datagram socket to journald, shared by every thread (each entry is one send)."""

    def __init__(self, path: str = SOCKET_PATH) -> None:
        self.path = path
        self._socket: socket.socket | None = None
        self._lock = threading.Lock()

    def send(self, fields: Mapping[str, str]) -> None:
        """Send one entry; raises OSError when journald cannot be reached."""
        entry = encode_entry(fields)
        sock = self._connected()
        try:
            sock.sendto(entry, self.path)
        except OSError as exc:
            if exc.errno not in _TOO_BIG:
                raise
            self._send_through_memfd(sock, entry)

    def _connected(self) -> socket.socket:
        with self._lock:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            return self._socket

    def _send_through_memfd(self, sock: socket.socket, entry: bytes) -> None:
        """An entry larger than a datagram goes as a sealed memfd, which journald reads whole."""
        fd = os.memfd_create("journal-entry", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        try:
            view = memoryview(entry)
            while view:
                view = view[os.write(fd, view) :]
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS)  # journald accepts only a memfd nobody can change
            rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))]
            sock.sendmsg([], rights, 0, self.path)
        finally:
            os.close(fd)
