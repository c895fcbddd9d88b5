"""Tenancy: the first start's bootstrap, inputs and their secrets, and the errors of bad requests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import text

from fermion.errors import BadRequest, Forbidden, NotFound
from fermion.platform import PLATFORMS, InputCredentials, Tenancy
from fermion.runtime import Runtime
from tests.factories import basic_auth


def _header(key: str, secret: str) -> str:
    return basic_auth(key, secret)["Authorization"]


def test_bootstrap_creates_the_default_tenancy_once(runtime: Runtime) -> None:
    assert runtime.tenancy.is_empty()
    created = runtime.tenancy.bootstrap()
    assert created is not None and created.api_secret
    [workspace] = runtime.tenancy.list_workspaces()
    assert workspace.name == "Default Workspace"
    assert workspace.account_id > 0 and workspace.org_id > 0
    assert created.input.workspace_id == workspace.id
    assert (created.input.kind, created.input.platform) == ("platform", "server")
    assert runtime.tenancy.list_inputs() == [created.input]
    assert not runtime.tenancy.is_empty()

    assert runtime.tenancy.bootstrap() is None  # the secret was shown once; nothing new is created
    assert runtime.tenancy.list_workspaces() == [workspace]
    assert runtime.tenancy.list_inputs() == [created.input]


def test_secrets_are_stored_hashed(runtime: Runtime, credentials: InputCredentials) -> None:
    other = runtime.tenancy.create_input(credentials.input.workspace_id, "Web", platform="web")
    with runtime.engine.connect() as conn:
        stored = dict(conn.execute(text("SELECT api_key, secret_hash FROM inputs")).all())
    for created in (credentials, other):
        kept = stored[created.input.api_key]
        assert kept and kept != created.api_secret and created.api_secret not in kept
        assert created.input.secret_hash == kept
    assert credentials.api_secret != other.api_secret
    assert credentials.input.api_key != other.input.api_key


def test_credentials_authenticate_and_wrong_ones_do_not(
    runtime: Runtime, credentials: InputCredentials
) -> None:
    key, secret = credentials.input.api_key, credentials.api_secret
    assert runtime.authenticator.authenticate(_header(key, secret)) == credentials.input
    with pytest.raises(Forbidden):
        runtime.authenticator.authenticate(_header(key, secret + "x"))
    with pytest.raises(Forbidden):
        runtime.authenticator.authenticate(_header("0" * 32, secret))


def test_rotating_a_secret_retires_the_old_one(runtime: Runtime, credentials: InputCredentials) -> None:
    key, old = credentials.input.api_key, credentials.api_secret
    runtime.authenticator.authenticate(_header(key, old))  # now cached

    rotated = runtime.tenancy.rotate_secret(key)
    runtime.authenticator.forget(key)
    assert rotated.input.id == credentials.input.id and rotated.input.api_key == key
    assert rotated.api_secret != old
    assert rotated.input.secret_rotated_ms >= credentials.input.secret_rotated_ms
    with pytest.raises(Forbidden):
        runtime.authenticator.authenticate(_header(key, old))
    assert runtime.authenticator.authenticate(_header(key, rotated.api_secret)).id == credentials.input.id

    by_id = runtime.tenancy.rotate_secret(str(credentials.input.id))  # an input can be named by its id too
    runtime.authenticator.forget(key)
    with pytest.raises(Forbidden):
        runtime.authenticator.authenticate(_header(key, rotated.api_secret))
    assert runtime.authenticator.authenticate(_header(key, by_id.api_secret)).id == credentials.input.id


def test_rotating_an_unknown_input_is_not_found(runtime: Runtime, credentials: InputCredentials) -> None:
    with pytest.raises(NotFound):
        runtime.tenancy.rotate_secret("no-such-key")
    with pytest.raises(NotFound):
        runtime.tenancy.rotate_secret("9999")


def test_inputs_of_every_platform_and_feeds_can_be_created(
    runtime: Runtime, credentials: InputCredentials
) -> None:
    workspace_id = credentials.input.workspace_id
    for platform in PLATFORMS:
        created = runtime.tenancy.create_input(workspace_id, f"{platform} input", platform=platform)
        assert (created.input.kind, created.input.platform) == ("platform", platform)
    feed = runtime.tenancy.create_input(workspace_id, "  Partner Feed  ", kind="feed", platform="AnyPartner")
    assert (feed.input.kind, feed.input.platform, feed.input.name) == ("feed", "AnyPartner", "Partner Feed")
    assert runtime.tenancy.get_input(feed.input.id) == feed.input
    assert runtime.tenancy.find_input_by_key(feed.input.api_key) == feed.input
    assert len(runtime.tenancy.list_inputs(workspace_id)) == len(PLATFORMS) + 2


@pytest.mark.parametrize(
    ("name", "kind", "platform"),
    [
        ("Bad kind", "webhook", "server"),
        ("Bad platform", "platform", "Amiga"),
        ("Case matters", "platform", "ios"),
        ("", "platform", "server"),
        ("   ", "feed", "Partner"),
    ],
)
def test_invalid_inputs_are_refused(
    runtime: Runtime, credentials: InputCredentials, name: str, kind: str, platform: str
) -> None:
    before = runtime.tenancy.list_inputs()
    with pytest.raises(BadRequest) as error:
        runtime.tenancy.create_input(credentials.input.workspace_id, name, kind=kind, platform=platform)
    assert error.value.status == 400 and error.value.message
    assert runtime.tenancy.list_inputs() == before


@pytest.mark.parametrize(
    "create",
    [
        lambda tenancy, ws: tenancy.create_input(ws, "n" * 201),
        lambda tenancy, ws: tenancy.create_input(ws, "Feed", kind="feed", platform="p" * 41),
        lambda tenancy, ws: tenancy.create_workspace("w" * 201),
    ],
    ids=["input name over 200", "feed platform over 40", "workspace name over 200"],
)
def test_a_name_longer_than_the_store_keeps_is_a_bad_request(
    runtime: Runtime, credentials: InputCredentials, create: Callable[[Tenancy, int], object]
) -> None:
    """Names are kept in VARCHAR(200) and a feed's platform in VARCHAR(40): PostgreSQL refuses longer values
    with a DataError (a 500 at the API), SQLite silently keeps them, so the limit must be checked up front."""
    with pytest.raises(BadRequest):
        create(runtime.tenancy, credentials.input.workspace_id)


def test_an_input_of_an_unknown_workspace_is_not_found(
    runtime: Runtime, credentials: InputCredentials
) -> None:
    with pytest.raises(NotFound):
        runtime.tenancy.create_input(999, "Nowhere")


def test_workspaces_are_created_in_existing_accounts_only(
    runtime: Runtime, credentials: InputCredentials
) -> None:
    first = runtime.tenancy.get_workspace(credentials.input.workspace_id)
    second = runtime.tenancy.create_workspace("  Second  ", first.account_id)
    assert (second.name, second.account_id, second.org_id) == ("Second", first.account_id, first.org_id)
    default = runtime.tenancy.create_workspace("Third")  # no account given: the first one
    assert default.account_id == first.account_id
    assert [w.id for w in runtime.tenancy.list_workspaces()] == [first.id, second.id, default.id]

    with pytest.raises(NotFound):
        runtime.tenancy.create_workspace("Orphan", account_id=first.account_id + 1000)
    with pytest.raises(BadRequest):
        runtime.tenancy.create_workspace("   ")
    with pytest.raises(NotFound):
        runtime.tenancy.get_workspace(12345)
    assert len(runtime.tenancy.list_workspaces()) == 3


def test_create_workspace_on_an_empty_store_creates_the_default_account(runtime: Runtime) -> None:
    workspace = runtime.tenancy.create_workspace("Only")
    assert runtime.tenancy.list_workspaces() == [workspace]
    assert runtime.tenancy.bootstrap() is None  # not empty any more
