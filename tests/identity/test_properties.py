"""Properties of the IDSync rules (spec core-apis §4.6–4.7), on the pure decisions over an in-memory graph.

Random sequences of identify, login, logout, search and modify over a small pool of customer IDs, emails and
device IDs, under every strategy. MPIDs come from a counter, so a sequence always decides the same way.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fermion.errors import NotFound
from fermion.identity import STRATEGIES, IdentitySettings, Outcome
from fermion.identity.decide import Change, identify, is_known, logout, modify, search
from fermion.identity.graph import GraphView, Identity

NOW_MS = 1_700_000_000_000
POOL = {
    "customer_id": ("c1", "c2"),
    "email": ("e1", "e2"),
    "ios_idfv": ("d1", "d2"),
}
MAX_MPID = 4  # previous_mpid and modify targets name one of the first profiles (or one that does not exist)


@dataclass(frozen=True)
class Step:
    """One IDSync request: ``identities`` for identify/login/logout/search, ``changes`` for modify."""

    call: str
    identities: dict[str, str] = field(default_factory=dict)
    mpid: int | None = None  # previous_mpid of identify/login; the profile a modify changes
    changes: tuple[tuple[str, str | None, str | None], ...] = ()

    def __repr__(self) -> str:
        if self.call == "modify":
            return f"modify({self.mpid}, {list(self.changes)})"
        previous = f", previous_mpid={self.mpid}" if self.mpid is not None else ""
        return f"{self.call}({self.identities}{previous})"


class Run:
    """A sequence of steps played on one fresh view."""

    def __init__(self, strategy: str) -> None:
        self.settings = IdentitySettings.for_strategy(strategy)
        self.view = GraphView(workspace_id=1)
        self.new_mpid = itertools.count(1).__next__
        self.outcomes: list[int | None] = []

    def play(self, step: Step) -> Outcome | None:
        """Apply one step; None when it was refused as not found (search, modify of an unknown MPID)."""
        view, rules, cause = self.view, self.settings, repr(step)
        try:
            if step.call in ("identify", "login"):
                outcome: Outcome | None = identify(
                    view,
                    rules,
                    dict(step.identities),
                    call=step.call,
                    previous_mpid=step.mpid,
                    new_mpid=self.new_mpid,
                    cause=cause,
                    now_ms=NOW_MS,
                )
            elif step.call == "logout":
                outcome = logout(
                    view, rules, dict(step.identities), new_mpid=self.new_mpid, cause=cause, now_ms=NOW_MS
                )
            elif step.call == "search":
                outcome = search(view, rules, dict(step.identities))
            else:
                assert step.mpid is not None
                changes = [Change(t, old, new) for t, old, new in step.changes]
                modify(view, rules, step.mpid, changes, cause=cause, now_ms=NOW_MS)
                outcome = None
        except NotFound:
            outcome = None
        self.outcomes.append(None if outcome is None else outcome.mpid)
        return outcome

    def links(self) -> dict[int, dict[str, set[str]]]:
        """Every profile's identities (empty types left out)."""
        return {
            mpid: {t: set(values) for t, values in self.view.identities.get(mpid, {}).items() if values}
            for mpid in self.view.created_ms
        }

    def login_ids(self, mpid: int) -> set[Identity]:
        return {(t, v) for t in self.settings.login_ids for v in self.view.values(mpid, t)}


# --- generators --------------------------------------------------------------------------------------------

identities = st.fixed_dictionaries({}, optional={t: st.sampled_from(v) for t, v in POOL.items()}).filter(bool)
mpids = st.integers(1, MAX_MPID)
change = (
    st.sampled_from(sorted(POOL))
    .flatmap(
        lambda t: st.tuples(
            st.just(t), st.none() | st.sampled_from(POOL[t]), st.none() | st.sampled_from(POOL[t])
        )
    )
    .filter(lambda c: c[1] is not None or c[2] is not None)
)
modify_steps = st.builds(
    Step, st.just("modify"), mpid=mpids, changes=st.lists(change, min_size=1, max_size=2).map(tuple)
)
steps = st.one_of(
    st.builds(Step, st.sampled_from(["identify", "login"]), identities, st.none() | mpids),
    st.builds(Step, st.just("logout"), identities),
    st.builds(Step, st.just("search"), identities),
    modify_steps,  # twice as likely: moving and orphaning need several modifies
    modify_steps,
)
# Long enough to log in, move a unique ID away and come back; hypothesis favours short lists otherwise.
sequences = st.lists(steps, min_size=6, max_size=16)

