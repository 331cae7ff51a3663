"""The audit trail: every transaction that writes while a request (other than event intake) is
served gets one audit_log row, inserted on the same connection right after its first write, so it
commits or rolls back with the change it records.

The request's observer (billing/http/observe.py) puts an `AuditContext` in CURRENT (it reaches the
thread a route runs in: the thread pool copies the context); the key's id is read from the
request's state, where the key check puts it. Work with no context (the scheduler, `billing run`, the
cycle's worker processes) is not a keyed change and writes no row."""
from __future__ import annotations

import threading
import weakref
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, event

from billing.db.base import utcnow
from billing.db.models import AuditEntry

_TABLE = AuditEntry.__table__
_WRITES = ("INSERT", "UPDATE", "DELETE")


@dataclass
class AuditContext:
    method: str
    path: str
    request_id: str
    # The ASGI scope: its route once routed, and the key's id once checked (scope["state"]).
    scope: dict[str, Any] = field(repr=False, default_factory=dict)
    default_actor: str = "anonymous"

    def row(self) -> dict[str, Any]:
        route = getattr(self.scope.get("route"), "path", None) or self.path
        params = self.scope.get("path_params") or {}
        target = ",".join(f"{k}={v}" for k, v in sorted(params.items()))[:300] or None
        actor = (self.scope.get("state") or {}).get("key_id") or self.default_actor
        return {"at": utcnow(), "actor": actor, "action": f"{self.method} {route}"[:200],
                "target": target, "request_id": self.request_id}


CURRENT: ContextVar[AuditContext | None] = ContextVar("billing_audit", default=None)


# The root transactions that have their row already (weak: a finished transaction drops out), and
# the thread writing one right now (its own INSERT must not be audited again).
_AUDITED: "weakref.WeakSet" = weakref.WeakSet()
_WRITING = threading.local()


def install(engine: Engine) -> None:
    """Once per engine (the engines made by billing.db.session.make_engine)."""

    @event.listens_for(engine, "after_cursor_execute")
    def _record(conn, cursor, statement, parameters, context, executemany):
        audit = CURRENT.get()
        if audit is None or getattr(_WRITING, "active", False):
            return
        if statement.lstrip()[:6].upper() not in _WRITES:
            return
        transaction = conn.get_transaction()
        if transaction is None or transaction in _AUDITED:
            return
        _WRITING.active = True
        try:
            conn.execute(_TABLE.insert().values(**audit.row()))
        finally:
            _WRITING.active = False
        _AUDITED.add(transaction)
