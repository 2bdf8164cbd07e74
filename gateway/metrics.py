"""Prometheus metrics of the gateway, in a registry of their own (not the library's global one).

Counters are fed by ``record_transfer`` from the canonical transfer line, so a transfer is
counted exactly when it is logged. Gauges of the live daemon (queue, in flight, inbox) are
set by the HTTP handler at scrape time (``observe_gateway``); gauges of what waits in the
journal (held, awaiting approval) are counted by ``JournalGauges`` when Prometheus scrapes, so
no code path can forget to keep them up to date.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from gateway import __version__
from gateway.journal import JournalError, JournalView, Transfer

#: Refusals that mean a worker failed, not that the file was bad.
WORKER_FAILURES = ("worker.crash", "worker.timeout", "worker.memory")
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
#: Journal states of a transfer still being worked on (not parked, not final).
IN_PROGRESS_STATES = ("admitted", "staged", "sanitising", "releasing", "rejecting")

# A ``_created`` sample doubles every counter and histogram series and nothing reads it:
# alerts use rate() and increase(), which need no creation time.
disable_created_metrics()  # type: ignore[no-untyped-call]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # a registry of our own gets none of the library's default collectors: add the process ones
        BootTimeProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        Info("mukaika_build", "The running gateway's version", registry=self.registry).info(
            {"version": __version__}
        )
        self.transfers = Counter("mukaika_transfers", "Finished transfers by channel, verdict, detected type and method",
                                 ["channel", "verdict", "file_type", "method"], registry=self.registry)  # fmt: skip
        self.bytes_in = Counter(
            "mukaika_bytes_in", "Bytes of files taken from the inboxes", ["channel"], registry=self.registry
        )
        self.bytes_out = Counter(
            "mukaika_bytes_out", "Bytes of sanitised files released", ["channel"], registry=self.registry
        )
        self.duration = Histogram("mukaika_transfer_duration_seconds", "From admission to the final state",
                                  ["channel"], buckets=DURATION_BUCKETS, registry=self.registry)  # fmt: skip
        self.worker_failures = Counter("mukaika_worker_failures", "Transfers refused because the worker failed",
                                       ["code"], registry=self.registry)  # fmt: skip
        for code in WORKER_FAILURES:  # present at 0 so that rate() and alerts work from the start
            self.worker_failures.labels(code=code)
        self.queue_depth = Gauge(
            "mukaika_queue_depth", "Transfers queued for a worker, retries included", registry=self.registry
        )
        self.waiting = Gauge(
            "mukaika_waiting_files", "Inbox files waiting to settle or for room in the queue",
            registry=self.registry,
        )  # fmt: skip
        self.oldest_waiting = Gauge(
            "mukaika_oldest_waiting_seconds", "Age of the longest-waiting inbox file", registry=self.registry
        )
        self.in_flight = Gauge("mukaika_in_flight", "Transfers being processed", registry=self.registry)
        self.channels_owned = Gauge(
            "mukaika_channels_owned",
            "Channels this gateway node serves (several nodes: those whose lock it holds)",
            registry=self.registry,
        )
        self.journal_gauges = JournalGauges(self.registry)

    def read_journal(
        self, view: Callable[[], JournalView | None], channels: Callable[[], Collection[str]]
    ) -> None:
        """Where scrape-time gauges read: the daemon's journal, and the channels shown at 0 when idle."""
        self.journal_gauges.view = view
        self.journal_gauges.channels = channels

    def journal_view(self) -> JournalView | None:
        return self.journal_gauges.view()

    def record_transfer(self, transfer: Transfer) -> None:
        channel = transfer.channel
        self.transfers.labels(
            channel=channel,
            verdict=transfer.state,
            file_type=transfer.file_type or "unknown",
            method=transfer.method or "none",
        ).inc()
        self.bytes_in.labels(channel=channel).inc(transfer.size_in or 0)
        if transfer.state == "released":
            self.bytes_out.labels(channel=channel).inc(transfer.size_out or 0)
        duration = max(0.0, (transfer.finished or transfer.updated) - transfer.created)
        self.duration.labels(channel=channel).observe(duration)
        if transfer.reason_code in WORKER_FAILURES:
            self.worker_failures.labels(code=transfer.reason_code).inc()

    def observe_gateway(
        self, *, queue_depth: int, waiting: int, oldest_waiting: float, in_flight: int
    ) -> None:
        self.queue_depth.set(queue_depth)
        self.waiting.set(waiting)
        self.oldest_waiting.set(oldest_waiting)
        self.in_flight.set(in_flight)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class JournalGauges(Collector):
    """Transfers parked in the journal, per channel, counted at each scrape.

    One query on the journal's state index: it touches only unfinished rows, however long
    the journal's history. Every known channel is shown, at 0 when nothing waits there, so an
    alert or a graph never mistakes "nothing held" for "no data".
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.view: Callable[[], JournalView | None] = lambda: None
        self.channels: Callable[[], Collection[str]] = tuple
        registry.register(self)

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return list(self._families())

    def collect(self) -> Iterable[GaugeMetricFamily]:
        view = self.view()
        if view is None:  # the daemon has not opened it yet
            return []
        held, held_age, awaiting, awaiting_age, in_progress_age = families = self._families()
        now = time.time()
        by_channel: dict[str, dict[str, tuple[int, float]]] = {name: {} for name in self.channels()}
        try:
            unfinished = view.unfinished_by_channel()
        except JournalError:  # the database away: the scrape goes on without these gauges
            return []
        for (channel, state), (count, oldest) in unfinished.items():
            by_channel.setdefault(channel, {})[state] = (count, oldest)
        for channel, states in sorted(by_channel.items()):
            for count_family, age_family, state in ((held, held_age, "held"),
                                                    (awaiting, awaiting_age, "awaiting_approval")):  # fmt: skip
                count, oldest = states.get(state, (0, now))
                count_family.add_metric([channel], count)
                age_family.add_metric([channel], max(0.0, now - oldest))
            in_progress = [oldest for state, (_, oldest) in states.items() if state in IN_PROGRESS_STATES]
            in_progress_age.add_metric([channel], max(0.0, now - min(in_progress, default=now)))
        return families

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, ...]:
        def gauge(name: str, documentation: str) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, documentation, labels=["channel"])

        return (
            gauge("mukaika_held_transfers", "Transfers held until clamd can scan them"),
            gauge("mukaika_oldest_held_seconds", "Age of the oldest held transfer (0 when none)"),
            gauge("mukaika_awaiting_approval_transfers", "Sanitised transfers waiting for an approver"),
            gauge(
                "mukaika_oldest_awaiting_approval_seconds",
                "Age of the oldest transfer waiting for an approver (0 when none)",
            ),
            gauge(
                "mukaika_oldest_in_progress_seconds",
                "Age of the oldest transfer being staged, sanitised or placed, retries included (0 when none)",
            ),
        )


class BootTimeProcessCollector(ProcessCollector):
    """``process_*`` also where /proc/stat is hidden, as under the unit's ProcSubset=pid.

    The library reads the boot time from /proc/stat and exports nothing without it; the boot
    time is also the wall clock less the time since boot, which needs no file.
    """

    def _boot_time(self) -> float:
        return time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)


#: The daemon's metrics: transfers are recorded from ``log_transfer``, which runs in I/O threads
#: (prometheus-client's metrics are thread-safe).
METRICS = Metrics()


def record_transfer(transfer: Transfer) -> None:
    METRICS.record_transfer(transfer)
