"""The plans of each workspace: create, read, change and delete plans and versions (spec §1.8 semantics).

Every write checks the whole document first (``model.parse_*``), so a stored version always compiles.
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import Connection, Engine, Row, delete, func, insert, select, update

from fermion.clock import Clock
from fermion.errors import BadRequest, NotFound
from fermion.plans.model import (
    Blocking,
    DataPlan,
    PlanVersion,
    parse_blocking,
    parse_document,
    parse_environment,
    parse_version_number,
)
from fermion.plans.tables import data_plan_versions, data_plans, input_data_plans
from fermion.store import reading

_SLUG = re.compile(r"[^a-z0-9]+")
_PLAN_FIELDS = {"data_plan_id", "data_plan_name", "data_plan_description", "data_plan_versions"}
_SERVER_FIELDS = {"created_on", "created_by", "last_modified_on", "last_modified_by"}


def slug_of(name: str) -> str:
    """The URL-safe plan ID mParticle derives from a plan's first name."""
    slug = _SLUG.sub("_", name.lower()).strip("_")
    if not slug:
        raise BadRequest("data_plan_name: must contain at least one letter or digit")
    return slug[:200]


def plan_not_found(workspace_id: int, plan_id: str) -> NotFound:
    """The 404 of an unknown plan, in mParticle's words."""
    return NotFound(f"The specified plan ID {plan_id} in workspace {workspace_id} was not found.")


def version_not_found(workspace_id: int, plan_id: str, version: int) -> NotFound:
    """The 404 of an unknown version, in mParticle's words."""
    return NotFound(
        f"The specified version {version} in plan ID {plan_id} was not found in workspace {workspace_id}."
    )


def _version(row: Row[Any], with_points: bool = True) -> PlanVersion:
    document = json.loads(row.document)
    return PlanVersion(
        workspace_id=row.workspace_id,
        data_plan_id=row.data_plan_id,
        version=row.version,
        description=row.description,
        activated_environment=row.activated_environment,
        document=document,
        blocking=Blocking(**json.loads(row.blocking)),
        created_ms=row.created_ms,
        created_by=row.created_by,
        modified_ms=row.modified_ms,
        modified_by=row.modified_by,
        data_points=parse_document(document) if with_points else (),
    )


