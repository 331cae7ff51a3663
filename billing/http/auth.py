"""API keys and their scopes. Keys are stored hashed; the admin, CRM and finance keys may also come
from the environment. A customer key is bound to one account and sees that account only."""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from billing.db.models import ApiKey
from billing.errors import Forbidden, NotFound, Unauthorized

log = logging.getLogger("billing.auth")

_ENV_KEYS = {"admin": "BILLING_ADMIN_KEY", "crm": "BILLING_CRM_KEY", "finance": "BILLING_FINANCE_KEY"}


@dataclass(frozen=True, slots=True)
class Principal:
    scope: str
    account_id: str | None = None
    key_id: str | None = None  # what logs and the audit trail name: never the key itself

    def can_see(self, account_id: str) -> bool:
        return self.scope != "customer" or self.account_id == account_id


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def ensure_admin_key() -> str | None:
    """Without BILLING_ADMIN_KEY a random one is made for this process and logged once."""
    if not os.environ.get("BILLING_ADMIN_KEY"):
        key = "adm_" + secrets.token_urlsafe(24)
        os.environ["BILLING_ADMIN_KEY"] = key
        return key
    return None


def authenticate(session: Session, authorization: str | None) -> Principal:
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthorized("an Authorization: Bearer <key> header is required")
    key = authorization[7:].strip()
    if not key:
        raise Unauthorized("empty API key")
    for scope, variable in _ENV_KEYS.items():
        expected = os.environ.get(variable)
        if expected and hmac.compare_digest(expected.encode(), key.encode()):
            return Principal(scope, key_id=f"env:{scope}")
    row = session.get(ApiKey, hash_key(key))
    if row is None:
        raise Unauthorized("unknown API key")
    return Principal(row.scope, row.account_id, key_id=key_id_of(row.key_hash))


def key_id_of(key_hash: str) -> str:
    """A stored key's public id: the start of its hash, which says nothing about the key."""
    return f"key:{key_hash[:12]}"


def require(principal: Principal, *scopes: str, account_id: str | None = None) -> None:
    if principal.scope == "admin":
        return
    if principal.scope not in scopes:
        raise Forbidden(f"this key ({principal.scope}) may not do this")
    if account_id is not None and not principal.can_see(account_id):
        # Another account's resource looks exactly like a missing one: nothing leaks.
        raise NotFound("not found")


def create_key(session: Session, scope: str, account_id: str | None = None) -> str:
    prefix = {"customer": "cus", "crm": "crm", "finance": "fin", "admin": "adm"}[scope]
    key = f"{prefix}_{secrets.token_urlsafe(24)}"
    session.add(ApiKey(key_hash=hash_key(key), scope=scope, account_id=account_id))
    return key
