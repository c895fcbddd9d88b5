"""A local Klaviyo: the endpoints Fermion uses, as spec activation §5.3 documents them.

Lists (find by name, create), list relationships (add, remove, read), bulk profile import jobs with
statuses and import errors, profile search by email, subscription jobs, events and data-privacy deletion
jobs (every profile matching the one identifier given is deleted and leaves its lists). It checks the
private-key header and the ``revision`` header, and can be told to fail: ``fail_with(503)`` (every call
until ``recover()``), ``fail_next(n, 429, retry_after="30")``, ``reject_emails`` (a 400 naming those
profiles by pointer), ``import_errors`` (the job completes without them and lists them as import errors),
``pending_polls`` (job status polls answered ``processing`` first).
"""

from __future__ import annotations

import re
import threading
import uuid
from typing import Any

from tests.fakes.server import LocalServer, Reply

_DELETE_KEYS = ("email", "phone_number", "id")
_EMAILS = re.compile(r'"([^"]+)"|\'([^\']+)\'')


def _error(status: int, detail: str, pointer: str | None = None) -> Reply:
    error: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "code": "invalid",
        "title": "Invalid input.",
        "detail": detail,
    }
    if pointer:
        error["source"] = {"pointer": pointer}
    return status, {}, {"errors": [error]}


