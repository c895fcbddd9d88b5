"""The one error tree of Fermion.

Every error a client can see carries a stable ``code`` and an HTTP ``status``; ``fermion.api`` turns
them into responses in the format each endpoint's specification requires.

    FermionError
    ├── ClientError                 a caller's mistake; never a 500
    │   ├── BadRequest              400 BAD_REQUEST (malformed JSON, wrong types, broken rules)
    │   │   └── BatchValidationError    400, names the path of the bad field
    │   ├── Unauthorized            401 UNAUTHORIZED (credentials missing or unparseable)
    │   ├── Forbidden               403 FORBIDDEN (credentials present but wrong, or not allowed)
    │   ├── NotFound                404 NOT_FOUND
    │   ├── Conflict                409 CONFLICT
    │   ├── PayloadTooLarge         413 REQUEST_TOO_LARGE
    │   └── RateLimited             429 TOO_MANY_REQUESTS (carries retry_after seconds)
    ├── ConfigurationError          settings that cannot work together (raised at start)
    └── StoreError                  the state or event store failed in a way a caller cannot fix
"""

from __future__ import annotations


class FermionError(Exception):
    """Root of every error Fermion raises on purpose."""

    code: str = "INTERNAL_ERROR"
    status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ClientError(FermionError):
    """The request cannot be served as sent; the client must change it."""

    code = "BAD_REQUEST"
    status = 400


class BadRequest(ClientError):
    code = "BAD_REQUEST"
    status = 400


class BatchValidationError(BadRequest):
    """A batch does not match the mParticle schema; ``path`` names the bad field (``$.events[0]…``)."""

    def __init__(self, message: str, path: str = "$") -> None:
        super().__init__(message)
        self.path = path


class Unauthorized(ClientError):
    code = "UNAUTHORIZED"
    status = 401


class Forbidden(ClientError):
    code = "FORBIDDEN"
    status = 403


class NotFound(ClientError):
    code = "NOT_FOUND"
    status = 404


class Conflict(ClientError):
    code = "CONFLICT"
    status = 409


class PayloadTooLarge(ClientError):
    code = "REQUEST_TOO_LARGE"
    status = 413


class RateLimited(ClientError):
    code = "TOO_MANY_REQUESTS"
    status = 429

    def __init__(self, message: str, retry_after: int, limit: str = "workspace") -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.limit = limit


class ConfigurationError(FermionError):
    code = "CONFIGURATION_ERROR"


class StoreError(FermionError):
    code = "STORE_ERROR"
