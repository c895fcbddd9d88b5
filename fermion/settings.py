"""Fermion's settings: read once from ``FERMION_*`` environment variables and passed down.

Precedence: explicit keyword arguments, then environment variables, then a ``.env`` file in the working
directory, then the defaults below. Every setting is documented in ``docs/configuration.md``.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything Fermion can be configured with."""

    model_config = SettingsConfigDict(env_prefix="FERMION_", env_file=".env", extra="ignore")

    data_dir: Path = Field(default=Path(".fermion"), description="Directory of the embedded stores.")
    database_url: str = Field(
        default="",
        description="State store URL: sqlite:///PATH or postgresql://… (default: SQLite in the data dir).",
    )
    event_store_url: str = Field(
        default="",
        description="Event store URL: duckdb:///PATH or postgresql://… (default: DuckDB in the data dir).",
    )
    host: str = Field(default="127.0.0.1", description="Address the HTTP server binds.")
    port: int = Field(default=8080, description="Port the HTTP server binds.")
    log_level: str = Field(default="info", description="debug, info, warning or error.")
    log_json: bool = Field(default=True, description="Write logs as one JSON object per line.")

    max_request_bytes: int = Field(default=256 * 1024, description="Largest Events API request body.")
    max_batch_bytes: int = Field(default=128 * 1024, description="Largest single batch.")
    max_batches_per_request: int = Field(default=100, description="Batches per /v2/bulkevents request.")
    max_events_per_batch: int = Field(default=1000, description="Events per batch.")
    max_event_name_length: int = Field(default=256, description="Longer event names are truncated.")
    max_attribute_name_length: int = Field(default=256, description="Longer attribute names are truncated.")
    max_attribute_value_length: int = Field(default=4096, description="Longest attribute value.")
    max_attributes_per_event: int = Field(default=100, description="Custom attributes on one event.")
    max_user_attributes: int = Field(default=100, description="User attributes in one batch.")
    max_user_attribute_list_length: int = Field(default=1000, description="Entries in a list attribute.")
    max_user_attribute_list_entry_length: int = Field(
        default=512, description="Longest entry of a list attribute."
    )
    ingest_rate_batches_per_s: float = Field(
        default=0.0, description="Batches per second accepted per workspace and process; 0 = no limit."
    )
    ingest_rate_burst: int = Field(default=0, description="Burst above the rate (default: one second).")
    historical_min_age_hours: int = Field(
        default=72, description="Events sent to /v2/bulkevents/historical must be at least this old."
    )
    dedupe_retention_days: int = Field(
        default=45, description="How long source_request_id values are remembered for de-duplication."
    )
    verdict_retention_hours: int = Field(
        default=72,
        description="How long each processed batch's data-plan verdict is kept for the live stream.",
    )
    data_planning_rate_per_min: int = Field(
        default=3000, description="Data Planning API requests per minute per OAuth client."
    )
    live_stream_poll_ms: int = Field(
        default=250, description="How often the live stream looks for new batches."
    )

    worker_batch_size: int = Field(default=2000, description="Inbox batches a worker claims at a time.")
    worker_poll_ms: int = Field(default=50, description="Worker sleep when the inbox is empty.")
    worker_lease_s: float = Field(default=10.0, description="Inbox partition lease length.")
    worker_metrics_port: int = Field(
        default=0, description="`fermion worker` serves /metrics on this port (0 = off)."
    )

    profile_api_rate_per_s: float = Field(
        default=15.0,
        description="Profile API requests per second per OAuth client and process (burst = rate); 0 = off.",
    )

    alias_delay_s: int = Field(
        default=86_400,
        description="Alias requests are carried out this long after they arrive (late events).",
    )
    alias_max_window_days: int = Field(default=90, description="How far back an alias request may reach.")

    audience_max_per_workspace: int = Field(default=500, description="Audiences one workspace may define.")
    audience_window_max_days: int = Field(
        default=30, description="Longest time window of an audience event criterion (real-time retention)."
    )
    calculated_retention_days: int = Field(
        default=90, description="Longest 'within the last' window of a calculated attribute."
    )
    calculated_max_active: int = Field(default=200, description="Active calculated attributes per workspace.")
    activation_sweep_ms: int = Field(
        default=1000,
        description="How often the worker expires passed windows and runs pending backfills.",
    )
    analytics_timeout_s: float = Field(
        default=30.0, description="Analytics queries running longer are stopped (HTTP 504); 0 = no limit."
    )

    outputs_retry_window_s: int = Field(
        default=14_400,
        description="How long a failing delivery is retried before it goes to the dead-letter store.",
    )
    outputs_retry_base_ms: int = Field(
        default=1000, description="First retry delay of a delivery; doubles each attempt, with jitter."
    )
    outputs_retry_max_s: int = Field(default=600, description="Longest delay between two delivery attempts.")
    outputs_lease_s: int = Field(
        default=120, description="A claimed delivery is claimed again after this long (a worker died)."
    )
    outputs_poll_ms: int = Field(
        default=250, description="How often the worker routes audience changes and starts delivery runs."
    )
    outputs_max_parallel: int = Field(default=8, description="Outputs delivering at once in one worker.")
    outputs_finished_retention_hours: int = Field(
        default=168,
        description="Delivered, rejected and skipped records and their payloads are purged after this long.",
    )
    outputs_ledger_retention_days: int = Field(
        default=30,
        description="Ledger entries are purged after this long, once their record has left the queue.",
    )
    outputs_sync_page: int = Field(
        default=1000,
        ge=1,
        description="Members each audience connection's initial sync queues at each outputs poll.",
    )

    dsr_waiting_period_hours: int = Field(
        default=168, description="Data subject erasures wait this long, cancellable, before they run."
    )
    dsr_results_ttl_days: int = Field(
        default=7, description="How long an access or portability archive can be downloaded (then 410)."
    )
    dsr_processor_domain: str = Field(
        default="opendsr.fermion.local",
        description="The OpenDSR processor domain: signature header value and subject of the certificate.",
    )
    dsr_forward_window_hours: int = Field(
        default=24,
        description="How long an erasure retries an output failing transiently before recording the failure.",
    )
    dsr_sweep_ms: int = Field(
        default=1000, description="How often the worker runs due data subject requests and sends callbacks."
    )

    def resolved_database_url(self) -> str:
        """The state store URL, defaulting to SQLite in the data dir."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'fermion.db').resolve()}"

    def resolved_event_store_url(self) -> str:
        """The event store URL, defaulting to DuckDB in the data dir."""
        return self.event_store_url or f"duckdb:///{(self.data_dir / 'events.duckdb').resolve()}"

    def is_embedded(self) -> bool:
        """True when either store is embedded (SQLite or DuckDB), which limits Fermion to one process."""
        return self.resolved_database_url().startswith(
            "sqlite"
        ) or self.resolved_event_store_url().startswith("duckdb")
