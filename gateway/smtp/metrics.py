"""Prometheus metrics of the mail relay, in the gateway's registry (served by /metrics with the rest)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from gateway.metrics import DURATION_BUCKETS, METRICS

#: Why the relay answered a command with a refusal (4xx: try later, 5xx: never).
SMTP_REFUSALS = ("client", "address", "recipient", "too_many_recipients", "too_big", "queue_full", "storage")
MAIL_FINAL_STATES = ("delivered", "failed", "expired")


class MailMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.accepted = Counter("mukaika_mail_accepted", "Mails accepted by the relay (250 after DATA)",
                                registry=registry)  # fmt: skip
        self.smtp_refused = Counter("mukaika_mail_smtp_refused", "SMTP commands the relay refused, by why",
                                    ["why"], registry=registry)  # fmt: skip
        self.refused = Counter("mukaika_mail_refused", "Mails that could not be made safe (a notice went instead)",
                               registry=registry)  # fmt: skip
        self.deferred = Counter("mukaika_mail_deferred", "Delivery attempts that left recipients to try again",
                                registry=registry)  # fmt: skip
        self.finished = Counter("mukaika_mail_finished", "Mails finished, by final state and what was sent",
                                ["state", "sent"], registry=registry)  # fmt: skip
        self.queue = Gauge("mukaika_mail_queue", "Mails accepted and not yet delivered", registry=registry)
        self.latency = Histogram("mukaika_mail_delivery_seconds", "From acceptance to delivery at the smart host",
                                 buckets=DURATION_BUCKETS, registry=registry)  # fmt: skip
        for why in SMTP_REFUSALS:  # present at 0 so that rate() and alerts work from the start
            self.smtp_refused.labels(why=why)
        for state in MAIL_FINAL_STATES:
            for sent in ("message", "notice"):
                self.finished.labels(state=state, sent=sent)


MAIL_METRICS = MailMetrics(METRICS.registry)
