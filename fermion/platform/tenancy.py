"""Orgs, accounts, workspaces and inputs, and the credentials inputs authenticate with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, Insert, delete, func, insert, select, update

from fermion.clock import Clock
from fermion.errors import BadRequest, NotFound
from fermion.ids import hash_secret, new_api_key, new_api_secret
from fermion.platform.tables import accounts, input_origins, inputs, orgs, workspaces

INPUT_KINDS = ("platform", "feed")
PLATFORMS = (
    "server",
    "web",
    "iOS",
    "Android",
    "tvOS",
    "Roku",
    "Alexa",
    "SmartTV",
    "FireTV",
    "Xbox",
    "MobileWeb",
    "segment",
)


@dataclass(frozen=True)
class Workspace:
    """A workspace: the unit data, profiles and configuration belong to."""

    id: int
    account_id: int
    org_id: int
    name: str
    created_ms: int


@dataclass(frozen=True)
class Input:
    """A source of data for a workspace (a platform input or a feed); its secret is never kept in clear."""

    id: int
    workspace_id: int
    kind: str
    platform: str
    name: str
    api_key: str
    created_ms: int
    secret_rotated_ms: int
    secret_hash: str


@dataclass(frozen=True)
class InputCredentials:
    """An input with its API secret, returned once: on creation and on rotation."""

    input: Input
    api_secret: str


MAX_NAME_LENGTH = 200
MAX_PLATFORM_LENGTH = 40


def _checked_name(what: str, value: str, limit: int = MAX_NAME_LENGTH) -> str:
    """``value`` without surrounding spaces; BadRequest when empty or longer than the store keeps."""
    value = value.strip()
    if not value:
        raise BadRequest(f"{what} must not be empty.")
    if len(value) > limit:
        raise BadRequest(f"{what} must be at most {limit} characters; it has {len(value)}.")
    return value


def _checked_origin(origin: str) -> str:
    """An origin as browsers send it: ``scheme://host[:port]``, lower case, no path."""
    value = origin.strip().rstrip("/").lower()
    scheme, sep, host = value.partition("://")
    if scheme not in ("http", "https") or not sep or not host or "/" in host or len(value) > 300:
        raise BadRequest(f"An origin is scheme://host[:port], like https://shop.example; not {origin!r}.")
    return value


def _new_id(conn: Connection, statement: Insert) -> int:
    key = conn.execute(statement).inserted_primary_key
    assert key is not None
    return int(key[0])


