"""Prometheus metrics of one Fermion process, on a registry of its own (so tests can build many apps)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


class Metrics:
    """The counters and histograms Fermion updates, and gauges read on each scrape.

    Ingest metrics live on ``registry``, worker metrics on ``worker_registry``, so that a process exposes
    only the series it owns (`fermion serve` adds its worker process's series to its own).
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.worker_registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "fermion_http_requests", "HTTP requests served", ["route", "status"], registry=self.registry
        )
        self.batches_accepted = Counter(
            "fermion_batches_accepted", "Batches committed to the inbox", registry=self.registry
        )
        self.events_accepted = Counter(
            "fermion_events_accepted", "Events in batches committed to the inbox", registry=self.registry
        )
        self.batches_duplicate = Counter(
            "fermion_batches_duplicate",
            "Batches skipped as re-sends of a source_request_id",
            registry=self.registry,
        )
        self.rejections = Counter(
            "fermion_rejections", "Requests rejected, by reason", ["reason"], registry=self.registry
        )
        self.accept_seconds = Histogram(
            "fermion_accept_seconds",
            "Time from request received to durable 202",
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )
        self.events_stored = Counter(
            "fermion_events_stored",
            "Events appended to the event store (new ones only)",
            registry=self.worker_registry,
        )
        self.batches_processed = Counter(
            "fermion_batches_processed",
            "Inbox batches processed by this process's worker",
            registry=self.worker_registry,
        )
        self.batches_parked = Counter(
            "fermion_batches_parked",
            "Inbox batches parked after a processing error",
            registry=self.worker_registry,
        )

    def add_gauges(self, read: Callable[[], Iterable[tuple[str, str, float]]]) -> None:
        """Register gauges computed on scrape: ``read`` yields (name, help, value)."""
        self.registry.register(_ReadOnScrape(read))


class _ReadOnScrape(Collector):
    def __init__(self, read: Callable[[], Iterable[tuple[str, str, float]]]) -> None:
        self._read = read

    def collect(self) -> Iterable[GaugeMetricFamily]:
        for name, help_text, value in self._read():
            yield GaugeMetricFamily(name, help_text, value=value)

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return []
