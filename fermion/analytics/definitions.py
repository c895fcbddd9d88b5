"""Typed query definitions: the JSON a caller sends, validated before any SQL is written.

One model per analysis (segmentation, funnel, retention, flows), sharing date ranges, filters and time zones.
:func:`parse_definition` turns JSON into a model and every validation error into a ``BadRequest`` naming the
field, so the HTTP API and the CLI report the same message.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from fermion.errors import BadRequest

Operator = Literal[
    "exact",
    "is_not",
    "icontains",
    "not_icontains",
    "regex",
    "not_regex",
    "gt",
    "gte",
    "lt",
    "lte",
    "between",
    "not_between",
    "in",
    "not_in",
    "is_set",
    "is_not_set",
]
Interval = Literal["hour", "day", "week", "month", "full"]
Measure = Literal["total", "users", "sum", "avg", "min", "max", "median", "p75", "p90", "p95", "p99"]
Scope = Literal["event", "user"]
BUILTIN_PROPERTIES = ("event_name", "event_type", "environment", "session_id", "input_id")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Condition(Strict):
    """One test of an event property: ``data.custom_attributes.<property>``, or a built-in column."""

    property: str = Field(min_length=1, description=f"Custom attribute name, or one of {BUILTIN_PROPERTIES}.")
    scope: Scope = Field("event", description="`event`: the event's property; `user`: the user's attribute.")
    operator: Operator = Field(description="PostHog's operator names; `icontains` is case-insensitive.")
    value: Any = Field(None, description="A value; a list for in/not_in, [low, high] for between.")

    @model_validator(mode="after")
    def _value_fits(self) -> Condition:
        if self.operator in ("is_set", "is_not_set"):
            return self
        if self.value is None:
            raise ValueError(f"operator {self.operator} needs a value")
        if self.operator in ("between", "not_between") and (
            not isinstance(self.value, list) or len(self.value) != 2
        ):
            raise ValueError(f"operator {self.operator} needs [low, high]")
        if self.operator in ("in", "not_in") and (not isinstance(self.value, list) or not self.value):
            raise ValueError(f"operator {self.operator} needs a non-empty list")
        if self.operator in ("regex", "not_regex"):
            try:
                re.compile(str(self.value))
            except re.error as error:
                raise ValueError(f"invalid regular expression: {error}") from None
        return self


class FilterGroup(Strict):
    """Conditions combined with AND or OR; groups nest."""

    op: Literal["and", "or"] = "and"
    conditions: list[Condition | FilterGroup] = Field(min_length=1)


class DateRange(Strict):
    """Absolute (``start``/``end``, dates inclusive or datetimes exclusive) or relative (``last`` units)."""

    start: date | datetime | None = None
    end: date | datetime | None = None
    last: int | None = Field(None, ge=1, le=3660, description="The last N units, the current one included.")
    unit: Literal["hour", "day", "week", "month"] = "day"

    @model_validator(mode="after")
    def _one_kind(self) -> DateRange:
        if self.last is None and (self.start is None or self.end is None):
            raise ValueError("give start and end, or last")
        if self.last is not None and (self.start is not None or self.end is not None):
            raise ValueError("give start and end, or last, not both")
        return self


class TimeSettings(Strict):
    date_range: DateRange = Field(default_factory=lambda: DateRange(last=7))
    timezone: str = Field("UTC", description="IANA time zone of buckets and dates.")
    week_start: Literal["monday", "sunday"] = "monday"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class EventRow(Strict):
    """An event name (``null``: any event) with optional filters."""

    event: str | None = Field(description="Event name; null matches every event.")
    where: FilterGroup | None = None


class Behavior(Strict):
    """A For clause: the user did (or did not) perform ``event`` around each base event."""

    did: bool = True
    event: str
    where: FilterGroup | None = None
    count_operator: Literal["gte", "gt", "lte", "lt", "eq"] = "gte"
    count: int = Field(1, ge=0)
    relation: Literal["before", "after", "absolute"] = "before"
    within_s: float | None = Field(None, gt=0, description="The window before/after the base event.")
    absolute: DateRange | None = None

    @model_validator(mode="after")
    def _window(self) -> Behavior:
        if self.relation == "absolute" and self.absolute is None:
            raise ValueError("relation absolute needs absolute")
        return self


class Series(EventRow):
    name: str | None = None
    measure: Measure = "total"
    property: str | None = Field(None, description="Numeric property for sum/avg/min/max/median/pNN.")
    per_user: bool = Field(False, description="avg only: average of per-user sums instead of per event.")
    behaviors: list[Behavior] = Field(default_factory=list, description="For clauses, all required.")

    @model_validator(mode="after")
    def _property_for_numbers(self) -> Series:
        if self.measure not in ("total", "users") and not self.property:
            raise ValueError(f"measure {self.measure} needs property")
        return self


class Formula(Strict):
    name: str
    expression: str = Field(description="Series letters A, B, … numbers and + - * / ( ); / by 0 is null.")


class GroupBy(Strict):
    property: str
    scope: Scope = "event"
    limit: int = Field(25, ge=1, le=1000, description="Top groups kept; the rest are summed as 'Other'.")


class SegmentationQuery(TimeSettings):
    series: list[Series] = Field(min_length=1, max_length=26)
    interval: Interval = "day"
    group_by: GroupBy | None = None
    cumulative: Literal["none", "sum", "unique"] = "none"
    totals: bool = Field(
        True, description="Range totals per series; distinct users over the range take a pass of their own."
    )
    compare: bool = Field(False, description="Also run the previous period of the same length and compare.")
    formulas: list[Formula] = Field(default_factory=list)


class FunnelStep(EventRow):
    event: str = Field(min_length=1)
    name: str | None = None
    optional: bool = Field(
        False, description="Multi-path: a step users may skip (at most 4; not first or last)."
    )


class Exclusion(EventRow):
    event: str = Field(min_length=1)
    from_step: int = Field(1, ge=1, description="The exclusion applies between this step …")
    to_step: int = Field(2, ge=2, description="… and this one (1-based).")


class Window(Strict):
    kind: Literal["unlimited", "whole_funnel", "per_step", "entry_date_range"] = "unlimited"
    seconds: float | None = Field(None, ge=0, description="whole_funnel: last step − first step ≤ seconds.")
    per_step_seconds: list[float | None] | None = Field(
        None, description="per_step: one limit per step after the first; null = anytime subsequent."
    )


class Breakdown(Strict):
    property: str
    scope: Scope = "event"
    attribution: Literal["first_touch", "last_touch", "step"] = "first_touch"
    step: int = Field(1, ge=1, description="attribution step: the step whose event carries the value.")
    limit: int = Field(25, ge=1, le=1000)


class FunnelQuery(TimeSettings):
    steps: list[FunnelStep] = Field(min_length=1, max_length=32)
    order: Literal["sequential", "flexible", "ordered_allow_ties", "strict", "unordered"] = "sequential"
    flexible_limit_s: float = Field(1.0, gt=0, le=86_400, description="flexible: how far a step may precede.")
    window: Window = Field(default_factory=Window)
    exclusions: list[Exclusion] = Field(default_factory=list)
    tracking_properties: list[str | list[str]] = Field(
        default_factory=list,
        max_length=3,
        description="Properties every step must share: a name, or one name per step (each-step mode).",
    )
    count_by: Literal["users", "pairs"] = "users"
    breakdown: Breakdown | None = None
    over_time: Interval | None = Field(None, description="Conversion over time by entry interval.")
    time_to_convert_bins: int | None = Field(
        None, ge=1, le=100, description="A histogram of total conversion times in this many equal bins."
    )

    @model_validator(mode="after")
    def _consistent(self) -> FunnelQuery:
        n = len(self.steps)
        if self.window.kind == "whole_funnel" and self.window.seconds is None:
            raise ValueError("window.seconds is required for whole_funnel")
        if self.window.kind == "per_step" and len(self.window.per_step_seconds or []) != n - 1:
            raise ValueError(f"window.per_step_seconds needs {n - 1} entries")
        for held in self.tracking_properties:
            if isinstance(held, list) and len(held) != n:
                raise ValueError(f"tracking_properties: a per-step list needs {n} names, one per step")
        for limit in self.window.per_step_seconds or []:
            if limit is not None and limit < 0:
                raise ValueError("window.per_step_seconds must not be negative")
        for exclusion in self.exclusions:
            if not exclusion.from_step < exclusion.to_step <= n:
                raise ValueError("exclusions: need from_step < to_step <= number of steps")
        if self.breakdown is not None and self.breakdown.step > n:
            raise ValueError("breakdown.step is beyond the last step")
        if self.order == "unordered" and self.exclusions:
            raise ValueError("exclusions are not supported with order unordered")
        optional = [i for i, s in enumerate(self.steps) if s.optional]
        if optional:
            if len(optional) > 4 or optional[0] == 0 or optional[-1] == n - 1:
                raise ValueError("steps: at most 4 optional steps, neither the first nor the last")
            if self.exclusions or self.breakdown is not None or self.order == "unordered":
                raise ValueError(
                    "steps: optional steps do not combine with exclusions, breakdown or unordered"
                )
        return self


class RetentionQuery(TimeSettings):
    start: EventRow = Field(description="The cohort-defining event.")
    returning: EventRow = Field(description="The return (target) event.")
    mode: Literal["first_time", "recurring"] = "first_time"
    period: Literal["hour", "day", "week", "month"] = "day"
    periods: int = Field(8, ge=1, le=400, description="Periods after period 0 to report.")
    measure: Literal["n_day", "unbounded", "bracket"] = "n_day"
    brackets: list[Annotated[list[int], Field(min_length=2, max_length=2)]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _brackets(self) -> RetentionQuery:
        if self.measure == "bracket" and not self.brackets:
            raise ValueError("measure bracket needs brackets [[a, b], …]")
        for low, high in self.brackets:
            if not 0 <= low <= high <= self.periods:
                raise ValueError("brackets need 0 <= a <= b <= periods")
        return self


class FlowsQuery(TimeSettings):
    event: str = Field(
        min_length=1, description="The anchor event: paths start (after) or end (before) here."
    )
    where: FilterGroup | None = None
    direction: Literal["after", "before"] = "after"
    max_steps: int = Field(5, ge=2, le=20)
    session_gap_s: float | None = Field(1800, gt=0, description="A gap this long ends a path; null = none.")
    max_span_s: float = Field(
        86_400, gt=0, le=366 * 86_400, description="A path ends this long after its anchor."
    )
    collapse_repeats: bool = True
    exclude_events: list[str] = Field(default_factory=list)
    edge_limit: int = Field(50, ge=1, le=1000)


KINDS: dict[str, type[TimeSettings]] = {
    "segmentation": SegmentationQuery,
    "funnel": FunnelQuery,
    "retention": RetentionQuery,
    "flows": FlowsQuery,
}
Query = SegmentationQuery | FunnelQuery | RetentionQuery | FlowsQuery


def describe(error: ValidationError) -> str:
    """Validation errors as ``field.path: message; …``."""
    parts = []
    for item in error.errors():
        location = ".".join(str(p) for p in item.get("loc", ()) if not str(p).startswith("function-"))
        parts.append(f"{location or 'definition'}: {item.get('msg', '')}")
    return "; ".join(parts)


def parse_definition(kind: str, raw: Any) -> Query:
    """A validated definition of ``kind`` from JSON data; ``BadRequest`` names each bad field."""
    model = KINDS.get(kind)
    if model is None:
        raise BadRequest(f"kind: unknown analysis {kind!r}; one of {sorted(KINDS)}")
    try:
        parsed = model.model_validate(raw)
    except ValidationError as error:
        raise BadRequest(describe(error)) from None
    return parsed  # type: ignore[return-value]