class PlanCatalog:
    """Plans and versions in the state store."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    # ---- reads ----

    def list_plans(self, workspace_id: int) -> list[DataPlan]:
        """Every plan of a workspace with its versions' metadata (documents included, points not parsed)."""
        with reading(self._engine) as conn:
            plans = conn.execute(
                select(data_plans)
                .where(data_plans.c.workspace_id == workspace_id)
                .order_by(data_plans.c.data_plan_id)
            ).all()
            versions = conn.execute(
                select(data_plan_versions)
                .where(data_plan_versions.c.workspace_id == workspace_id)
                .order_by(data_plan_versions.c.data_plan_id, data_plan_versions.c.version)
            ).all()
        by_plan: dict[str, list[PlanVersion]] = {}
        for row in versions:
            by_plan.setdefault(row.data_plan_id, []).append(_version(row, with_points=False))
        return [self._plan(row, by_plan.get(row.data_plan_id, [])) for row in plans]

    def get_plan(self, workspace_id: int, plan_id: str) -> DataPlan:
        """One plan with all its versions; ``NotFound`` in mParticle's words."""
        with reading(self._engine) as conn:
            return self._load_plan(conn, workspace_id, plan_id)

    def get_version(self, workspace_id: int, plan_id: str, version: int) -> PlanVersion:
        """One version with its parsed data points."""
        with reading(self._engine) as conn:
            return self._load_version(conn, workspace_id, plan_id, version)

    def versions_signature(self, conn: Connection, workspace_id: int) -> list[tuple[Any, ...]]:
        """What identifies the current state of a workspace's versions, cheaply (for caches)."""
        c = data_plan_versions.c
        query = select(
            c.data_plan_id,
            c.version,
            c.activated_environment,
            c.modified_ms,
            func.length(c.document),
            c.blocking,
        )
        return [tuple(r) for r in conn.execute(query.where(c.workspace_id == workspace_id))]

    def load_version(self, conn: Connection, workspace_id: int, plan_id: str, version: int) -> PlanVersion:
        """One version, inside the caller's connection."""
        return self._load_version(conn, workspace_id, plan_id, version)

    def input_defaults(self, conn: Connection, workspace_id: int) -> dict[int, tuple[str, int | None]]:
        """Each input's default plan (and pinned version, if any)."""
        c = input_data_plans.c
        rows = conn.execute(
            select(c.input_id, c.data_plan_id, c.version).where(c.workspace_id == workspace_id)
        )
        return {r.input_id: (r.data_plan_id, r.version) for r in rows}

    def input_default(self, workspace_id: int, input_id: int) -> tuple[str, int | None] | None:
        """The default plan of one input, if it has one."""
        with reading(self._engine) as conn:
            return self.input_defaults(conn, workspace_id).get(input_id)

    def sdk_data_plan(
        self, workspace_id: int, plan_id: str, version: int | None, environment: str
    ) -> dict[str, Any]:
        """The Web SDK's ``dataPlanResult``: the version the SDK should block by, or an ``error_message``."""
        try:
            plan = self.get_plan(workspace_id, plan_id)
        except NotFound as error:
            return {"error_message": error.message}
        if version is None:
            active = [v for v in plan.versions if v.active_in(environment)]
            if not active:
                return {"error_message": f"No version of plan {plan_id} is active in {environment}."}
            version = max(v.version for v in active)
        try:
            found = self.get_version(workspace_id, plan_id, version)
        except NotFound as error:
            return {"error_message": error.message}
        blocking = found.blocking
        return {
            "dtpn": {
                "vers": {
                    "version": found.version,
                    "data_plan_id": plan_id,
                    "version_document": found.document,
                },
                "blok": {
                    "ev": blocking.events,
                    "ea": blocking.event_attributes,
                    "ua": blocking.user_attributes,
                    "id": blocking.user_identities,
                },
            }
        }

    # ---- writes ----

    def create_plan(self, workspace_id: int, body: dict[str, Any], actor: str) -> DataPlan:
        """A new plan from mParticle's DataPlan JSON, optionally with embedded versions."""
        unknown = set(body) - _PLAN_FIELDS - _SERVER_FIELDS
        if unknown:
            raise BadRequest(f"{sorted(unknown)[0]}: unknown field of a data plan")
        name = body.get("data_plan_name")
        if not isinstance(name, str) or not name.strip():
            raise BadRequest("data_plan_name: required, a non-empty string")
        plan_id = body.get("data_plan_id") or slug_of(name)
        if not isinstance(plan_id, str) or slug_of(plan_id) != plan_id:
            raise BadRequest("data_plan_id: must be lowercase letters, digits and underscores")
        description = body.get("data_plan_description") or ""
        if not isinstance(description, str):
            raise BadRequest("data_plan_description: must be a string")
        versions = body.get("data_plan_versions") or []
        if not isinstance(versions, list):
            raise BadRequest("data_plan_versions: must be an array")
        parsed = [self._parse_version(v, f"data_plan_versions[{i}]", i + 1) for i, v in enumerate(versions)]
        now = self._clock.now_ms()
        with self._engine.begin() as conn:
            if self._plan_row(conn, workspace_id, plan_id) is not None:
                raise BadRequest(
                    f"data_plan_id: a plan {plan_id} already exists in workspace {workspace_id}."
                )
            conn.execute(
                insert(data_plans).values(
                    workspace_id=workspace_id,
                    data_plan_id=plan_id,
                    name=name.strip(),
                    description=description,
                    created_ms=now,
                    created_by=actor,
                    modified_ms=now,
                    modified_by=actor,
                )
            )
            seen: set[int] = set()
            for index, values in enumerate(parsed):
                if values["version"] in seen:
                    raise BadRequest(
                        f"data_plan_versions[{index}].version: {values['version']} appears twice"
                    )
                seen.add(values["version"])
                self._insert_version(conn, workspace_id, plan_id, values, actor, now)
            return self._load_plan(conn, workspace_id, plan_id)

    def update_plan(self, workspace_id: int, plan_id: str, body: dict[str, Any], actor: str) -> DataPlan:
        """Rename or re-describe a plan; its ID never changes."""
        changes: dict[str, Any] = {}
        for key in body:
            if key not in ("data_plan_name", "data_plan_description") and key not in _SERVER_FIELDS | {
                "data_plan_id"
            }:
                raise BadRequest(f"{key}: cannot be changed with PATCH on a plan")
        if "data_plan_id" in body and body["data_plan_id"] != plan_id:
            raise BadRequest("data_plan_id: a plan's ID never changes")
        if "data_plan_name" in body:
            name = body["data_plan_name"]
            if not isinstance(name, str) or not name.strip():
                raise BadRequest("data_plan_name: must be a non-empty string")
            changes["name"] = name.strip()
        if "data_plan_description" in body:
            if not isinstance(body["data_plan_description"], str | None):
                raise BadRequest("data_plan_description: must be a string")
            changes["description"] = body["data_plan_description"] or ""
        with self._engine.begin() as conn:
            if self._plan_row(conn, workspace_id, plan_id) is None:
                raise plan_not_found(workspace_id, plan_id)
            conn.execute(
                update(data_plans)
                .where(data_plans.c.workspace_id == workspace_id, data_plans.c.data_plan_id == plan_id)
                .values(**changes, modified_ms=self._clock.now_ms(), modified_by=actor)
            )
            return self._load_plan(conn, workspace_id, plan_id)

    def delete_plan(self, workspace_id: int, plan_id: str) -> None:
        """Delete a plan and all its versions."""
        with self._engine.begin() as conn:
            if self._plan_row(conn, workspace_id, plan_id) is None:
                raise plan_not_found(workspace_id, plan_id)
            v = data_plan_versions.c
            conn.execute(
                delete(data_plan_versions).where(v.workspace_id == workspace_id, v.data_plan_id == plan_id)
            )
            conn.execute(
                delete(data_plans).where(
                    data_plans.c.workspace_id == workspace_id, data_plans.c.data_plan_id == plan_id
                )
            )

    def create_version(
        self, workspace_id: int, plan_id: str, body: dict[str, Any], actor: str
    ) -> PlanVersion:
        """A new version; without ``version`` it takes the next number."""
        with self._engine.begin() as conn:
            if self._plan_row(conn, workspace_id, plan_id) is None:
                raise plan_not_found(workspace_id, plan_id)
            v = data_plan_versions.c
            latest = conn.execute(
                select(func.max(v.version)).where(v.workspace_id == workspace_id, v.data_plan_id == plan_id)
            ).scalar()
            values = self._parse_version(body, "", (latest or 0) + 1)
            if self._version_row(conn, workspace_id, plan_id, values["version"]) is not None:
                raise BadRequest(f"version: version {values['version']} of plan {plan_id} already exists")
            self._insert_version(conn, workspace_id, plan_id, values, actor, self._clock.now_ms())
            self._touch(conn, workspace_id, plan_id, actor)
            return self._load_version(conn, workspace_id, plan_id, values["version"])

    def update_version(
        self, workspace_id: int, plan_id: str, version: int, body: dict[str, Any], actor: str
    ) -> PlanVersion:
        """Change a version's description, activation, document or blocking."""
        allowed = {
            "version_description",
            "activated_environment",
            "version_document",
            "blocking",
            "version",
            "data_plan_id",
        }
        for key in body:
            if key not in allowed and key not in _SERVER_FIELDS:
                raise BadRequest(f"{key}: unknown field of a data plan version")
        if body.get("version", version) != version:
            raise BadRequest("version: a version's number never changes")
        with self._engine.begin() as conn:
            current = self._load_version(conn, workspace_id, plan_id, version)
            document = body.get("version_document", current.document)
            parse_document(document)
            changes: dict[str, Any] = {"document": json.dumps(document)}
            if "version_description" in body:
                description = body["version_description"]
                if not isinstance(description, str | None):
                    raise BadRequest("version_description: must be a string")
                changes["description"] = description or ""
            if "activated_environment" in body:
                changes["activated_environment"] = parse_environment(body["activated_environment"])
            if body.get("blocking") is not None:
                blocking = parse_blocking(body["blocking"], document)
            elif "version_document" in body and _has_actions(document):
                blocking = parse_blocking(None, document)
            else:
                blocking = current.blocking
            changes["blocking"] = json.dumps(blocking.to_json())
            v = data_plan_versions.c
            conn.execute(
                update(data_plan_versions)
                .where(v.workspace_id == workspace_id, v.data_plan_id == plan_id, v.version == version)
                .values(**changes, modified_ms=self._clock.now_ms(), modified_by=actor)
            )
            self._touch(conn, workspace_id, plan_id, actor)
            return self._load_version(conn, workspace_id, plan_id, version)

    def delete_version(self, workspace_id: int, plan_id: str, version: int) -> None:
        """Delete a version, refused for the last one and for one active in production (spec §1.8)."""
        with self._engine.begin() as conn:
            current = self._load_version(conn, workspace_id, plan_id, version)
            v = data_plan_versions.c
            count = conn.execute(
                select(func.count()).where(v.workspace_id == workspace_id, v.data_plan_id == plan_id)
            ).scalar_one()
            if count <= 1:
                raise BadRequest(
                    "Unable to delete plan version - plans must contain at least one plan version."
                )
            if current.activated_environment == "production":
                raise BadRequest(
                    "Unable to delete plan version - this version is active in prod and cannot be deleted."
                )
            conn.execute(
                delete(data_plan_versions).where(
                    v.workspace_id == workspace_id, v.data_plan_id == plan_id, v.version == version
                )
            )

    def set_input_default(
        self, workspace_id: int, input_id: int, plan_id: str | None, version: int | None
    ) -> None:
        """Make ``plan_id`` (pinned to ``version``, if given) the plan of an input's batches that name none.

        ``None`` removes the default.
        """
        with self._engine.begin() as conn:
            conn.execute(delete(input_data_plans).where(input_data_plans.c.input_id == input_id))
            if plan_id is None:
                return
            if self._plan_row(conn, workspace_id, plan_id) is None:
                raise plan_not_found(workspace_id, plan_id)
            if version is not None:
                self._load_version(conn, workspace_id, plan_id, version)
            conn.execute(
                insert(input_data_plans).values(
                    input_id=input_id, workspace_id=workspace_id, data_plan_id=plan_id, version=version
                )
            )

    # ---- internals ----

    def _parse_version(self, body: object, path: str, default_version: int) -> dict[str, Any]:
        prefix = f"{path}." if path else ""
        if not isinstance(body, dict):
            raise BadRequest(f"{path or 'body'}: a data plan version must be an object")
        document = body.get("version_document", {"data_points": []})
        parse_document(document, f"{prefix}version_document")
        version = body.get("version", default_version)
        description = body.get("version_description") or ""
        if not isinstance(description, str):
            raise BadRequest(f"{prefix}version_description: must be a string")
        return {
            "version": parse_version_number(version, f"{prefix}version"),
            "description": description,
            "activated_environment": parse_environment(
                body.get("activated_environment"), f"{prefix}activated_environment"
            ),
            "document": document,
            "blocking": parse_blocking(body.get("blocking"), document, f"{prefix}blocking"),
        }

    def _insert_version(
        self, conn: Connection, workspace_id: int, plan_id: str, values: dict[str, Any], actor: str, now: int
    ) -> None:
        conn.execute(
            insert(data_plan_versions).values(
                workspace_id=workspace_id,
                data_plan_id=plan_id,
                version=values["version"],
                description=values["description"],
                activated_environment=values["activated_environment"],
                document=json.dumps(values["document"]),
                blocking=json.dumps(values["blocking"].to_json()),
                created_ms=now,
                created_by=actor,
                modified_ms=now,
                modified_by=actor,
            )
        )

    def _touch(self, conn: Connection, workspace_id: int, plan_id: str, actor: str) -> None:
        conn.execute(
            update(data_plans)
            .where(data_plans.c.workspace_id == workspace_id, data_plans.c.data_plan_id == plan_id)
            .values(modified_ms=self._clock.now_ms(), modified_by=actor)
        )

    def _plan_row(self, conn: Connection, workspace_id: int, plan_id: str) -> Row[Any] | None:
        c = data_plans.c
        return conn.execute(
            select(data_plans).where(c.workspace_id == workspace_id, c.data_plan_id == plan_id)
        ).first()

    def _version_row(
        self, conn: Connection, workspace_id: int, plan_id: str, version: int
    ) -> Row[Any] | None:
        c = data_plan_versions.c
        return conn.execute(
            select(data_plan_versions).where(
                c.workspace_id == workspace_id, c.data_plan_id == plan_id, c.version == version
            )
        ).first()

    def _load_version(self, conn: Connection, workspace_id: int, plan_id: str, version: int) -> PlanVersion:
        row = self._version_row(conn, workspace_id, plan_id, version)
        if row is None:
            if self._plan_row(conn, workspace_id, plan_id) is None:
                raise plan_not_found(workspace_id, plan_id)
            raise version_not_found(workspace_id, plan_id, version)
        return _version(row)

    def _load_plan(self, conn: Connection, workspace_id: int, plan_id: str) -> DataPlan:
        row = self._plan_row(conn, workspace_id, plan_id)
        if row is None:
            raise plan_not_found(workspace_id, plan_id)
        c = data_plan_versions.c
        versions = conn.execute(
            select(data_plan_versions)
            .where(c.workspace_id == workspace_id, c.data_plan_id == plan_id)
            .order_by(c.version)
        ).all()
        return self._plan(row, [_version(v, with_points=False) for v in versions])

    @staticmethod
    def _plan(row: Row[Any], versions: list[PlanVersion]) -> DataPlan:
        return DataPlan(
            workspace_id=row.workspace_id,
            data_plan_id=row.data_plan_id,
            name=row.name,
            description=row.description,
            created_ms=row.created_ms,
            created_by=row.created_by,
            modified_ms=row.modified_ms,
            modified_by=row.modified_by,
            versions=tuple(versions),
        )


def _has_actions(document: dict[str, Any]) -> bool:
    return bool((document.get("settings") or {}).get("validation_actions"))
