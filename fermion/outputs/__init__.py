"""Outputs and connections (spec activation §4–§6): per-connection processing in the documented order,
routing from the pipeline, a durable per-output delivery queue with retries as data, dead letters with
redrive, the delivery ledger, and the integrations (webhook, Klaviyo audience, Klaviyo events, files)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from fermion.clock import Clock
from fermion.outputs.catalog import Connection, Deleted, Output, Outputs
from fermion.outputs.deliveries import DeadLetter, Deliveries, LedgerEntry, NewDelivery
from fermion.outputs.integrations import (
    INTEGRATIONS,
    CredentialsRefused,
    Integration,
    Setting,
    integration_named,
)
from fermion.outputs.outbound import consent_change_event, outbound_batch
from fermion.outputs.processing import Processing, parse_processing, process_batch, process_membership
from fermion.outputs.retry import RetryPolicy
from fermion.outputs.router import RoutedBatch, Router
from fermion.outputs.runner import DeliveryRunner
from fermion.profiles import ProfileStore


@dataclass
class OutputServices:
    """The outputs context of one process, wired: catalog, queue and ledger, router, delivery worker."""

    outputs: Outputs
    deliveries: Deliveries
    router: Router
    runner: DeliveryRunner
    finished_retention_ms: int = 7 * 86_400_000
    ledger_retention_ms: int = 30 * 86_400_000

    def purge(self, now_ms: int) -> tuple[int, int]:
        """Purge finished records and old ledger entries (the worker calls it hourly)."""
        return self.deliveries.purge(now_ms - self.finished_retention_ms, now_ms - self.ledger_retention_ms)

    @classmethod
    def open(
        cls,
        engine: Engine,
        clock: Clock,
        profiles: ProfileStore,
        policy: RetryPolicy,
        *,
        lease_ms: int,
        max_parallel: int,
        finished_retention_ms: int = 7 * 86_400_000,
        ledger_retention_ms: int = 30 * 86_400_000,
    ) -> OutputServices:
        """Build the outputs context on a state store."""
        deliveries = Deliveries(engine, clock, policy, lease_ms)
        outputs = Outputs(engine, clock, deliveries)
        return cls(
            outputs,
            deliveries,
            Router(engine, clock, outputs, deliveries, profiles),
            DeliveryRunner(engine, clock, outputs, deliveries, max_parallel=max_parallel),
            finished_retention_ms,
            ledger_retention_ms,
        )


__all__ = [
    "INTEGRATIONS",
    "Connection",
    "CredentialsRefused",
    "DeadLetter",
    "Deleted",
    "Deliveries",
    "DeliveryRunner",
    "Integration",
    "LedgerEntry",
    "NewDelivery",
    "Output",
    "OutputServices",
    "Outputs",
    "Processing",
    "RetryPolicy",
    "RoutedBatch",
    "Router",
    "Setting",
    "consent_change_event",
    "integration_named",
    "outbound_batch",
    "parse_processing",
    "process_batch",
    "process_membership",
]
