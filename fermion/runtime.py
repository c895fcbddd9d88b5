"""The composition root: builds every context of one Fermion process from its settings.

An edge, like ``api`` and ``cli``, which both start from here.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from fermion.analytics import Runner, SavedAnalyses
from fermion.audiences import AudienceEvaluator, Audiences
from fermion.calculated import CalculatedValues, Catalog
from fermion.clock import Clock, SystemClock
from fermion.errors import ConfigurationError
from fermion.events import EventReads, EventStore, LocalReadClient, open_event_store
from fermion.identity import IdentityService
from fermion.ingest import Acceptor, Authenticator, limits_from
from fermion.metrics import Metrics
from fermion.outputs import OutputServices, RetryPolicy
from fermion.pipeline import Verdicts, Worker
from fermion.plans import PlanCatalog, PlanResolver, Quarantine, VerdictLog
from fermion.platform import ApiCredentials, Tenancy
from fermion.privacy import DataSubjectRights, OutputErasureForwarders
from fermion.profiles import ProfileStore
from fermion.queue import GroupCommitter, Inbox
from fermion.ratelimit import TokenBuckets
from fermion.settings import Settings
from fermion.store import create_state_engine, migrate


@dataclass
class Runtime:
    """The contexts of one process, wired together."""

    settings: Settings
    clock: Clock
    engine: Engine
    tenancy: Tenancy
    inbox: Inbox
    profiles: ProfileStore
    identity: IdentityService
    metrics: Metrics
    authenticator: Authenticator
    acceptor: Acceptor
    limiter: TokenBuckets
    committer: GroupCommitter
    credentials: ApiCredentials
    plans: PlanCatalog
    verdicts: VerdictLog
    quarantine: Quarantine
    calculated: Catalog
    calculated_values: CalculatedValues
    audiences: Audiences
    audience_evaluator: AudienceEvaluator
    saved_analyses: SavedAnalyses
    worker_socket: Path | None = None
    _events: EventStore | None = field(default=None, repr=False)
    _local_reads: LocalReadClient | None = field(default=None, repr=False)
    _outputs: OutputServices | None = field(default=None, repr=False)
    _privacy: DataSubjectRights | None = field(default=None, repr=False)

    @classmethod
    def open(cls, settings: Settings, clock: Clock | None = None) -> Runtime:
        """Connect to the state store and bring its schema up to date (the event store opens on first use)."""
        clock = clock or SystemClock()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_state_engine(settings.resolved_database_url())
        migrate(engine)
        tenancy = Tenancy(engine, clock)
        inbox = Inbox(engine, clock)
        calculated = Catalog(
            engine,
            clock,
            retention_days=settings.calculated_retention_days,
            max_active=settings.calculated_max_active,
        )
        calculated_values = CalculatedValues(engine, clock, retention_days=settings.calculated_retention_days)
        return cls(
            settings=settings,
            clock=clock,
            engine=engine,
            tenancy=tenancy,
            inbox=inbox,
            profiles=ProfileStore(engine),
            identity=IdentityService(
                engine,
                clock,
                alias_delay_ms=settings.alias_delay_s * 1000,
                alias_window_ms=settings.alias_max_window_days * 86_400_000,
            ),
            metrics=Metrics(),
            authenticator=Authenticator(tenancy),
            acceptor=Acceptor(settings, clock),
            limiter=TokenBuckets(
                settings.ingest_rate_batches_per_s,
                settings.ingest_rate_burst,
                clock,
                limit="workspace",
                what="ingest (batches per workspace)",
            ),
            committer=GroupCommitter(inbox),
            credentials=ApiCredentials(engine, clock),
            plans=PlanCatalog(engine, clock),
            verdicts=VerdictLog(engine),
            quarantine=Quarantine(engine),
            calculated=calculated,
            calculated_values=calculated_values,
            audiences=Audiences(
                engine,
                clock,
                calculated,
                max_per_workspace=settings.audience_max_per_workspace,
                max_window_days=settings.audience_window_max_days,
            ),
            audience_evaluator=AudienceEvaluator(engine, clock, ProfileStore(engine), calculated_values),
            saved_analyses=SavedAnalyses(engine, clock),
        )

    @property
    def events(self) -> EventStore:
        """The event store, opened on first use (DuckDB locks its file for this process)."""
        if self._events is None:
            self._events = open_event_store(self.settings.resolved_event_store_url())
        return self._events

    @property
    def outputs(self) -> OutputServices:
        """Outputs and connections, the delivery queue and ledger, the router and the delivery worker."""
        if self._outputs is None:
            s = self.settings
            policy = RetryPolicy(
                base_ms=s.outputs_retry_base_ms,
                max_ms=s.outputs_retry_max_s * 1000,
                window_ms=s.outputs_retry_window_s * 1000,
            )
            self._outputs = OutputServices.open(
                self.engine,
                self.clock,
                self.profiles,
                policy,
                lease_ms=s.outputs_lease_s * 1000,
                max_parallel=s.outputs_max_parallel,
                finished_retention_ms=s.outputs_finished_retention_hours * 3_600_000,
                ledger_retention_ms=s.outputs_ledger_retention_days * 86_400_000,
            )
        return self._outputs

    @property
    def privacy(self) -> DataSubjectRights:
        """Data subject requests, their signer and consent history (the signing key is made on first use)."""
        if self._privacy is None:
            s = self.settings
            self._privacy = DataSubjectRights(
                self.engine,
                self.clock,
                s.data_dir,
                processor_domain=s.dsr_processor_domain,
                waiting_period_ms=s.dsr_waiting_period_hours * 3_600_000,
                results_ttl_ms=s.dsr_results_ttl_days * 86_400_000,
                # the outputs context is opened only when an erasure is forwarded (in the worker)
                forwarder_source=lambda workspace_id: OutputErasureForwarders(self.outputs.outputs)(
                    workspace_id
                ),
                forward_window_ms=s.dsr_forward_window_hours * 3_600_000,
            )
        return self._privacy

    def event_reads(self) -> EventReads:
        """Where this process reads events: the store itself, or the local worker process that holds it."""
        if self.worker_socket is not None and self.settings.resolved_event_store_url().startswith("duckdb"):
            return self.local_reads()
        return self.events

    def local_reads(self) -> LocalReadClient:
        """The client of the worker process that `fermion serve` started (requires ``worker_socket``)."""
        if self.worker_socket is None:
            raise ConfigurationError("This process started no worker process.")
        if self._local_reads is None:
            self._local_reads = LocalReadClient(self.worker_socket)
        return self._local_reads

    def analytics(self) -> Runner:
        """Runs analyses on this process's event store (through the worker process that holds DuckDB)."""
        dialect = "duckdb" if self.settings.resolved_event_store_url().startswith("duckdb") else "postgres"
        reads = self.event_reads()
        return Runner(
            reads, dialect, self.clock, self.settings.analytics_timeout_s, self.profiles.attribute_values
        )

    def new_worker(self, worker_id: str | None = None) -> Worker:
        """A pipeline worker on this process's stores."""
        s = self.settings
        return Worker(
            self.engine,
            self.inbox,
            self.events,
            self.profiles,
            self.identity,
            self.tenancy,
            self.clock,
            self.metrics,
            batch_size=s.worker_batch_size,
            lease_ms=int(s.worker_lease_s * 1000),
            poll_ms=s.worker_poll_ms,
            dedupe_retention_ms=s.dedupe_retention_days * 86_400_000,
            limits=limits_from(s),
            verdicts=Verdicts(
                self.engine,
                PlanResolver(self.plans),
                self.verdicts,
                self.quarantine,
                retention_ms=s.verdict_retention_hours * 3_600_000,
            ),
            worker_id=worker_id,
            calculated=self.calculated_values,
            audiences=self.audience_evaluator,
            activation_sweep_ms=s.activation_sweep_ms,
            outputs=self.outputs,
            audience_catalog=self.audiences,
            outputs_poll_ms=s.outputs_poll_ms,
            outputs_sync_page=s.outputs_sync_page,
            privacy=self.privacy,
            dsr_sweep_ms=s.dsr_sweep_ms,
        )

    def require_scale_out_stores(self, role: str) -> None:
        """``fermion api`` and ``fermion worker`` run apart only on PostgreSQL; say so clearly otherwise."""
        if self.settings.is_embedded():
            raise ConfigurationError(
                f"`fermion {role}` runs apart from the other roles, which needs PostgreSQL for both stores "
                "(FERMION_DATABASE_URL and FERMION_EVENT_STORE_URL). Embedded: run `fermion serve`."
            )

    def admin_token(self) -> str:
        """The token local admin endpoints require, kept in the data dir (created on first use)."""
        path = self.settings.data_dir / "admin.token"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip()

    def close(self) -> None:
        """Release connections and file locks."""
        if self._outputs is not None:
            self._outputs.runner.close()
            self._outputs = None
        if self._events is not None:
            self._events.close()
            self._events = None
        if self._local_reads is not None:
            self._local_reads.close()
            self._local_reads = None
        self.engine.dispose()
