"""One error hierarchy; service.py maps it to HTTP in one handler."""
from __future__ import annotations

from typing import Any


class BillingError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


class InvalidInput(BillingError):
    status = 422
    code = "invalid_input"


def invalid_field(field: str, message: str, summary: str | None = None) -> InvalidInput:
    """The 422 that names one field and why, in the shape every answer's `details.errors` has."""
    return InvalidInput(summary or f"invalid {field}: {message}", {"errors": [{"field": field, "message": message}]})


class NotFound(BillingError):
    status = 404
    code = "not_found"


class Conflict(BillingError):
    status = 409
    code = "conflict"


class Unauthorized(BillingError):
    status = 401
    code = "unauthorized"


class Forbidden(BillingError):
    status = 403
    code = "forbidden"


class Unavailable(BillingError):
    status = 503
    code = "unavailable"
