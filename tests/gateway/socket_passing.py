"""Starts a command the way systemd starts a socket-activated service.

    python -m tests.gateway.socket_passing FD NAMES COMMAND...

The listening socket at FD becomes fd 3, LISTEN_FDS=1, LISTEN_FDNAMES=NAMES and LISTEN_PID is
this process' id, which the command keeps because it is exec'd in place (as systemd does
between its fork and the service's exec).
"""

from __future__ import annotations

import os
import sys

LISTEN_FDS_START = 3


def main(argv: list[str]) -> None:
    fd, names, *command = argv
    if int(fd) != LISTEN_FDS_START:
        os.dup2(int(fd), LISTEN_FDS_START)
        os.close(int(fd))
    os.environ.update(LISTEN_FDS="1", LISTEN_FDNAMES=names, LISTEN_PID=str(os.getpid()))
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