class Tenancy:
    """Creates and finds workspaces and inputs in the state store."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def is_empty(self) -> bool:
        """Whether no workspace exists yet (a first start)."""
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(workspaces)).scalar_one()) == 0

    def create_workspace(self, name: str, account_id: int | None = None) -> Workspace:
        """A new workspace in ``account_id`` (default: the first account, created with its org if missing)."""
        name = _checked_name("Workspace name", name)
        now = self._clock.now_ms()
        with self._engine.begin() as conn:
            if account_id is None:
                account_id = conn.execute(select(func.min(accounts.c.id))).scalar()
                if account_id is None:
                    org_id = _new_id(conn, insert(orgs).values(name="Default Org", created_ms=now))
                    account_id = _new_id(
                        conn, insert(accounts).values(org_id=org_id, name="Default Account", created_ms=now)
                    )
            elif conn.execute(select(accounts.c.id).where(accounts.c.id == account_id)).first() is None:
                raise NotFound(f"Account {account_id} does not exist.")
            new_id = _new_id(
                conn, insert(workspaces).values(account_id=account_id, name=name, created_ms=now)
            )
        return self.get_workspace(new_id)

    def get_workspace(self, workspace_id: int) -> Workspace:
        """The workspace ``workspace_id``, or NotFound."""
        for workspace in self._workspaces(workspaces.c.id == workspace_id):
            return workspace
        raise NotFound(f"Workspace {workspace_id} does not exist.")

    def list_workspaces(self) -> list[Workspace]:
        """Every workspace, oldest first."""
        return self._workspaces(None)

    def _workspaces(self, where: Any) -> list[Workspace]:
        query = select(
            workspaces.c.id,
            workspaces.c.account_id,
            accounts.c.org_id,
            workspaces.c.name,
            workspaces.c.created_ms,
        ).join(accounts, accounts.c.id == workspaces.c.account_id)
        if where is not None:
            query = query.where(where)
        with self._engine.connect() as conn:
            return [Workspace(*row) for row in conn.execute(query.order_by(workspaces.c.id))]

    def create_input(
        self, workspace_id: int, name: str, *, kind: str = "platform", platform: str = "server"
    ) -> InputCredentials:
        """A new input of ``workspace_id`` with fresh credentials; the secret is returned only here."""
        if kind not in INPUT_KINDS:
            raise BadRequest(f"Input kind must be one of {', '.join(INPUT_KINDS)}, not {kind!r}.")
        if kind == "platform" and platform not in PLATFORMS:
            raise BadRequest(f"Platform must be one of {', '.join(PLATFORMS)}, not {platform!r}.")
        name = _checked_name("Input name", name)
        platform = _checked_name("Platform", platform, MAX_PLATFORM_LENGTH)
        self.get_workspace(workspace_id)
        secret = new_api_secret()
        now = self._clock.now_ms()
        with self._engine.begin() as conn:
            new_id = _new_id(
                conn,
                insert(inputs).values(
                    workspace_id=workspace_id,
                    kind=kind,
                    platform=platform,
                    name=name,
                    api_key=new_api_key(),
                    secret_hash=hash_secret(secret),
                    created_ms=now,
                    secret_rotated_ms=now,
                ),
            )
        return InputCredentials(self.get_input(new_id), secret)

    def get_input(self, input_id: int) -> Input:
        """The input ``input_id``, or NotFound."""
        for found in self._inputs(inputs.c.id == input_id):
            return found
        raise NotFound(f"Input {input_id} does not exist.")

    def find_input_by_key(self, api_key: str) -> Input | None:
        """The input whose API key is ``api_key``, if any."""
        found = self._inputs(inputs.c.api_key == api_key)
        return found[0] if found else None

    def list_inputs(self, workspace_id: int | None = None) -> list[Input]:
        """Inputs of one workspace, or of all."""
        return self._inputs(None if workspace_id is None else inputs.c.workspace_id == workspace_id)

    def _inputs(self, where: Any) -> list[Input]:
        query = select(
            inputs.c.id,
            inputs.c.workspace_id,
            inputs.c.kind,
            inputs.c.platform,
            inputs.c.name,
            inputs.c.api_key,
            inputs.c.created_ms,
            inputs.c.secret_rotated_ms,
            inputs.c.secret_hash,
        )
        if where is not None:
            query = query.where(where)
        with self._engine.connect() as conn:
            return [Input(*row) for row in conn.execute(query.order_by(inputs.c.id))]

    def rotate_secret(self, key_or_id: str) -> InputCredentials:
        """Give an input (by API key or id) a new secret; the old one stops working at once."""
        found = self.find_input_by_key(key_or_id)
        if found is None and key_or_id.isdigit():
            found = self.get_input(int(key_or_id))
        if found is None:
            raise NotFound(f"No input has API key or id {key_or_id!r}.")
        secret = new_api_secret()
        with self._engine.begin() as conn:
            conn.execute(
                update(inputs)
                .where(inputs.c.id == found.id)
                .values(secret_hash=hash_secret(secret), secret_rotated_ms=self._clock.now_ms())
            )
        return InputCredentials(self.get_input(found.id), secret)

    def allowed_origins(self, input_id: int) -> tuple[str, ...]:
        """The origins a browser may use the input's key from; empty means any origin."""
        query = select(input_origins.c.origin).where(input_origins.c.input_id == input_id)
        with self._engine.connect() as conn:
            return tuple(sorted(str(o) for (o,) in conn.execute(query)))

    def set_allowed_origins(self, input_id: int, origins: list[str]) -> tuple[str, ...]:
        """Replace the input's allowed origins (``https://shop.example``, ``http://127.0.0.1:8000``); an empty
        list allows any origin again."""
        self.get_input(input_id)
        cleaned = sorted({_checked_origin(o) for o in origins})
        with self._engine.begin() as conn:
            conn.execute(delete(input_origins).where(input_origins.c.input_id == input_id))
            if cleaned:
                conn.execute(insert(input_origins), [{"input_id": input_id, "origin": o} for o in cleaned])
        return tuple(cleaned)

    def bootstrap(self) -> InputCredentials | None:
        """On an empty store, create the default org, account, workspace and server input.

        Returns the new input's credentials (to print once), or None when the store already had a workspace.
        """
        if not self.is_empty():
            return None
        workspace = self.create_workspace("Default Workspace")
        return self.create_input(workspace.id, "Default server input", kind="platform", platform="server")
