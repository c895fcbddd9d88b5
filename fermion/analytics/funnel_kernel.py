"""The per-user funnel state machine of spec §3.11, over one unit's events sorted by time.

Every step-1 event in the entry range starts an attempt. Inside an attempt each step takes the earliest event
that the order mode and the window allow. The unit's result is the attempt that reaches the furthest step;
at equal depth a clean attempt beats an excluded one, then the earliest attempt wins. An excluded best attempt
removes the unit from the funnel.
"""

from __future__ import annotations

from dataclasses import dataclass

INFINITE = float("inf")


@dataclass(frozen=True, slots=True)
class Ev:
    """One event of a unit: time, the steps and exclusions it matches, and its breakdown value."""

    ts: int
    steps: tuple[bool, ...]
    exclusions: tuple[bool, ...] = ()
    value: str | None = None


@dataclass(frozen=True)
class Rules:
    """The funnel's settings the kernel needs."""

    steps: int
    order: str  # sequential | flexible | ordered_allow_ties | strict | unordered
    entry_from: int
    entry_to: int
    window: str = "unlimited"  # unlimited | whole_funnel | per_step | entry_date_range
    window_ms: float = INFINITE
    per_step_ms: tuple[float, ...] = ()  # one per step after the first
    flexible_ms: int = 0
    exclusions: tuple[tuple[int, int], ...] = ()  # (from_step, to_step), 1-based


@dataclass(frozen=True)
class Outcome:
    """A unit's furthest step, the step times of its reported attempt, and whether it is excluded."""

    depth: int
    times: tuple[int, ...]
    excluded: bool = False


def _in_window(rules: Rules, first: int, previous: int, ts: int, step: int) -> bool:
    if rules.window == "whole_funnel":
        return ts - first <= rules.window_ms
    if rules.window == "per_step":
        return ts - previous <= rules.per_step_ms[step - 2]
    if rules.window == "entry_date_range":
        return ts < rules.entry_to
    return True


def _order_ok(rules: Rules, events: list[Ev], previous: int, j: int, chain: list[int]) -> bool:
    if j in chain:
        return False
    ts, prev_ts = events[j].ts, events[previous].ts
    if rules.order == "sequential":
        return ts > prev_ts
    if rules.order == "ordered_allow_ties":
        return ts >= prev_ts
    if rules.order == "flexible":
        return ts >= prev_ts - rules.flexible_ms
    return j == previous + 1  # strict: the very next event of the unit


def _attempt(rules: Rules, events: list[Ev], start: int) -> Outcome:
    chain = [start]
    first = events[start].ts
    for step in range(2, rules.steps + 1):
        previous = chain[-1]
        prev_ts = events[previous].ts
        found = None
        if rules.order == "strict":
            candidates: range = range(previous + 1, min(previous + 2, len(events)))
        elif rules.order == "flexible":
            candidates = range(len(events))
        else:
            candidates = range(previous + 1 if rules.order == "sequential" else 0, len(events))
        for j in candidates:
            event = events[j]
            if not event.steps[step - 1] or not _order_ok(rules, events, previous, j, chain):
                continue
            if _in_window(rules, first, prev_ts, event.ts, step):
                found = j
            break
        guards = [i for i, (low, high) in enumerate(rules.exclusions) if low < step <= high]
        if guards:
            limit = events[found].ts if found is not None else None
            for event in events:
                if event.ts <= prev_ts or not any(event.exclusions[i] for i in guards):
                    continue
                if limit is not None and event.ts >= limit:
                    break
                if limit is None and not _in_window(rules, first, prev_ts, event.ts, step):
                    continue
                return Outcome(len(chain), tuple(events[i].ts for i in chain), excluded=True)
        if found is None:
            break
        chain.append(found)
    return Outcome(len(chain), tuple(events[i].ts for i in chain))


def _unordered(rules: Rules, events: list[Ev]) -> Outcome | None:
    window = rules.window_ms if rules.window == "whole_funnel" else INFINITE
    best = 0
    entered = False
    for i, event in enumerate(events):
        if event.ts < rules.entry_from or not any(event.steps):
            continue
        if event.ts < rules.entry_to:
            entered = True
        if rules.window == "entry_date_range" and event.ts >= rules.entry_to:
            continue
        done: set[int] = set()
        for other in events[: i + 1]:
            if other.ts >= rules.entry_from and event.ts - other.ts <= window:
                done.update(k for k, hit in enumerate(other.steps) if hit)
        best = max(best, len(done))
    return Outcome(best, ()) if entered else None


def evaluate_unit(rules: Rules, events: list[Ev]) -> Outcome | None:
    """The unit's outcome, or ``None`` when it did not enter the funnel (no step-1 event in range)."""
    if rules.order == "unordered":
        return _unordered(rules, events)
    best: Outcome | None = None
    for start, event in enumerate(events):
        if not event.steps[0] or not rules.entry_from <= event.ts < rules.entry_to:
            continue
        outcome = _attempt(rules, events, start)
        if best is None or (outcome.depth, not outcome.excluded) > (best.depth, not best.excluded):
            best = outcome
        if best.depth == rules.steps and not best.excluded:
            break
    return best
