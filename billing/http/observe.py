"""Every request: an id (X-Request-ID, taken from the caller when it is sane, else made), echoed in
the answer; one JSON log line (method, route, status, duration, key id; never a key, a token or a
query string); the HTTP metrics."""
from __future__ import annotations

import re
import time
import uuid

from billing.db.audit import CURRENT, AuditContext
from billing.logs import get_logger
from billing.ops.metrics import HttpMetrics

log = get_logger("billing.http")
_SANE_ID = re.compile(rb"^[A-Za-z0-9._:\-]{1,128}$")
READS = ("GET", "HEAD", "OPTIONS")
INTAKE = "/v1/events"  # the event log is its own record


def actor_without_key(path: str) -> str:
    if path == "/v1/payments/stripe/webhook":
        return "stripe"  # authenticated by its signature
    if path.startswith("/portal/"):
        return "portal"  # a signed portal link
    return "anonymous"


def request_id_of(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == b"x-request-id" and _SANE_ID.match(value):
            return value.decode()
    return uuid.uuid4().hex


class RequestObserver:
    def __init__(self, app, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = request_id_of(scope.get("headers", []))
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.perf_counter()
        status = 500
        audited = scope["method"] not in READS and scope["path"] != INTAKE
        token = CURRENT.set(AuditContext(scope["method"], scope["path"], request_id, scope,
                                         actor_without_key(scope["path"]))) if audited else None

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if token is not None:
                CURRENT.reset(token)
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.observe(scope["method"], route, status, seconds)
            log.info("request", request_id=request_id, method=scope["method"], route=route, status=status,
                     duration_ms=round(seconds * 1000, 1), key_id=state.get("key_id"))
