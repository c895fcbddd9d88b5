"""Default service limits on incoming batches (spec §6.1), applied after decoding.

Our decision, following mParticle's documented server-to-server behaviour: event names and
event/user attribute NAMES over the limit are truncated; every other limit rejects the batch
with a ``BatchValidationError`` naming the offending field, the limit and the actual size.
When two attribute names become equal by truncation, the later one wins.
"""

from __future__ import annotations

from dataclasses import dataclass

from fermion.errors import BatchValidationError
from fermion.schema.attributes import AttributeMap, UserAttributeMap
from fermion.schema.batch import Batch
from fermion.schema.events import CommerceEvent, CustomEvent, Event, ScreenViewEvent
from fermion.schema.paths import child_path


@dataclass(frozen=True, slots=True)
class BatchLimits:
    """The limits one workspace applies; defaults are mParticle's."""

    max_events_per_batch: int = 1000
    max_event_name_length: int = 256
    max_attribute_name_length: int = 256
    max_attribute_value_length: int = 4096
    max_attributes_per_event: int = 100
    max_user_attributes: int = 100
    max_user_attribute_list_length: int = 1000
    max_user_attribute_list_entry_length: int = 512


def apply_limits(batch: Batch, limits: BatchLimits, path: str) -> bool:
    """Enforce ``limits`` on ``batch`` in place; return whether a name was truncated.

    ``path`` is the JSON path of the batch (``$``, or ``$[i]`` inside a bulk request).
    Raises ``BatchValidationError`` for a limit that rejects rather than truncates.
    """
    changed = False
    if batch.events:
        changed = _events(batch.events, limits, path)
    if batch.user_attributes:
        checked = _user_attributes(batch.user_attributes, limits, f"{path}.user_attributes")
        if checked is not batch.user_attributes:
            batch.user_attributes = checked
            changed = True
    return changed


def _events(events: list[Event], limits: BatchLimits, path: str) -> bool:
    """Check the events of a batch, truncating long names in place; return whether any was."""
    if len(events) > limits.max_events_per_batch:
        raise BatchValidationError(
            _too_many(
                "Batch has", len(events), "events", limits.max_events_per_batch, "max_events_per_batch"
            ),
            f"{path}.events",
        )
    changed = False
    max_name = limits.max_event_name_length
    max_attributes = limits.max_attributes_per_event
    max_attribute_name = limits.max_attribute_name_length
    max_value = limits.max_attribute_value_length
    for index, event in enumerate(events):
        if isinstance(event, CustomEvent):
            if len(event.data.event_name) > max_name:
                event.data.event_name = event.data.event_name[:max_name]
                changed = True
        elif isinstance(event, ScreenViewEvent):
            name = event.data.screen_name
            if name is not None and len(name) > max_name:
                event.data.screen_name = name[:max_name]
                changed = True
        elif isinstance(event, CommerceEvent):
            name = event.data.event_name
            if name is not None and len(name) > max_name:
                event.data.event_name = name[:max_name]
                changed = True
        attributes = event.data.custom_attributes
        if not attributes:
            continue
        # This runs for every event of every batch: scan inline for the common case of
        # attributes within limits, and leave truncating and explaining to _event_attributes.
        over = len(attributes) > max_attributes
        if not over:
            for name, value in attributes.items():
                if len(name) > max_attribute_name or (type(value) is str and len(value) > max_value):
                    over = True
                    break
        if over:
            event.data.custom_attributes = _event_attributes(attributes, limits, path, index)
            changed = True
    return changed


def _event_attributes(
    attributes: AttributeMap, limits: BatchLimits, batch_path: str, index: int
) -> AttributeMap:
    """Check the attributes of event ``index``; return them, or a copy with names truncated."""
    if len(attributes) > limits.max_attributes_per_event:
        raise BatchValidationError(
            _too_many(
                "Event has",
                len(attributes),
                "attributes",
                limits.max_attributes_per_event,
                "max_attributes_per_event",
            ),
            _attributes_path(batch_path, index),
        )
    max_name = limits.max_attribute_name_length
    max_value = limits.max_attribute_value_length
    long_name = False
    for name, value in attributes.items():
        if len(name) > max_name:
            long_name = True
        if type(value) is str and len(value) > max_value:
            raise BatchValidationError(
                _too_long("Attribute value", len(value), max_value, "max_attribute_value_length"),
                child_path(_attributes_path(batch_path, index), name),
            )
    if not long_name:
        return attributes
    return {name[:max_name]: value for name, value in attributes.items()}


def _user_attributes(attributes: UserAttributeMap, limits: BatchLimits, path: str) -> UserAttributeMap:
    """Check the batch's user attributes; return them, or a copy with names truncated."""
    if len(attributes) > limits.max_user_attributes:
        raise BatchValidationError(
            _too_many(
                "Batch has",
                len(attributes),
                "user attributes",
                limits.max_user_attributes,
                "max_user_attributes",
            ),
            path,
        )
    max_name = limits.max_attribute_name_length
    max_value = limits.max_attribute_value_length
    max_entries = limits.max_user_attribute_list_length
    max_entry = limits.max_user_attribute_list_entry_length
    long_name = False
    for name, value in attributes.items():
        if len(name) > max_name:
            long_name = True
        if type(value) is str:
            if len(value) > max_value:
                raise BatchValidationError(
                    _too_long("User attribute value", len(value), max_value, "max_attribute_value_length"),
                    child_path(path, name),
                )
        elif type(value) is list:
            if len(value) > max_entries:
                raise BatchValidationError(
                    _too_many(
                        "User attribute list has",
                        len(value),
                        "entries",
                        max_entries,
                        "max_user_attribute_list_length",
                    ),
                    child_path(path, name),
                )
            for position, entry in enumerate(value):
                if type(entry) is str and len(entry) > max_entry:
                    raise BatchValidationError(
                        _too_long(
                            "User attribute list entry",
                            len(entry),
                            max_entry,
                            "max_user_attribute_list_entry_length",
                        ),
                        f"{child_path(path, name)}[{position}]",
                    )
    if not long_name:
        return attributes
    return {name[:max_name]: value for name, value in attributes.items()}


def _attributes_path(batch_path: str, index: int) -> str:
    return f"{batch_path}.events[{index}].data.custom_attributes"


def _too_many(subject: str, actual: int, noun: str, limit: int, setting: str) -> str:
    return f"{subject} {actual} {noun}; the limit is {limit} ({setting})"


def _too_long(subject: str, actual: int, limit: int, setting: str) -> str:
    return f"{subject} is {actual} characters long; the limit is {limit} characters ({setting})"
