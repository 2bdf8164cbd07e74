"""A client of clamd's INSTREAM command over its unix socket (blocking: call it in a thread).

    → zINSTREAM\\0, then chunks each prefixed by its 4-byte big-endian length, then a zero length
    ← "stream: OK\\0" | "stream: <signature> FOUND\\0" | "<message> ERROR\\0"

Every way of not getting a verdict is ``ClamavUnavailableError``: no socket, refused, timed out,
an unexpected reply, and also a file larger than clamd's StreamMaxLength ("INSTREAM size
limit exceeded"). That file was not scanned, so it is treated like clamd being away: the
transfer is held or rejected per ``on_unavailable``, never released.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

from gateway.config import ClamavSettings

CHUNK_BYTES = 64 * 1024
MAX_REPLY_BYTES = 4096  # a verdict line is short; more than this is not clamd talking sense
MAX_SIGNATURE_CHARS = 200


class ClamavUnavailableError(Exception):
    """clamd gave no verdict for this file (the message says why, already made printable)."""


def find_infection(settings: ClamavSettings, files: Mapping[str, Path]) -> str | None:
    """Scan each labelled file; "<label>: <signature>" for the first infected one, else None."""
    for label, path in files.items():
        signature = scan_file(settings.socket, path, settings.timeout_seconds)
        if signature is not None:
            return f"{label}: {signature}"
    return None


def scan_file(socket_path: str, path: Path, timeout: float) -> str | None:
    """The signature clamd found in ``path``, or None when it found nothing."""
    deadline = time.monotonic() + timeout
    # opened first: a file we cannot read is our problem, not clamd being unavailable
    with path.open("rb") as stream, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        try:
            _set_remaining(conn, deadline)
            conn.connect(socket_path)
            # clamd stops reading at its size limit and says so in its reply
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                _send_stream(conn, stream, deadline)
            untrusted_reply = _read_reply(conn, deadline)
        except TimeoutError as exc:
            raise ClamavUnavailableError(f"no verdict from clamd within {timeout:g} s") from exc
        except OSError as exc:  # missing socket, refused, reset before any reply
            raise ClamavUnavailableError(
                f"cannot talk to clamd at {socket_path}: {exc.strerror or exc}"
            ) from exc
    return _verdict(untrusted_reply)


def _send_stream(conn: socket.socket, stream: BinaryIO, deadline: float) -> None:
    conn.sendall(b"zINSTREAM\0")
    while chunk := stream.read(CHUNK_BYTES):
        _set_remaining(conn, deadline)
        conn.sendall(struct.pack(">I", len(chunk)) + chunk)
    conn.sendall(struct.pack(">I", 0))


def _read_reply(conn: socket.socket, deadline: float) -> bytes:
    reply = b""
    while b"\0" not in reply and len(reply) < MAX_REPLY_BYTES:
        _set_remaining(conn, deadline)
        data = conn.recv(MAX_REPLY_BYTES - len(reply))
        if not data:
            break
        reply += data
    return reply.split(b"\0", 1)[0]


def _set_remaining(conn: socket.socket, deadline: float) -> None:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError
    conn.settimeout(remaining)


def _verdict(untrusted_reply: bytes) -> str | None:
    reply = printable_ascii(untrusted_reply.decode("ascii", "replace"), MAX_REPLY_BYTES)
    if reply == "stream: OK":
        return None
    if reply.startswith("stream: ") and reply.endswith(" FOUND"):
        return printable_ascii(reply.removeprefix("stream: ").removesuffix(" FOUND"), MAX_SIGNATURE_CHARS)
    if "size limit exceeded" in reply:
        raise ClamavUnavailableError("file larger than clamd's StreamMaxLength: not scanned")
    raise ClamavUnavailableError(f"unexpected reply from clamd: {reply[:MAX_SIGNATURE_CHARS]!r}")


def printable_ascii(text: str, limit: int) -> str:
    """Untrusted text from clamd as printable ASCII of at most ``limit`` characters."""
    return "".join(c if " " <= c <= "~" else "?" for c in text)[:limit]
