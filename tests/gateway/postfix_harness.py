"""Private Postfix instances (Debian's postfix) on loopback ports, started and stopped by a test.

Each instance has its own config directory, queue and data directory and log file, and runs
nothing but an SMTP listener on 127.0.0.1 and the daemons a queue needs (no chroot, no local
delivery). As the relay's internet side it forwards everything to ``relayhost``; as the LGWAN
side it delivers to Maildirs (one per known user, others refused with 550 at RCPT).

Postfix's daemons run as the postfix user, so the instance lives in a directory every user
can traverse (pytest's tmp_path is private to root), removed again by ``stop``.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path

import pytest

POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
NOBODY = 65534  # the virtual delivery agent writes Maildirs as nobody:nogroup

_MASTER_CF = """\
{listen} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Postfix:
    def __init__(self, name: str, *, relayhost: str = "", mailbox_domain: str = "",
                 users: tuple[str, ...] = ()) -> None:  # fmt: skip
        self.name = name
        self.root = Path(tempfile.mkdtemp(prefix=f"pf-{name}-", dir="/tmp"))
        self.root.chmod(0o755)
        self.port = free_port()
        self.conf = self.root / "conf"
        self.log = self.root / "postfix.log"
        self.mail = self.root / "mail"
        self.domain = mailbox_domain
        self.conf.mkdir()
        data = self.root / "data"
        data.mkdir()
        shutil.chown(data, "postfix")
        main = [
            "compatibility_level = 3.6", f"queue_directory = {self.root / 'queue'}", f"data_directory = {data}",
            "meta_directory = /etc/postfix", "mail_owner = postfix", "setgid_group = postdrop",
            f"myhostname = {name}.test", "mydestination =", "inet_interfaces = 127.0.0.1",
            "inet_protocols = ipv4", "mynetworks = 127.0.0.0/8", f"maillog_file = {self.log}",
            f"maillog_file_prefixes = {self.root}", "alias_maps =", "alias_database =", "biff = no",
            "disable_dns_lookups = yes", "smtp_host_lookup = native", "smtputf8_enable = yes",
            # retry soon: a test waits for what a deferred mail does next
            "minimal_backoff_time = 1s", "maximal_backoff_time = 2s", "queue_run_delay = 1s",
            "smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination",
        ]  # fmt: skip
        if relayhost:
            main.append(f"relayhost = {relayhost}")
        if mailbox_domain:
            self.mail.mkdir()
            shutil.chown(self.mail, NOBODY, NOBODY)
            (self.conf / "mailboxes").write_text("".join(f"{u}@{mailbox_domain} {u}/\n" for u in users))
            main += [f"virtual_mailbox_domains = {mailbox_domain}", f"virtual_mailbox_base = {self.mail}",
                     f"virtual_mailbox_maps = texthash:{self.conf / 'mailboxes'}",
                     f"virtual_uid_maps = static:{NOBODY}", f"virtual_gid_maps = static:{NOBODY}"]  # fmt: skip
        (self.conf / "main.cf").write_text("\n".join(main) + "\n")
        (self.conf / "master.cf").write_text(_MASTER_CF.format(listen=f"127.0.0.1:{self.port}"))
        self.running = False

    def postfix(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([POSTFIX, "-c", str(self.conf), *args], capture_output=True, text=True,
                              timeout=60, check=False)  # fmt: skip

    def start(self) -> Postfix:
        if not Path(POSTFIX).exists():
            pytest.fail("postfix is not installed (Debian package postfix; `make test` installs it)")
        (self.root / "queue").mkdir(exist_ok=True)
        self.postfix("check")  # creates the queue's subdirectories with their owners
        result = self.postfix("start")
        if result.returncode != 0:
            raise AssertionError(f"postfix {self.name} did not start:\n{result.stderr}\n{self.log_text()}")
        deadline = time.monotonic() + 30
        while not self.answers():
            if time.monotonic() > deadline:
                raise AssertionError(f"postfix {self.name} does not answer:\n{self.log_text()}")
            time.sleep(0.1)
        self.running = True
        return self

    def stop(self) -> None:
        if self.running:
            self.postfix("stop")
            self.running = False

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as conn:
                return conn.recv(64).startswith(b"220")
        except OSError:
            return False

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def count_in_log(self, pattern: str) -> int:
        return len(re.findall(pattern, self.log_text()))

    def mailbox(self, user: str) -> list[Message]:
        """The messages delivered to ``user``'s Maildir, oldest first."""
        new = self.mail / user / "new"
        if not new.exists():
            return []
        return [
            message_from_bytes(p.read_bytes(), policy=policy.default)
            for p in sorted(new.iterdir(), key=lambda p: p.stat().st_mtime)
        ]

    def wait_for(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out waiting for {what}; {self.name} log:\n{self.log_text()[-3000:]}"
                )
            time.sleep(0.1)

    def __enter__(self) -> Postfix:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.remove()
