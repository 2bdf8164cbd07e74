"""Prometheus metrics of the gateway, in a registry of their own (not the library's global one).

Counters are fed by ``record_transfer`` from the canonical transfer line, so a transfer is
counted exactly when it is logged. Gauges describe the live daemon and are set by the HTTP
handler at scrape time (``observe_gateway``).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from gateway.journal import Transfer

#: Refusals that mean a worker failed, not that the file was bad.
WORKER_FAILURES = ("worker.crash", "worker.timeout", "worker.memory")
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.transfers = Counter("mukaika_transfers", "Finished transfers by verdict, detected type and method",
                                 ["verdict", "file_type", "method"], registry=self.registry)  # fmt: skip
        self.bytes_in = Counter(
            "mukaika_bytes_in", "Bytes of files taken from the inboxes", registry=self.registry
        )
        self.bytes_out = Counter(
            "mukaika_bytes_out", "Bytes of sanitised files released", registry=self.registry
        )
        self.duration = Histogram("mukaika_transfer_duration_seconds", "From admission to the final state",
                                  buckets=DURATION_BUCKETS, registry=self.registry)  # fmt: skip
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

    def record_transfer(self, transfer: Transfer) -> None:
        self.transfers.labels(
            verdict=transfer.state,
            file_type=transfer.file_type or "unknown",
            method=transfer.method or "none",
        ).inc()
        self.bytes_in.inc(transfer.size_in or 0)
        if transfer.state == "released":
            self.bytes_out.inc(transfer.size_out or 0)
        self.duration.observe(max(0.0, (transfer.finished or transfer.updated) - transfer.created))
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


#: The daemon's metrics: transfers are recorded from ``log_transfer``, which runs in I/O threads
#: (prometheus-client's metrics are thread-safe).
METRICS = Metrics()


def record_transfer(transfer: Transfer) -> None:
    METRICS.record_transfer(transfer)
