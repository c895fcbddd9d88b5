"""The IDSync rules: which profile a request means, under the workspace's strategy, and why.

Every function works on a loaded :class:`GraphView` and records each change as a :class:`Decision` with the
rule that made it, so that any link can be explained later.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from fermion.errors import BadRequest, NotFound
from fermion.identity.graph import Decision, GraphView, Identity
from fermion.identity.settings import IdentitySettings

NewMpid = Callable[[], int]


@dataclass(frozen=True)
class Outcome:
    """The profile a request resolved to."""

    mpid: int
    created: bool
    known: bool
    matched: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Change:
    """One ``identity_changes`` entry of a modify request (canonical type)."""

    identity_type: str
    old_value: str | None
    new_value: str | None


def is_known(view: GraphView, settings: IdentitySettings, mpid: int) -> bool:
    """A profile with at least one login ID is known; the others are anonymous."""
    return any(view.values(mpid, t) for t in settings.login_ids)


def _eligible(view: GraphView, settings: IdentitySettings, mpid: int, request: dict[str, str]) -> bool:
    if mpid in view.orphaned:
        return False
    logins = [(t, v) for t in settings.login_ids for v in view.values(mpid, t)]
    if not logins:
        return True
    # A known profile is only returned to a request carrying one of its login IDs.
    return any(request.get(t) == v for t, v in logins)


def lookup(view: GraphView, settings: IdentitySettings, request: dict[str, str]) -> int | None:
    """Walk the identity priority until one profile matches; lower priorities break ties."""
    order = [t for t in settings.priority if t in request]
    for position, identity_type in enumerate(order):
        candidates = {
            m
            for m in view.holders_of((identity_type, request[identity_type]))
            if _eligible(view, settings, m, request)
        }
        if not candidates:
            continue
        for lower in order[position + 1 :]:
            if len(candidates) == 1:
                break
            narrowed = {m for m in candidates if request[lower] in view.values(m, lower)}
            if narrowed:
                candidates = narrowed
        # Still tied: the most recently created profile.
        return max(candidates, key=lambda m: (view.created_ms.get(m, 0), m))
    return None


def _matched(view: GraphView, mpid: int, request: dict[str, str]) -> dict[str, str]:
    return {t: v for t, v in request.items() if v in view.values(mpid, t)}


def _create(view: GraphView, new_mpid: NewMpid, rule: str, cause: str, now_ms: int) -> int:
    mpid = new_mpid()
    view.create(mpid, now_ms)
    view.decisions.append(Decision(mpid, "created", rule, cause, at_ms=now_ms))
    return mpid


def attach(
    view: GraphView,
    settings: IdentitySettings,
    mpid: int,
    request: dict[str, str],
    cause: str,
    now_ms: int,
) -> None:
    """Add the request's identities the profile lacks, never taking a unique ID from another profile."""
    enforce = settings.strategy != "best_match"
    for identity_type, value in request.items():
        if value in view.values(mpid, identity_type):
            continue
        identity: Identity = (identity_type, value)
        if enforce and identity_type in settings.unique_ids:
            others = view.holders_of(identity) - {mpid}
            for orphan in sorted(others & view.orphaned):
                # An orphan is unreachable: its unique IDs go to the profile that claims them.
                view.unlink(identity, orphan)
                view.decisions.append(
                    Decision(
                        orphan,
                        "identity_moved",
                        f"{identity_type} is unique and this profile is orphaned",
                        cause,
                        identity_type,
                        value,
                        mpid,
                        now_ms,
                    )
                )
            others -= view.orphaned
            if others:
                view.decisions.append(
                    Decision(
                        mpid,
                        "identity_not_added",
                        f"{identity_type} is unique and held by another profile",
                        cause,
                        identity_type,
                        value,
                        min(others),
                        now_ms,
                    )
                )
                continue
        if enforce and identity_type in settings.immutable_ids and view.values(mpid, identity_type):
            view.decisions.append(
                Decision(
                    mpid,
                    "identity_not_added",
                    f"{identity_type} is immutable and already set",
                    cause,
                    identity_type,
                    value,
                    at_ms=now_ms,
                )
            )
            continue
        view.link(identity, mpid)
        rule = (
            "best match adds every identity sent"
            if not enforce
            else "identity sent with a request for this profile"
        )
        view.decisions.append(
            Decision(mpid, "identity_added", rule, cause, identity_type, value, at_ms=now_ms)
        )


