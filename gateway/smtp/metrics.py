"""Prometheus metrics of the mail relay, in the gateway's registry (served by /metrics with the rest)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway.journal import JournalError, JournalView
from gateway.metrics import DURATION_BUCKETS, METRICS
from gateway.smtp.queue import MailView

#: Why the relay answered a command with a refusal (4xx: try later, 5xx: never).
SMTP_REFUSALS = ("client", "address", "recipient", "too_many_recipients", "too_big", "queue_full", "storage")
MAIL_FINAL_STATES = ("delivered", "failed", "expired")


class MailMetrics:
    def __init__(self, registry: CollectorRegistry, journal: Callable[[], JournalView | None]) -> None:
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
        MailQueueGauges(journal, registry)


class MailQueueGauges(Collector):
    """The deferred queue as the journal has it, counted at each scrape (indexed: open mails only)."""

    def __init__(self, journal: Callable[[], JournalView | None], registry: CollectorRegistry) -> None:
        self.journal = journal
        registry.register(self)

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return self._families()

    def collect(self) -> Iterable[GaugeMetricFamily]:
        view = self.journal()
        if view is None:
            return []
        deferred, oldest = families = self._families()
        try:
            open_mails = MailView(view).open_by_state()
        except JournalError:  # the database away: the scrape goes on without these gauges
            return []
        now = time.time()
        deferred.add_metric([], open_mails.get("deferred", (0, now))[0])
        oldest.add_metric(
            [], max(0.0, now - min((received for _, received in open_mails.values()), default=now))
        )
        return families

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "mukaika_mail_deferred_mails", "Mails whose last attempt left recipients to try again"
            ),
            GaugeMetricFamily(
                "mukaika_mail_oldest_open_seconds", "Age of the oldest mail not yet delivered (0 when none)"
            ),
        )


MAIL_METRICS = MailMetrics(METRICS.registry, METRICS.journal_view)
