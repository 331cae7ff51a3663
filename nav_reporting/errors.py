"""The NAV error hierarchy and the code -> retry decision of FACTS §5.

Two questions matter to the worker: may we retry (technical) or must a human act (configuration),
and might NAV have accepted a manage* request even though we saw an error (maybe_delivered)?
"""
from __future__ import annotations

# Retry shortly (or after maintenance); the request was not accepted.
TECHNICAL_CODES = frozenset({
    "OPERATION_FAILED", "MAINTENANCE_MODE", "SERVICE_UNAVAILABLE", "INVALID_EXCHANGE_TOKEN",
    "REQUEST_ID_NOT_UNIQUE",
})
# Never retry: credentials, registration, or a clock/version set up wrongly.
CONFIG_CODES = frozenset({
    "INVALID_SECURITY_USER", "INVALID_REQUEST_SIGNATURE", "NOT_REGISTERED_CUSTOMER", "INVALID_CUSTOMER",
    "INVALID_USER_RELATION", "FORBIDDEN", "INVALID_REQUEST_VERSION", "INVALID_HEADER_VERSION",
    "REQUEST_VERSION_NOT_ALLOWED", "INVALID_TIMESTAMP",
})
# Our own bug: a request NAV cannot read. Retrying sends the same bytes, so it is not retried.
REQUEST_CODES = frozenset({
    "INVALID_REQUEST", "INDEX_NOT_SEQUENTIAL", "SCHEMA_VIOLATION", "STATUS_QUERY_NOT_ALLOWED",
    "MULTIPLE_QUERY_RESULT_FOUND",
})


class NavError(Exception):
    def __init__(self, message: str, *, code: str | None = None, http_status: int | None = None,
                 maybe_delivered: bool = False):
        super().__init__(f"{code}: {message}" if code else message)
        self.code = code
        self.http_status = http_status
        # True when a manage* request may have been accepted although we got no proper answer:
        # the worker must look it up (FACTS §5) instead of sending it again.
        self.maybe_delivered = maybe_delivered


class NavTechnicalError(NavError):
    """Transient: retry with backoff."""


class NavConfigError(NavError):
    """Credentials, registration or setup: stop and tell a human; retrying cannot help."""


class NavRequestError(NavConfigError):
    """NAV could not read what we sent (schema, indexes): a bug on our side, also not retried."""


def classify(code: str | None, message: str, http_status: int | None) -> NavError:
    """The exception for a synchronous NAV error; unknown codes are judged by HTTP status class."""
    if code in TECHNICAL_CODES:
        # REQUEST_ID_NOT_UNIQUE: an earlier request with this id succeeded, so it may be ours.
        return NavTechnicalError(message, code=code, http_status=http_status,
                                 maybe_delivered=code == "REQUEST_ID_NOT_UNIQUE")
    if code in CONFIG_CODES or (code or "").endswith("_HASH_CRYPTO"):
        return NavConfigError(message, code=code, http_status=http_status)
    if code in REQUEST_CODES or (code or "").startswith("BAD_QUERY_PARAM"):
        return NavRequestError(message, code=code, http_status=http_status)
    # NAV adds codes without notice: server-side trouble is retryable, a refusal is not.
    if http_status is None or http_status >= 500 or http_status == 429:
        return NavTechnicalError(message, code=code, http_status=http_status)
    return NavConfigError(message, code=code, http_status=http_status)
