"""The relay between two real MTAs: Debian's Postfix on the internet side hands mail to
mukaika's relay, which delivers to a second Postfix on the LGWAN side (Maildir delivery).

Each test starts its own Postfix instances on loopback ports and a real daemon (`mukaika run`).
"""

from __future__ import annotations

import collections
import signal
from pathlib import Path

import pytest

from tests.gateway.daemon_harness import RunningGateway
from tests.gateway.mail_harness import (
    EML_RULE,
    KINDS,
    LGWAN,
    body_text,
    is_notice,
    mail,
    mail_rows,
    send,
    smtp_table,
    token_of,
)
from tests.gateway.postfix_harness import Postfix, free_port

pytestmark = pytest.mark.slow

ALICE, BOB, DAVE = f"alice@{LGWAN}", f"bob@{LGWAN}", f"dave@{LGWAN}"  # dave has no mailbox there


def relayed(internet: Postfix) -> int:
    """Recipients the internet-side Postfix has handed to the relay (its log's status=sent)."""
    return internet.count_in_log(r"status=sent")


def test_mail_crosses_from_postfix_through_the_relay_to_postfix(tmp_path: Path) -> None:
    with Postfix("lgwan", mailbox_domain=LGWAN, users=("alice", "bob")) as lgwan:
        relay_port = free_port()
        gateway = RunningGateway(tmp_path, smtp=smtp_table(relay_port, lgwan.port) + EML_RULE)
        with gateway, Postfix("internet", relayhost=f"[127.0.0.1]:{relay_port}") as internet:
            tokens = {kind: f"t-{kind}" for kind in KINDS}
            for kind, token in tokens.items():
                assert send(internet.port, mail(kind, token, [ALICE, BOB])) == {}
            send(internet.port, mail("plain", "t-dave", [ALICE, DAVE]))
            refused = send(internet.port, mail("plain", "t-eve", ["eve@elsewhere.example"]))
            assert refused == {}  # Postfix accepts it, then the relay refuses the recipient

            def delivered() -> bool:
                return len(lgwan.mailbox("alice")) == 5 and len(lgwan.mailbox("bob")) == 4

            lgwan.wait_for(delivered, 90, "every mail in alice's and bob's Maildirs")
            internet.wait_for(lambda: internet.count_in_log(r"to=<eve@elsewhere\.example>.*status=bounced"), 30,
                             "the bounce")  # fmt: skip

            for user in ("alice", "bob"):
                got = collections.Counter(token_of(m) for m in lgwan.mailbox(user))
                assert set(got.values()) == {1}, f"{user} got duplicates: {got}"
            for message in lgwan.mailbox("alice"):
                assert not is_notice(message), body_text(message)
                assert f"本文です。 {token_of(message)}" in body_text(message)
            assert "550 5.7.1 Recipient not accepted here" in internet.log_text()

            # a mail is in the mailbox a moment before its delivery is committed
            gateway.wait_for(lambda: all(r["state"] in ("delivered", "failed") for r in mail_rows(gateway.spool)),
                             30, "every mail row final")  # fmt: skip
            rows = {row["subject"].rsplit(" ", 1)[-1]: row for row in mail_rows(gateway.spool)}
            assert "t-eve" not in rows  # refused at RCPT: never accepted, never a transfer
            dave = rows["t-dave"]
            assert dave["state"] == "failed" and dave["sent"] == "message"
            results = {r["address"]: (r["status"], r["code"]) for r in dave["recipients"]}
            assert results == {ALICE: ("delivered", 250), DAVE: ("failed", 550)}
            assert all(
                rows[t]["state"] == "delivered" and rows[t]["verdict"] == "released" for t in tokens.values()
            )
            assert not any((gateway.spool / "mail" / "outgoing").iterdir())  # sent copies do not linger


def test_refused_mail_becomes_a_notice_and_its_original_is_kept(tmp_path: Path) -> None:
    with Postfix("lgwan", mailbox_domain=LGWAN, users=("alice",)) as lgwan:
        relay_port = free_port()
        # no rule for eml: every mail is refused (type.no_rule)
        gateway = RunningGateway(tmp_path, smtp=smtp_table(relay_port, lgwan.port))
        with gateway, Postfix("internet", relayhost=f"[127.0.0.1]:{relay_port}") as internet:
            send(internet.port, mail("one_attachment", "t-refused", [ALICE]))
            lgwan.wait_for(lambda: len(lgwan.mailbox("alice")) == 1, 60, "the notice")
            (notice,) = lgwan.mailbox("alice")
            gateway.wait_for(lambda: mail_rows(gateway.spool)[0]["state"] == "delivered", 30, "the commit")
            row = mail_rows(gateway.spool)[0]
            assert is_notice(notice) and notice["X-Mukaika-Transfer-Id"] == row["transfer_id"]
            assert "t-refused" in str(notice["Subject"]) and notice["Auto-Submitted"] == "auto-generated"
            text = body_text(notice)
            assert row["transfer_id"] in text and "type.no_rule" in text
            assert "無害化できなかった" in text and "could not be made safe" in text
            assert row["sent"] == "notice" and row["verdict"] == "rejected" and row["state"] == "delivered"
            assert lgwan.count_in_log(r"from=<>") == 1  # the null sender: no reply loops back

            original = gateway.spool / "originals" / row["transfer_id"]
            gateway.wait_for(original.exists, 10, "the encrypted original")
            plain = gateway.original_bytes(original)
            assert b"t-refused" in plain and b"t-refused" not in original.read_bytes()


def test_kill_9_while_mail_is_queued_delivers_every_accepted_mail_exactly_once(tmp_path: Path) -> None:
    lgwan = Postfix("lgwan", mailbox_domain=LGWAN, users=("alice", "bob"))  # down at first: mail waits
    relay_port = free_port()
    gateway = RunningGateway(tmp_path, smtp=smtp_table(relay_port, lgwan.port) + EML_RULE)
    try:
        with Postfix("internet", relayhost=f"[127.0.0.1]:{relay_port}") as internet:
            gateway.start()
            count = 12
            for number in range(count):
                send(internet.port, mail(KINDS[number % len(KINDS)], f"k{number}", [ALICE, BOB]))
            internet.wait_for(lambda: relayed(internet) == 2 * count, 60, "the relay to accept every mail")
            gateway.stop(signal.SIGKILL)  # some sanitised and deferred, some in their workers
            assert len(mail_rows(gateway.spool)) == count
            lgwan.start()
            gateway.start()

            def delivered() -> bool:
                return len(lgwan.mailbox("alice")) >= count and len(lgwan.mailbox("bob")) >= count

            lgwan.wait_for(delivered, 120, "every accepted mail")
            gateway.wait_for(lambda: all(r["state"] == "delivered" for r in mail_rows(gateway.spool)), 30,
                             "every mail row final")  # fmt: skip
            for user in ("alice", "bob"):
                got = collections.Counter(token_of(m) for m in lgwan.mailbox(user))
                assert got == collections.Counter(f"k{n}" for n in range(count)), user
            assert internet.count_in_log(r"status=(deferred|bounced)") == 0  # nothing had to be sent again
    finally:
        if gateway.process is not None:
            gateway.stop()
        lgwan.remove()
