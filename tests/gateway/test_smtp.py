"""The SMTP relay's own rules: what it refuses at each command, how it retries, and what
operators see. The daemon is real (`mukaika run`); the LGWAN-side server is an aiosmtpd sink."""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import json
import signal
import smtplib
import sqlite3
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from gateway.config import MAIL_CHANNEL
from gateway.smtp.queue import MailQueue, read_headers
from tests.gateway.console_env import Browser, ConsoleEnv, run_console
from tests.gateway.daemon_harness import MUKAIKA, RunningGateway
from tests.gateway.mail_harness import EML_RULE, LGWAN, Sink, mail, mail_rows, send, smtp_table
from tests.gateway.postfix_harness import free_port

ALICE, BOB = f"alice@{LGWAN}", f"bob@{LGWAN}"


def smtp_error(port: int, message_bytes: bytes, recipients: list[str]) -> tuple[int, bytes]:
    """The first refusal of a transaction, command by command (nothing is sent once one comes)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as client:
        client.ehlo()
        replies = [client.mail("sender@internet.test")]
        replies += [client.rcpt(r) for r in recipients if replies[-1][0] == 250]
        if replies[-1][0] == 250:
            replies.append(client.data(message_bytes))
        refusal = next((reply for reply in replies if reply[0] >= 400), None)
        client.rset()
    assert refusal is not None, "the relay accepted the mail"
    return refusal


def test_the_relay_refuses_early_what_it_would_not_deliver(tmp_path: Path) -> None:
    relay_port = free_port()
    smart_host = free_port()  # nobody listens: accepted mail stays queued
    table = smtp_table(relay_port, smart_host, max_queue=1, max_recipients=2, max_message_size="20 KiB")
    with RunningGateway(tmp_path, smtp=table) as gateway:
        assert smtp_error(relay_port, b"Subject: x\r\n\r\nhi\r\n", ["eve@elsewhere.example"]) == (
            550, b"5.7.1 Recipient not accepted here")  # fmt: skip
        assert smtp_error(relay_port, b"Subject: x\r\n\r\nhi\r\n", [ALICE, BOB, f"carol@{LGWAN}"])[0] == 452
        assert (
            smtp_error(relay_port, b"Subject: big\r\n\r\n" + (b"x" * 98 + b"\r\n") * 300, [ALICE])[0] == 552
        )
        assert send(relay_port, mail("plain", "first", [ALICE])) == {}
        assert smtp_error(relay_port, b"Subject: x\r\n\r\nhi\r\n", [ALICE]) == (
            452, b"4.3.1 Mail queue full, try again later")  # fmt: skip
        assert len(mail_rows(gateway.spool)) == 1
        log = gateway.log_text()
        assert '"why": "queue_full"' in log and '"why": "recipient"' in log


def test_a_bounce_keeps_its_null_sender_and_odd_addresses_are_refused(tmp_path: Path) -> None:
    relay_port = free_port()
    with (
        Sink() as sink,
        RunningGateway(tmp_path, smtp=smtp_table(relay_port, sink.port) + EML_RULE) as gateway,
    ):
        with smtplib.SMTP("127.0.0.1", relay_port, timeout=30) as client:
            assert client.sendmail("<>", [ALICE], bytes(mail("plain", "bounce", [ALICE]))) == {}
            client.ehlo()
            assert client.mail("a@b.example", ["X-INJECT=1"])[0] >= 500  # aiosmtpd knows no such parameter
            client.rset()
            assert client.mail("a@b.example")[0] == 250
            assert client.rcpt("a" * 250 + "@lgwan.example")[0] == 553
        gateway.wait_for(lambda: len(sink.received) == 1, 60, "the bounce's delivery")
    assert sink.received[0][0] == "<>" and mail_rows(gateway.spool)[0]["mail_from"] == ""


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1, written as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relay.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = directory / "relay.crt", directory / "relay.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))  # fmt: skip
    return cert_path, key_path


def test_with_require_starttls_mail_is_taken_only_over_tls(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    relay_port = free_port()
    table = smtp_table(relay_port, free_port(), tls_cert=str(cert), tls_key=str(key), require_starttls=True)
    with RunningGateway(tmp_path, smtp=table) as gateway:
        with smtplib.SMTP("127.0.0.1", relay_port, timeout=30) as client:
            client.ehlo()
            assert client.has_extn("starttls")
            assert client.mail("sender@internet.test")[0] == 530  # must issue STARTTLS first
        with smtplib.SMTP("127.0.0.1", relay_port, timeout=30) as client:
            client.starttls(context=ssl.create_default_context(cafile=str(cert)))
            assert client.send_message(mail("plain", "tls", [ALICE])) == {}
        gateway.wait_for(lambda: len(mail_rows(gateway.spool)) == 1, 10, "the mail row")


def test_delivery_over_starttls_checks_the_smart_hosts_certificate(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    relay_port = free_port()
    (tmp_path / "unknown").mkdir()
    (tmp_path / "known").mkdir()
    with Sink(tls=(cert, key)) as sink:
        table = smtp_table(relay_port, sink.port, smart_host_starttls=True)  # system CAs: ours is unknown
        with RunningGateway(tmp_path / "unknown", smtp=table) as gateway:
            send(relay_port, mail("plain", "untrusted", [ALICE]))
            gateway.wait_for(
                lambda: mail_rows(gateway.spool)[0]["state"] == "deferred", 30, "a refused attempt"
            )
            assert "CERTIFICATE_VERIFY_FAILED" in str(mail_rows(gateway.spool)[0]["last_error"])
        table = smtp_table(relay_port, sink.port, smart_host_starttls=True, smart_host_ca_file=str(cert))
        with RunningGateway(tmp_path / "known", smtp=table) as gateway:
            send(relay_port, mail("plain", "trusted", [ALICE]))
            gateway.wait_for(lambda: mail_rows(gateway.spool)[0]["state"] == "delivered", 30, "the delivery")
    assert len(sink.received) == 1


def test_a_client_outside_allowed_clients_is_refused(tmp_path: Path) -> None:
    relay_port = free_port()
    with RunningGateway(tmp_path, smtp=smtp_table(relay_port, free_port(), allowed_clients=["192.0.2.25"])):
        assert smtp_error(relay_port, b"Subject: x\r\n\r\nhi\r\n", [ALICE]) == (
            550, b"5.7.1 Client host not allowed")  # fmt: skip


def test_deferred_recipients_are_retried_with_back_off_and_delivered_once(tmp_path: Path) -> None:
    relay_port = free_port()
    sink = Sink({BOB: ["451 4.2.0 Mailbox busy", "452 4.2.2 Over quota"]})
    http = free_port()
    gateway = RunningGateway(
        tmp_path, smtp=smtp_table(relay_port, sink.port), http=f'listen = "127.0.0.1:{http}"'
    )
    with sink, gateway:
        send(relay_port, mail("plain", "retry", [ALICE, BOB]))
        gateway.wait_for(lambda: mail_rows(gateway.spool)[0]["state"] == "delivered", 60, "the retries")
        row = mail_rows(gateway.spool)[0]
        finished = 'mukaika_mail_finished_total{sent="notice",state="delivered"} 1.0'  # no rule for eml here

        def metrics_text() -> str:
            return urllib.request.urlopen(f"http://127.0.0.1:{http}/metrics", timeout=10).read().decode()

        gateway.wait_for(lambda: finished in metrics_text(), 10, "the counters")  # counted after the commit
        metrics = metrics_text()
        status = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{http}/status", timeout=10).read())
    assert "mukaika_mail_accepted_total 1.0" in metrics and "mukaika_mail_deferred_total 2.0" in metrics
    assert status["mail"]["states"] == {"delivered": 1}
    assert row["attempts"] == 3
    assert [r["status"] for r in row["recipients"]] == ["delivered", "delivered"]
    delivered_to = [recipients for _, recipients, _, _ in sink.received]
    assert delivered_to == [[ALICE], [BOB]]  # alice once, at the first attempt; bob once, at the third
    assert '"event": "mail deferred"' in gateway.log_text()


def test_mail_waits_for_a_smart_host_that_is_down_and_survives_a_restart(tmp_path: Path) -> None:
    relay_port = free_port()
    sink = Sink()
    gateway = RunningGateway(tmp_path, smtp=smtp_table(relay_port, sink.port))
    with gateway:
        send(relay_port, mail("plain", "waits", [ALICE]))
        gateway.wait_for(lambda: mail_rows(gateway.spool)[0]["state"] == "deferred", 60, "a failed attempt")
        started = time.monotonic()
        assert gateway.stop() == 0
        assert time.monotonic() - started < 10  # a pending delivery does not hold up the stop
    assert mail_rows(gateway.spool)[0]["state"] == "deferred"
    with sink, gateway:
        gateway.wait_for(lambda: mail_rows(gateway.spool)[0]["state"] == "delivered", 30, "the delivery")
    assert len(sink.received) == 1


def test_a_mail_is_given_up_after_give_up_hours(tmp_path: Path) -> None:
    relay_port = free_port()
    gateway = RunningGateway(tmp_path, smtp=smtp_table(relay_port, free_port(), give_up_hours=1))
    with gateway:
        send(relay_port, mail("plain", "old", [ALICE]))
        gateway.wait_for(lambda: mail_rows(gateway.spool)[0]["state"] == "deferred", 60, "a failed attempt")
    # the mail was received two hours ago, as far as the queue knows
    db = sqlite3.connect(gateway.spool / "journal.sqlite")
    with db:
        db.execute("UPDATE mail SET received = received - 7200, next_attempt = 0")
    db.close()
    with gateway:
        gateway.wait_for(lambda: mail_rows(gateway.spool)[0]["state"] == "expired", 30, "giving up")
    assert mail_rows(gateway.spool)[0]["recipients"][0]["status"] == "expired"


def test_status_shows_the_mail_queue(tmp_path: Path) -> None:
    relay_port = free_port()
    gateway = RunningGateway(tmp_path, smtp=smtp_table(relay_port, free_port()))
    with gateway:
        send(relay_port, mail("plain", "queued", [ALICE]))
        gateway.wait_for(lambda: mail_rows(gateway.spool)[0]["state"] == "deferred", 60, "a failed attempt")
    status = subprocess.run([str(MUKAIKA), "status", "--config", str(gateway.config), "--json"],
                            capture_output=True, text=True, check=True, timeout=60)  # fmt: skip
    report = json.loads(status.stdout)
    assert report["mail"]["states"] == {"deferred": 1}
    (waiting,) = report["mail"]["open"]
    assert waiting["from"] == "sender@internet.test" and waiting["subject"] == "お知らせ queued"
    assert "ConnectionRefusedError" in waiting["last_error"] or "connect" in waiting["last_error"].lower()
    text = subprocess.run([str(MUKAIKA), "status", "--config", str(gateway.config)], capture_output=True,
                          text=True, check=True, timeout=60).stdout  # fmt: skip
    assert "mail: deferred 1" in text and f"<sender@internet.test> -> {ALICE}" in text


def test_a_stop_closes_sessions_that_have_not_handed_their_mail_over(tmp_path: Path) -> None:
    relay_port = free_port()
    with Sink() as sink, RunningGateway(tmp_path, smtp=smtp_table(relay_port, sink.port)) as gateway:
        with smtplib.SMTP("127.0.0.1", relay_port, timeout=30) as client:
            client.ehlo()
            client.mail("sender@internet.test")
            client.rcpt(ALICE)
            assert gateway.process is not None
            gateway.process.send_signal(signal.SIGTERM)
            time.sleep(0.3)
            with pytest.raises(smtplib.SMTPServerDisconnected):
                client.data(b"Subject: late\r\n\r\nhi\r\n")  # the session is closed at stop, unanswered
        assert gateway.process.wait(30) == 0
        gateway.process = None
    assert mail_rows(gateway.spool) == []  # nothing accepted, nothing to deliver: the sender tries again


def test_headers_for_operators_are_one_clean_bounded_line() -> None:
    subject, message_id = read_headers(
        b"Subject: =?utf-8?b?5Lu25ZCN?= \xe2\x80\xae evil\r\n\tnext\r\nMessage-ID: <a@b>\r\n\r\nSubject: body\r\n"
    )
    assert subject == "件名 evil next" and message_id == "<a@b>"
    assert read_headers(b"Subject: " + b"x" * 500 + b"\r\n\r\n")[0] == "x" * 200
    assert read_headers(b"no headers at all") == ("", "")


def test_the_console_lists_mail_and_releases_a_refused_original_with_four_eyes(tmp_path: Path) -> None:
    env = ConsoleEnv(tmp_path)
    env.config = dataclasses.replace(
        env.config,
        smtp=dataclasses.replace(env.config.smtp, listen="127.0.0.1:10025", smart_host="127.0.0.1:25",
                                 allowed_recipient_domains=(LGWAN,), approved=tmp_path / "mail-approved"),
    )  # fmt: skip
    queue = MailQueue(env.journal, env.spool)
    queue.create_dirs()
    raw = b"From: a@internet.test\r\nSubject: =?utf-8?b?6KuL5rGC5pu4?=\r\n\r\nbody\r\n"
    transfer_id = queue.accept(raw, "a@internet.test", [ALICE], "192.0.2.25:4000")
    env.journal.update(transfer_id, state="rejected", file_type="eml", reason_code="policy.reject")
    env.spool.retain_original(transfer_id, env.vault)
    env.add_users(op="operator", boss="approver")

    async def scenario(browser: Callable[[], Awaitable[Browser]]) -> None:
        operator = await browser()
        await operator.login("op")
        _, listing = await operator.get(f"/transfers?channel={MAIL_CHANNEL}")
        assert "請求書" in listing and "a@internet.test" in listing
        _, detail = await operator.get(f"/transfers/{transfer_id}")
        assert 'id="mail-subject">請求書' in detail and ALICE in detail
        response, _ = await operator.post(f"/transfers/{transfer_id}/original-request", {"reason": "needed"})
        assert response.status == 303
        approver = await browser()
        await approver.login("boss")
        await approver.get("/approvals")
        request = env.journal.view.release_requests(transfer_id=transfer_id)[0]
        # a message is a container of anything: the approver confirms its type first
        response, page = await approver.post(f"/requests/{request.id}/approve", {"note": ""})
        assert response.status == 200 and 'name="confirm" value="eml"' in page
        response, _ = await approver.post(f"/requests/{request.id}/approve", {"note": "", "confirm": "eml"})
        assert response.status == 303

    run_console(env, scenario)
    assert (tmp_path / "mail-approved" / f"{transfer_id}.eml").read_bytes() == raw
