"""systemd's notification protocol (sd_notify): READY, RELOADING, WATCHDOG, STATUS, STOPPING.

A datagram to the socket named by $NOTIFY_SOCKET; without it (not under systemd, or
Type= is not notify) every call is a no-op.

Spoken here, as gateway/journald.py speaks the journal's protocol: cysystemd's ``notify``
sends one assignment per datagram from a fixed list without MONOTONIC_USEC, so RELOADING=1
could not carry the moment the reload began in the same message, as sd_notify(3) asks; and
outside systemd it logs an error at every call.
"""

from __future__ import annotations

import os
import socket
import time


def notify(*assignments: str) -> bool:
    """Send ``KEY=value`` lines; True when a service manager was told."""
    address = os.environ.get("NOTIFY_SOCKET", "")
    if not address:
        return False
    if address.startswith("@"):  # Linux abstract namespace
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
        try:
            sock.connect(address)
            sock.sendall("\n".join(assignments).encode())
        except OSError:
            return False
    return True


def reloading(*assignments: str) -> bool:
    """RELOADING=1 with MONOTONIC_USEC, the moment the reload began; READY=1 must follow."""
    started = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    return notify("RELOADING=1", f"MONOTONIC_USEC={started}", *assignments)


def watchdog_interval() -> float | None:
    """Seconds between WATCHDOG=1 pings (half of WatchdogSec), when systemd asked for them."""
    usec = os.environ.get("WATCHDOG_USEC", "")
    pid = os.environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 1_000_000 / 2
