"""The seam every integration implements, its settings schema, and how failures are classified.

An integration turns queued records into calls to one destination and says, per record, what happened:
delivered, rejected (permanent, with the destination's reason), skipped (nothing to send, with why) or
retry. A failure of the whole call is raised as :class:`DeliveryFailed`, retryable or not; a destination
refusing the output's credentials (HTTP 401/403) is :class:`CredentialsRefused`, which integrations let
propagate: the runner then faults the output and keeps its records queued (spec activation §3.4, §5.4).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from fermion.errors import BadRequest

RETRYABLE_STATUS = frozenset({408, 429})
CREDENTIALS_STATUS = frozenset({401, 403})


@dataclass(frozen=True)
class Setting:
    """One setting of an integration: its type, whether it is required, its default and choices."""

    type: str  # string | bool | int | enum | mapping | list
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    description: str = ""
    secret: bool = False


@dataclass(frozen=True)
class Record:
    """One queued delivery: a batch (event outputs) or a membership change (audience outputs)."""

    id: int
    connection_id: int
    mpid: int | None
    attempts: int
    payload: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    """What happened to one record: ``delivered``, ``rejected``, ``skipped`` or ``retry``."""

    record_id: int
    status: str
    reason: str = ""
    retry_after_ms: int | None = None


class DeliveryFailed(Exception):
    """The whole call failed: ``retryable`` decides between another attempt and the dead-letter store."""

    def __init__(self, reason: str, *, retryable: bool, retry_after_ms: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after_ms = retry_after_ms


@dataclass(frozen=True)
class PartnerErasure:
    """A partner's answer to a forwarded erasure: ``sent``, ``skipped`` (no identity it can use),
    ``failed`` (permanent, with its reason) or ``retry`` (transient; ``retry_after_ms`` when it said)."""

    status: str
    message: str = ""
    retry_after_ms: int | None = None


class CredentialsRefused(DeliveryFailed):
    """The destination refused the output's credentials (401/403): no record can go until they change.

    Not the records' fault, so they are neither retried nor dead-lettered: the output is faulted and its
    records wait for a resume. ``settled`` carries the outcomes of records already sent in this call, so
    they are not sent twice.
    """

    def __init__(self, reason: str, *, settled: Sequence[Outcome] = ()) -> None:
        super().__init__(reason, retryable=False)
        self.settled = list(settled)

    def with_settled(self, settled: Sequence[Outcome]) -> CredentialsRefused:
        """The same refusal carrying the outcomes settled before it."""
        return CredentialsRefused(self.reason, settled=[*settled, *self.settled])


@dataclass
class SendContext:
    """What an integration may use while sending: an HTTP client with timeouts, its output's durable
    key-value state, the connection settings of each record, and the clock."""

    http: httpx.Client
    now_ms: Callable[[], int]
    connection_settings: Mapping[int, dict[str, Any]]
    get_state: Callable[[str], str | None]
    set_state: Callable[[str, str], None]
    notes: list[str] = field(default_factory=list)


class Integration(Protocol):
    """A destination: its settings schemas, bulk thresholds and how it sends records."""

    @property
    def name(self) -> str:
        """The integration's id in output definitions."""
        ...

    @property
    def kind(self) -> str:
        """``event`` or ``audience``: what connects to it."""
        ...

    @property
    def settings(self) -> Mapping[str, Setting]:
        """The output-level settings schema."""
        ...

    @property
    def connection_settings(self) -> Mapping[str, Setting]:
        """The connection-level settings schema (besides the processing settings every connection has)."""
        ...

    @property
    def bulk_size(self) -> int:
        """Default: upload when this many records wait."""
        ...

    @property
    def bulk_wait_s(self) -> int:
        """Default: …or when the oldest has waited this long."""
        ...

    def send(self, settings: dict[str, Any], records: Sequence[Record], ctx: SendContext) -> list[Outcome]:
        """Send ``records``; return an outcome for each, or raise :class:`DeliveryFailed`."""
        ...


class ErasingIntegration(Protocol):
    """An integration that supports "Data Subject Request Forwarding for Erasure" (spec activation §8.5):
    its outputs have a ``forward_erasure`` setting (the Forwarding Status toggle)."""

    erasure_domain: str

    def forward_erasure(
        self,
        settings: dict[str, Any],
        identities: Mapping[str, Sequence[str]],
        http: httpx.Client,
        countries: Sequence[str] = (),
    ) -> PartnerErasure:
        """Ask the partner to delete the person with these identities (mParticle type → values);
        ``countries`` (the profiles' ``$country``) place phone numbers given without a country code."""
        ...


def validate_settings(schema: Mapping[str, Setting], values: Any, where: str) -> dict[str, Any]:
    """``values`` checked against ``schema`` with defaults filled in; a 400 names the bad setting."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise BadRequest(f"{where}: an object of settings")
    unknown = sorted(set(values) - set(schema))
    if unknown:
        raise BadRequest(f"{where}.{unknown[0]}: unknown setting; known: {', '.join(sorted(schema))}")
    result: dict[str, Any] = {}
    for name, spec in schema.items():
        value = values.get(name, spec.default)
        if value is None:
            if spec.required:
                raise BadRequest(f"{where}.{name}: required ({spec.description or spec.type})")
            result[name] = None
            continue
        result[name] = _checked(spec, value, f"{where}.{name}")
    return result


def _checked(spec: Setting, value: Any, where: str) -> Any:
    kind = spec.type
    if kind == "string" and isinstance(value, str):
        if spec.required and not value:
            raise BadRequest(f"{where}: must not be empty")
        return value
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if kind == "enum" and value in spec.choices:
        return value
    if kind == "mapping" and isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return dict(value)
    if kind == "list" and isinstance(value, list):
        return list(value)
    expected = f"one of {', '.join(spec.choices)}" if kind == "enum" else f"a {kind}"
    if kind == "int":
        expected = "a non-negative integer"
    raise BadRequest(f"{where}: expected {expected}, got {value!r}")


def classify_response(response: httpx.Response) -> DeliveryFailed | None:
    """None for 2xx; otherwise the failure, retryable for 408, 429 and 5xx (honouring Retry-After),
    :class:`CredentialsRefused` for 401 and 403."""
    if response.status_code < 300:
        return None
    reason = f"HTTP {response.status_code}: {response.text[:300]}"
    if response.status_code in CREDENTIALS_STATUS:
        return CredentialsRefused(f"credentials refused ({reason})")
    retryable = response.status_code in RETRYABLE_STATUS or response.status_code >= 500
    return DeliveryFailed(reason, retryable=retryable, retry_after_ms=retry_after_ms(response))


def retry_after_ms(response: httpx.Response) -> int | None:
    """The Retry-After header in milliseconds (seconds form), or None."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0, int(float(value) * 1000))
    except ValueError:
        return None


def call(http: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One HTTP call; timeouts and connection errors become retryable failures."""
    try:
        return http.request(method, url, **kwargs)
    except httpx.TimeoutException as exc:
        raise DeliveryFailed(f"timeout: {exc!r}", retryable=True) from exc
    except httpx.TransportError as exc:
        raise DeliveryFailed(f"connection error: {exc!r}", retryable=True) from exc


def all_outcomes(records: Sequence[Record], status: str, reason: str = "") -> list[Outcome]:
    """The same outcome for every record."""
    return [Outcome(r.id, status, reason) for r in records]