def identify(
    view: GraphView,
    settings: IdentitySettings,
    request: dict[str, str],
    *,
    call: str,
    previous_mpid: int | None,
    new_mpid: NewMpid,
    cause: str,
    now_ms: int,
) -> Outcome:
    """``identify`` or ``login``: the profile the identities name, by strategy: converted, linked or new."""
    if not request:
        raise BadRequest("knownIdentities is empty.")
    strategy = settings.strategy
    found = lookup(view, settings, request)
    sent_logins = {t: v for t, v in request.items() if t in settings.login_ids}
    created = False
    if found is None and sent_logins and strategy in ("default", "profile_conversion"):
        # Profile conversion: a login ID nobody holds is added to the current anonymous profile.
        current = previous_mpid if previous_mpid is not None and view.exists(previous_mpid) else None
        if current is None:
            device_only = {t: v for t, v in request.items() if t not in settings.login_ids}
            current = lookup(view, settings, device_only) if device_only else None
        if current is not None and not is_known(view, settings, current) and current not in view.orphaned:
            found = current
    elif (
        found is not None
        and sent_logins
        and strategy in ("profile_link", "profile_isolation")
        and not is_known(view, settings, found)
    ):
        # Link and isolation keep anonymous profiles anonymous: a new known user gets a record of its own.
        source = found
        found = _create(
            view, new_mpid, f"{strategy}: a new login ID creates a new known profile", cause, now_ms
        )
        created = True
        if strategy == "profile_link":
            view.decisions.append(
                Decision(
                    found,
                    "linked_from",
                    "profile link: the anonymous profile this login came from",
                    cause,
                    other_mpid=source,
                    at_ms=now_ms,
                )
            )
    if found is None:
        found = _create(view, new_mpid, f"{call}: no profile matched the identities sent", cause, now_ms)
        created = True
    was_anonymous = not is_known(view, settings, found)
    attach(view, settings, found, request, cause, now_ms)
    if was_anonymous and not created and is_known(view, settings, found):
        view.decisions.append(
            Decision(
                found,
                "converted",
                f"{strategy}: the login ID made the anonymous profile known",
                cause,
                at_ms=now_ms,
            )
        )
    if call == "login":
        view.decisions.append(Decision(found, "login", f"login under {strategy}", cause, at_ms=now_ms))
    return Outcome(found, created, is_known(view, settings, found), _matched(view, found, request))


def logout(
    view: GraphView,
    settings: IdentitySettings,
    request: dict[str, str],
    *,
    new_mpid: NewMpid,
    cause: str,
    now_ms: int,
) -> Outcome:
    """``logout``: back to an anonymous profile for the device, per strategy."""
    if not request:
        raise BadRequest("knownIdentities is empty.")
    strategy = settings.strategy
    if strategy == "best_match":
        return identify(
            view,
            settings,
            request,
            call="identify",
            previous_mpid=None,
            new_mpid=new_mpid,
            cause=cause,
            now_ms=now_ms,
        )
    anonymous = {t: v for t, v in request.items() if t not in settings.login_ids}
    found = None if strategy == "profile_link" or not anonymous else lookup(view, settings, anonymous)
    created = False
    if found is None:
        rule = (
            "profile link: logout always starts a new anonymous profile"
            if strategy == "profile_link"
            else "logout: no anonymous profile for these device identities"
        )
        found = _create(view, new_mpid, rule, cause, now_ms)
        created = True
    attach(view, settings, found, anonymous, cause, now_ms)
    view.decisions.append(Decision(found, "logout", f"logout under {strategy}", cause, at_ms=now_ms))
    return Outcome(found, created, is_known(view, settings, found), _matched(view, found, request))


def search(view: GraphView, settings: IdentitySettings, request: dict[str, str]) -> Outcome:
    """``search``: the matching profile, never created; NotFound when none matches."""
    if not request:
        raise BadRequest("knownIdentities is empty.")
    found = lookup(view, settings, request)
    if found is None:
        raise NotFound("No profile matches the identities sent.")
    return Outcome(found, False, is_known(view, settings, found), _matched(view, found, request))


def modify(
    view: GraphView,
    settings: IdentitySettings,
    mpid: int,
    changes: list[Change],
    *,
    cause: str,
    now_ms: int,
) -> list[tuple[str, int]]:
    """``modify``: change a profile's identities; returns (type, profile that lost it) per moved ID."""
    if not view.exists(mpid):
        raise NotFound(f"No profile has MPID {mpid}.")
    if not changes:
        raise BadRequest("identity_changes is empty.")
    moved: list[tuple[str, int]] = []
    enforce = settings.strategy != "best_match"
    for change in changes:
        t = change.identity_type
        if enforce and t in settings.immutable_ids and view.values(mpid, t) and change.old_value is not None:
            raise BadRequest(f"{t} is an immutable identity: it cannot be changed once set.")
        if change.old_value is not None and change.old_value in view.values(mpid, t):
            view.unlink((t, change.old_value), mpid)
            view.decisions.append(
                Decision(
                    mpid,
                    "identity_removed",
                    "modify: old value removed",
                    cause,
                    t,
                    change.old_value,
                    at_ms=now_ms,
                )
            )
        if change.new_value is None:
            continue
        identity: Identity = (t, change.new_value)
        if enforce and t in settings.unique_ids:
            for other in sorted(view.holders_of(identity) - {mpid}):
                view.unlink(identity, other)
                moved.append((t, other))
                view.decisions.append(
                    Decision(
                        other,
                        "identity_moved",
                        f"{t} is unique: moved to the modified profile",
                        cause,
                        t,
                        change.new_value,
                        mpid,
                        now_ms,
                    )
                )
                if t in settings.login_ids and not is_known(view, settings, other):
                    view.orphan(other)
                    view.decisions.append(
                        Decision(
                            other,
                            "orphaned",
                            "lost its only login ID to another "
                            "profile; kept but no longer returned by IDSync",
                            cause,
                            at_ms=now_ms,
                        )
                    )
        if change.new_value not in view.values(mpid, t):
            view.link(identity, mpid)
            view.decisions.append(
                Decision(
                    mpid,
                    "identity_added",
                    "modify: new value added",
                    cause,
                    t,
                    change.new_value,
                    at_ms=now_ms,
                )
            )
    return moved