strategy_names = pytest.mark.parametrize("strategy", STRATEGIES)
checks = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# Found by these properties: an orphaned profile given a unique ID by modify keeps it, is never returned, and
# blocks every other profile from taking it, so each login with that ID creates one more empty profile.
ORPHAN_GIVEN_A_UNIQUE_ID = [
    Step("login", {"customer_id": "c1"}),  # profile 1
    Step("identify", {"ios_idfv": "d1"}),  # profile 2
    Step("modify", mpid=2, changes=(("customer_id", None, "c1"),)),  # c1 moves to 2: 1 is orphaned
    Step("modify", mpid=1, changes=(("customer_id", None, "c2"),)),  # the orphan takes c2
    Step("login", {"customer_id": "c2"}),  # a new profile, without c2; again on every repeat
]


def play_all(strategy: str, sequence: list[Step]) -> Run:
    run = Run(strategy)
    for step in sequence:
        run.play(step)
    return run


# --- properties --------------------------------------------------------------------------------------------


@strategy_names
@checks
@given(sequence=sequences)
def test_replaying_a_sequence_on_a_fresh_graph_gives_the_same_links(
    strategy: str, sequence: list[Step]
) -> None:
    first = play_all(strategy, sequence)
    second = play_all(strategy, sequence)
    assert second.outcomes == first.outcomes
    assert second.links() == first.links()
    assert second.view.orphaned == first.view.orphaned


def _logout_must_create(run: Run, step: Step) -> bool:
    # §4.7: profile link always starts a new anonymous profile at logout; the other strategies return to the
    # device's anonymous profile, which a logout carrying no device (non-login) identity cannot name.
    if step.call != "logout" or run.settings.strategy == "best_match":
        return False
    return run.settings.strategy == "profile_link" or not (set(step.identities) - run.settings.login_ids)


@strategy_names
@checks
@given(sequence=sequences)
@example(sequence=ORPHAN_GIVEN_A_UNIQUE_ID)
def test_repeating_a_request_immediately_changes_nothing(strategy: str, sequence: list[Step]) -> None:
    # Every step is the last request of its prefix: each is played twice, and the second must be a no-op.
    run = Run(strategy)
    view = run.view
    for number, step in enumerate(sequence):
        run.play(step)
        if _logout_must_create(run, step):
            continue
        before = (set(view.added), set(view.removed), dict(view.new_profiles), set(view.orphaned))
        run.play(step)
        after = (set(view.added), set(view.removed), dict(view.new_profiles), set(view.orphaned))
        assert after == before, f"repeating step {number} {step!r} changed the graph"
        assert run.outcomes[-1] == run.outcomes[-2], f"repeating step {number} {step!r} returned another MPID"


@pytest.mark.parametrize("strategy", [s for s in STRATEGIES if s != "best_match"])
@checks
@given(sequence=sequences)
def test_a_unique_id_is_held_by_one_reachable_profile_at_most(strategy: str, sequence: list[Step]) -> None:
    run = Run(strategy)
    for number, step in enumerate(sequence):
        run.play(step)
        for (identity_type, value), holders in run.view.holders.items():
            if identity_type in run.settings.unique_ids:
                reachable = holders - run.view.orphaned
                assert len(reachable) <= 1, (
                    f"after step {number} {step!r}: {identity_type}={value} held by {sorted(reachable)}"
                )


@strategy_names
@checks
@given(sequence=sequences)
def test_a_known_profile_is_returned_only_for_one_of_its_login_ids(
    strategy: str, sequence: list[Step]
) -> None:
    run = Run(strategy)
    for number, step in enumerate(sequence):
        before = {mpid: run.login_ids(mpid) for mpid in run.view.created_ms}
        outcome = run.play(step)
        if outcome is None:
            continue
        sent = set(step.identities.items())
        logins_before = before.get(outcome.mpid, set())
        assert not logins_before or sent & logins_before, (
            f"step {number} {step!r} returned known profile {outcome.mpid}, login IDs {sorted(logins_before)}"
        )
        logins_after = run.login_ids(outcome.mpid)
        assert not logins_after or sent & logins_after, (
            f"step {number} {step!r} returned profile {outcome.mpid} with login IDs {sorted(logins_after)}"
        )
        assert outcome.known == is_known(run.view, run.settings, outcome.mpid)