class FakeKlaviyo:
    """The fake's state is readable from tests: ``lists``, ``profiles``, ``requests``, ``events``."""

    def __init__(self, private_key: str = "pk_test") -> None:
        self.private_key = private_key
        self.lists: dict[str, dict[str, Any]] = {}
        self.profiles: dict[str, dict[str, Any]] = {}
        self._by_email: dict[str, str] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.subscriptions: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.deletions: list[dict[str, str]] = []
        self.requests: list[tuple[str, str]] = []
        self.reject_emails: dict[str, str] = {}
        self.import_errors: dict[str, str] = {}
        self.pending_polls = 0
        self._fail: tuple[int, int | None, str | None] | None = None
        self._lock = threading.Lock()
        self.server = LocalServer(self._handle)
        self.url = self.server.url

    # -- controls -------------------------------------------------------------------------------------
    def fail_with(self, status: int, retry_after: str | None = None) -> None:
        with self._lock:
            self._fail = (status, None, retry_after)

    def fail_next(self, count: int, status: int, retry_after: str | None = None) -> None:
        with self._lock:
            self._fail = (status, count, retry_after)

    def recover(self) -> None:
        with self._lock:
            self._fail = None

    def start(self) -> FakeKlaviyo:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    # -- reading state --------------------------------------------------------------------------------
    def list_named(self, name: str) -> dict[str, Any] | None:
        return next((item for item in self.lists.values() if item["name"] == name), None)

    def members(self, name: str) -> list[dict[str, Any]]:
        """The profiles on the list called ``name`` (attributes with ``id``)."""
        found = self.list_named(name)
        return [] if found is None else [{"id": p, **self.profiles[p]} for p in sorted(found["profiles"])]

    def profile(self, email: str) -> dict[str, Any] | None:
        return next((p for p in self.profiles.values() if p.get("email") == email), None)

    # -- the API --------------------------------------------------------------------------------------
    def _handle(
        self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], body: Any
    ) -> Reply:
        with self._lock:
            self.requests.append((method, path))
            if self._fail is not None:
                status, remaining, retry_after = self._fail
                if remaining is not None:
                    self._fail = (status, remaining - 1, retry_after) if remaining > 1 else None
                extra = {"Retry-After": retry_after} if retry_after else {}
                return status, extra, {"errors": [{"id": "x", "status": status, "title": "told to fail"}]}
            if headers.get("authorization") != f"Klaviyo-API-Key {self.private_key}":
                return _error(401, "Missing or invalid private key.")
            if not headers.get("revision"):
                return _error(400, "The revision header is required.")
            return self._route(method, path, query, body)

    def _route(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> Reply:
        parts = path.strip("/").split("/")
        if parts[:2] != ["api", parts[1] if len(parts) > 1 else ""] or len(parts) < 2:
            return _error(404, "not found")
        resource = parts[1]
        if resource == "lists" and len(parts) == 2:
            return self._lists(method, query, body)
        if resource == "lists" and parts[3:] == ["relationships", "profiles"] and parts[2] in self.lists:
            return self._relationships(method, parts[2], body)
        if resource == "profile-bulk-import-jobs" and method == "POST" and len(parts) == 2:
            return self._import(body)
        if resource == "profile-bulk-import-jobs" and len(parts) == 3 and parts[2] in self.jobs:
            return self._job(parts[2])
        if (
            resource == "profile-bulk-import-jobs"
            and parts[3:] == ["import-errors"]
            and parts[2] in self.jobs
        ):
            errors = self.jobs[parts[2]]["errors"]
            return (
                200,
                {},
                {
                    "data": [
                        {"type": "import-error", "id": str(i), "attributes": e} for i, e in enumerate(errors)
                    ],
                    "links": {"next": None},
                },
            )
        if resource == "profiles" and method == "GET":
            text = (query.get("filter") or [""])[0]
            emails = {a or b for a, b in _EMAILS.findall(text)}
            found = [
                {"type": "profile", "id": pid, "attributes": p}
                for pid, p in self.profiles.items()
                if p.get("email") in emails
            ]
            return 200, {}, {"data": found[:100], "links": {"next": None}}
        if resource == "profile-subscription-bulk-create-jobs" and method == "POST":
            self.subscriptions.append(body)
            return 202, {}, None
        if resource == "data-privacy-deletion-jobs" and method == "POST":
            return self._delete_profiles(body)
        if resource == "events" and method == "POST":
            attributes = body["data"]["attributes"]
            if not (attributes.get("profile", {}).get("data", {}).get("attributes")):
                return _error(400, "a profile identifier is required", "/data/attributes/profile")
            self.events.append(attributes)
            return 202, {}, None
        return _error(404, f"no route {method} {path}")

    def _lists(self, method: str, query: dict[str, list[str]], body: Any) -> Reply:
        if method == "GET":
            text = (query.get("filter") or [""])[0]
            names = {a or b for a, b in _EMAILS.findall(text)}
            data = [
                {"type": "list", "id": i, "attributes": {"name": item["name"]}}
                for i, item in self.lists.items()
                if not names or item["name"] in names
            ]
            return 200, {}, {"data": data}
        name = body["data"]["attributes"]["name"]
        list_id = uuid.uuid4().hex[:6]
        self.lists[list_id] = {"name": name, "profiles": set()}
        return 201, {}, {"data": {"type": "list", "id": list_id, "attributes": {"name": name}}}

    def _relationships(self, method: str, list_id: str, body: Any) -> Reply:
        members = self.lists[list_id]["profiles"]
        if method == "GET":
            return 200, {}, {"data": [{"type": "profile", "id": p} for p in sorted(members)]}
        ids = [item["id"] for item in body["data"]]
        if len(ids) > 1000:
            return _error(400, "at most 1000 profiles per call", "/data")
        if method == "POST":
            members.update(i for i in ids if i in self.profiles)
        else:
            members.difference_update(ids)
        return 204, {}, None

    def _import(self, body: Any) -> Reply:
        attributes = body["data"]["attributes"]
        profiles = attributes["profiles"]["data"]
        if len(profiles) > 10_000:
            return _error(400, "at most 10,000 profiles per job", "/data/attributes/profiles/data")
        rejected = []
        for index, profile in enumerate(profiles):
            email = profile["attributes"].get("email")
            if email in self.reject_emails:
                rejected.append((index, self.reject_emails[email]))
        if rejected:
            errors = [
                {
                    "id": uuid.uuid4().hex,
                    "code": "invalid",
                    "title": "Invalid input.",
                    "detail": detail,
                    "source": {"pointer": f"/data/attributes/profiles/data/{index}/attributes/email"},
                }
                for index, detail in rejected
            ]
            return 400, {}, {"errors": errors}
        job_id = uuid.uuid4().hex[:10]
        lists = [
            item["id"] for item in body["data"].get("relationships", {}).get("lists", {}).get("data", [])
        ]
        errors = []
        for profile in profiles:
            attrs = profile["attributes"]
            if attrs.get("email") in self.import_errors:
                errors.append(
                    {
                        "code": "invalid",
                        "title": "Invalid input.",
                        "detail": self.import_errors[attrs["email"]],
                        "source": {"pointer": "/data/attributes/email"},
                        "original_payload": attrs,
                    }
                )
                continue
            pid = self._upsert(attrs)
            for list_id in lists:
                if list_id in self.lists:
                    self.lists[list_id]["profiles"].add(pid)
        self.jobs[job_id] = {
            "status": "complete",
            "polls": self.pending_polls,
            "errors": errors,
            "total": len(profiles),
        }
        return (
            202,
            {},
            {
                "data": {
                    "type": "profile-bulk-import-job",
                    "id": job_id,
                    "attributes": {"status": "queued", "total_count": len(profiles)},
                }
            },
        )

    def _delete_profiles(self, body: Any) -> Reply:
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or data.get("type") != "data-privacy-deletion-job":
            return _error(400, "data.type must be data-privacy-deletion-job", "/data/type")
        profile = ((data.get("attributes") or {}).get("profile") or {}).get("data") or {}
        if profile.get("type") != "profile":
            return _error(400, "a profile is required", "/data/attributes/profile/data")
        given = {k: v for k, v in (profile.get("attributes") or {}).items() if k in _DELETE_KEYS and v}
        if len(given) != 1:
            return _error(400, "exactly one of email, phone_number or id", "/data/attributes/profile")
        ((key, value),) = given.items()
        doomed = [pid for pid, p in self.profiles.items() if (pid if key == "id" else p.get(key)) == value]
        for pid in doomed:
            email = self.profiles.pop(pid).get("email")
            self._by_email.pop(email or pid, None)
            for item in self.lists.values():
                item["profiles"].discard(pid)
        self.deletions.append({key: value})
        return 202, {}, None

    def _job(self, job_id: str) -> Reply:
        job = self.jobs[job_id]
        status = "complete"
        if job["polls"] > 0:
            job["polls"] -= 1
            status = "processing"
        attributes = {
            "status": status,
            "total_count": job["total"],
            "failed_count": len(job["errors"]),
            "completed_count": job["total"] - len(job["errors"]),
        }
        return 200, {}, {"data": {"type": "profile-bulk-import-job", "id": job_id, "attributes": attributes}}

    def _upsert(self, attrs: dict[str, Any]) -> str:
        pid = self._by_email.get(attrs.get("email") or "")
        if pid is None:
            pid = "01" + uuid.uuid4().hex[:24].upper()
            self.profiles[pid] = {}
            self._by_email[attrs.get("email") or pid] = pid
        current = self.profiles[pid]
        for key, value in attrs.items():
            if key in ("location", "properties") and isinstance(value, dict):
                current.setdefault(key, {}).update(value)
            else:
                current[key] = value
        return pid
