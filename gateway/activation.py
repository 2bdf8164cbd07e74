"""Listening sockets passed by systemd (socket activation), as sd_listen_fds(3) takes them.

systemd creates the socket of ``mukaika-http.socket`` in the host's network and passes it
as fd 3 with LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES: the daemon accepts connections on
it while its unit keeps ``PrivateNetwork=yes`` and may create no TCP socket of its own.
"""

from __future__ import annotations

import os
import socket

LISTEN_FDS_START = 3
#: FileDescriptorName= of the sockets on which Prometheus scrapes (systemd/mukaika-http.socket)
METRICS_SOCKET = "metrics"
_VARIABLES = ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES")


class ActivationError(Exception):
    """systemd passed sockets the daemon cannot serve; the message says which and how to fix it."""


def take_metrics_sockets() -> list[socket.socket]:
    """The listening sockets named ``metrics`` that systemd passed to this process, or [].

    The variables are removed and the sockets made close-on-exec, so that no worker inherits
    either. Raises ActivationError for a socket of another name or one that does not listen:
    a listener nobody accepts on would leave Prometheus' scrapes hanging without a word.
    """
    pid, count, names = (os.environ.pop(name, "") for name in _VARIABLES)
    if pid != str(os.getpid()):  # meant for another process (a parent that did not remove them)
        return []
    if not count.isdigit():
        raise ActivationError(f"LISTEN_FDS={count!r} is not a count of sockets")
    fds = range(LISTEN_FDS_START, LISTEN_FDS_START + int(count))
    labels = names.split(":") if names else []
    if len(labels) != len(fds):
        labels = ["unknown"] * len(fds)
    sockets = []
    for fd, label in zip(fds, labels, strict=True):
        os.set_inheritable(fd, False)
        sock = socket.socket(fileno=fd)
        if label != METRICS_SOCKET:
            sock.close()
            raise ActivationError(f"systemd passed a socket named {label!r}; the gateway serves only"
                                  f" FileDescriptorName={METRICS_SOCKET} (see systemd/mukaika-http.socket)")  # fmt: skip
        if sock.type != socket.SOCK_STREAM or not sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
            sock.close()
            raise ActivationError(
                f"the socket named {label!r} is not a listening stream socket (ListenStream=)"
            )
        sockets.append(sock)
    return sockets


def describe(sockets: list[socket.socket]) -> str:
    """Where the passed sockets listen, for the log: "127.0.0.1:9479, [::1]:9479"."""
    addresses = []
    for sock in sockets:
        address = sock.getsockname()
        if sock.family == socket.AF_INET6:
            addresses.append(f"[{address[0]}]:{address[1]}")
        elif sock.family == socket.AF_INET:
            addresses.append(f"{address[0]}:{address[1]}")
        else:
            addresses.append(f"unix:{address}")
    return ", ".join(addresses)
