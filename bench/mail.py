"""Mail through the SMTP relay: mails per second and accept→deliver latency.

    .venv/bin/python bench/mail.py [--mails 200] [--rate 10] [--seconds 30]

A real `mukaika run` with two workers relays to an SMTP sink on loopback (aiosmtpd, standing in
for the LGWAN-side server). Mails are a mix of plain text, HTML with a text part, one PNG
attachment and three PNG attachments, each with a Japanese subject.

1. Throughput: ``--mails`` mails handed over by four concurrent clients at once; mails/s
   from the first hand-over to the last delivery, and the same mails sanitised and verified
   serially in this process (no isolation, no SMTP, no journal) for comparison.
2. Latency: ``--rate`` mails/s for ``--seconds``, plain and HTML only, then the whole mix:
   p50/p95/max from the relay's 250 to the sink's receipt (target: p95 < 2 s for plain and HTML).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import io
import smtplib
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import make_msgid
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from PIL import Image

from sanitizers.base import Limits
from sanitizers.pipeline import Rule, process_file
from sanitizers.registry import default_registry
from sanitizers.verification import expectation_for, verify_output

MUKAIKA = Path(sys.executable).parent / "mukaika"
KINDS = ("plain", "html", "one_attachment", "three_attachments")
RECIPIENT = "staff@lgwan.example"


def png(seed: int) -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((320, 240), 40 + seed).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


PICTURES = [png(n) for n in range(3)]


def make_mail(kind: str, token: str) -> bytes:
    message = EmailMessage()
    message["From"] = "sender@internet.test"
    message["To"] = RECIPIENT
    message["Subject"] = f"会議資料のご案内 {token}"
    message["Message-ID"] = make_msgid(idstring=token, domain="internet.test")
    text = "お世話になっております。\n来週の会議資料をお送りします。\n" * 20
    message.set_content(text)
    if kind == "html":
        paragraphs = "".join(f"<p>{line} <a href='https://example.jp/{n}'>資料</a></p>" for n, line in
                             enumerate(text.splitlines()))  # fmt: skip
        message.add_alternative(f"<html><body>{paragraphs}</body></html>", subtype="html")
    for number in range({"one_attachment": 1, "three_attachments": 3}.get(kind, 0)):
        message.add_attachment(
            PICTURES[number], maintype="image", subtype="png", filename=f"図{number + 1}.png"
        )
    return message.as_bytes(policy=SMTP)


class Sink:
    """Records when each token arrives."""

    def __init__(self, port: int) -> None:
        self.arrived: dict[str, float] = {}
        self.lock = threading.Lock()
        self.controller = Controller(self, hostname="127.0.0.1", port=port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        now = time.monotonic()
        head = envelope.original_content.split(b"\r\n\r\n", 1)[0]
        token = _token(head)
        with self.lock:
            self.arrived.setdefault(token, now)
        return "250 2.0.0 Ok"


def _token(head: bytes) -> str:
    from email.parser import BytesHeaderParser
    from email.policy import default

    return str(BytesHeaderParser(policy=default).parsebytes(head)["subject"]).rsplit(" ", 1)[-1]


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def send(port: int, message: bytes) -> float:
    with smtplib.SMTP("127.0.0.1", port, timeout=60) as client:
        client.sendmail("sender@internet.test", [RECIPIENT], message)
    return time.monotonic()


def wait_for(sink: Sink, tokens: list[str], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with sink.lock:
            if all(t in sink.arrived for t in tokens):
                return
        time.sleep(0.05)
    missing = [t for t in tokens if t not in sink.arrived]
    raise SystemExit(f"{len(missing)} mail(s) not delivered in {timeout:.0f} s, e.g. {missing[:3]}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def throughput(port: int, sink: Sink, count: int) -> tuple[float, dict[str, list[float]]]:
    mails = [(f"x{n}", KINDS[n % len(KINDS)]) for n in range(count)]
    bodies = {token: make_mail(kind, token) for token, kind in mails}
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        accepted = dict(zip(bodies, pool.map(lambda t: send(port, bodies[t]), bodies), strict=True))
    wait_for(sink, list(bodies), 600)
    elapsed = max(sink.arrived[t] for t in bodies) - started
    latencies: dict[str, list[float]] = {kind: [] for kind in KINDS}
    for token, kind in mails:
        latencies[kind].append(sink.arrived[token] - accepted[token])
    return count / elapsed, latencies


def paced(
    port: int, sink: Sink, rate: float, seconds: float, kinds: tuple[str, ...], prefix: str
) -> list[float]:
    count = int(rate * seconds)
    mails = {f"{prefix}{n}": make_mail(kinds[n % len(kinds)], f"{prefix}{n}") for n in range(count)}
    accepted: dict[str, float] = {}
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = {}
        for n, (token, body) in enumerate(mails.items()):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures[token] = pool.submit(send, port, body)
        for token, future in futures.items():
            accepted[token] = future.result()
    wait_for(sink, list(mails), 300)
    return [sink.arrived[t] - accepted[t] for t in mails]


def serial(count: int) -> float:
    """The daemon's work without isolation: sanitise, then verify the output, one mail after another."""
    registry = default_registry()
    rules = {"eml": Rule(("rebuild",)), "png": Rule(("rebuild",))}

    class Policy:
        def rule_for(self, type_name: str) -> Rule | None:
            return rules.get(type_name)

    def member_options(type_name: str) -> Mapping[str, object]:
        return rules[type_name].options if type_name in rules else {}

    with tempfile.TemporaryDirectory(prefix="mukaika-bench-") as scratch:
        root = Path(scratch)
        inputs = []
        for n in range(count):
            path = root / f"m{n}.eml"
            path.write_bytes(make_mail(KINDS[n % len(KINDS)], f"s{n}"))
            inputs.append(path)
        started = time.monotonic()
        for n, path in enumerate(inputs):
            work = root / f"work{n}"
            work.mkdir()
            outcome = process_file(path, path.name, work, Policy(), Limits(), registry)
            assert (
                outcome.verdict == "released"
                and outcome.output is not None
                and outcome.output_path is not None
            )
            expected = expectation_for(
                "eml", outcome.output.type or "", outcome.method or "", {}, member_options
            )
            verify_output(outcome.output_path, expected, Limits(), member_options)
        return count / (time.monotonic() - started)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    relay_port, sink_port = free_port(), free_port()
    sink = Sink(sink_port)
    sink.controller.start()
    with tempfile.TemporaryDirectory(prefix="mukaika-bench-mail-") as scratch:
        root = Path(scratch)
        config = root / "mukaika.toml"
        config.write_text(f"""
[gateway]
spool_dir = "{root / "spool"}"
workers = 2
log_format = "json"
log_level = "warning"
[smtp]
listen = "127.0.0.1:{relay_port}"
smart_host = "127.0.0.1:{sink_port}"
allowed_recipient_domains = ["lgwan.example"]
max_queue = 100000
[rules.eml]
method = "rebuild"
[rules.png]
method = "rebuild"
[[channels]]
name = "bench"
inbox = "{root / "in"}"
outbox = "{root / "out"}"
rejected = "{root / "rejected"}"
""")  # fmt: skip
        log = (root / "daemon.log").open("wb")
        daemon = subprocess.Popen([str(MUKAIKA), "run", "--config", str(config)], stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    smtplib.SMTP("127.0.0.1", relay_port, timeout=5).quit()
                    break
                except OSError:
                    if time.monotonic() > deadline or daemon.poll() is not None:
                        raise SystemExit((root / "daemon.log").read_text()) from None
                    time.sleep(0.2)
            send(relay_port, make_mail("plain", "warm"))  # the zygote's first fork loads the parsers
            wait_for(sink, ["warm"], 60)
            rate, by_kind = throughput(relay_port, sink, args.mails)
            light = paced(relay_port, sink, args.rate, args.seconds, ("plain", "html"), "p")
            mixed = paced(relay_port, sink, args.rate, args.seconds, KINDS, "m")
        finally:
            daemon.terminate()
            daemon.wait(60)
            sink.controller.stop()
    in_process = serial(min(args.mails, 100))
    print(f"relay, 2 workers, {args.mails} mails ({', '.join(KINDS)} in turn) handed over at once:")
    print(f"  {rate:.1f} mails/s; the same sanitise + verify serially in-process: {in_process:.1f} mails/s;"
          f" ratio {rate / in_process:.2f}")  # fmt: skip
    print("| load | mails | p50 s | p95 s | max s |")
    print("|---|---|---|---|---|")
    for kind, values in by_kind.items():
        print(f"| burst, {kind} | {len(values)} | {statistics.median(values):.2f} | {percentile(values, 0.95):.2f}"
              f" | {max(values):.2f} |")  # fmt: skip
    for label, values in ((f"{args.rate:g}/s plain+HTML", light), (f"{args.rate:g}/s mix", mixed)):
        print(f"| {label} | {len(values)} | {statistics.median(values):.2f} | {percentile(values, 0.95):.2f}"
              f" | {max(values):.2f} |")  # fmt: skip
    target = percentile(light, 0.95) < 2.0
    print(f"target p95 < 2 s for plain and HTML at {args.rate:g} mails/s: {'met' if target else 'NOT met'}")
    return 0 if target else 1


if __name__ == "__main__":
    sys.exit(main())
