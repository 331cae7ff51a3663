"""Short-lived signed portal links: `?token=<expiry unix>.<hex HMAC-SHA256>` over the account id
and the expiry. The account id is part of the signed text, so a link opens one account only."""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time

DEFAULT_TTL_S = 2 * 3600  # long enough to read and pay, short enough that a forwarded mail goes stale
MAX_TTL_S = 7 * 24 * 3600

# Without BILLING_PORTAL_SECRET links are valid in this process only (fine for one instance;
# several workers or a restart need the variable set).
_PROCESS_SECRET = secrets.token_bytes(32)


class TokenExpired(Exception):
    pass


def _secret() -> bytes:
    configured = os.environ.get("BILLING_PORTAL_SECRET")
    return configured.encode() if configured else _PROCESS_SECRET


def _signature(account_id: str, expires: int) -> str:
    return hmac.new(_secret(), f"portal.v1\n{account_id}\n{expires}".encode(), hashlib.sha256).hexdigest()


def make_token(account_id: str, ttl_s: int = DEFAULT_TTL_S, now: float | None = None) -> tuple[str, int]:
    expires = int(time.time() if now is None else now) + max(60, min(ttl_s, MAX_TTL_S))
    return f"{expires}.{_signature(account_id, expires)}", expires


def check_token(account_id: str, token: str | None, now: float | None = None) -> bool:
    """True for a genuine, unexpired token of this account; False for anything not signed for it.
    Raises TokenExpired for a genuine one that is too old (the page can say so)."""
    expires_text, _, signature = (token or "").partition(".")
    if not expires_text.isdigit() or len(expires_text) > 12 or not signature:
        return False
    if not hmac.compare_digest(_signature(account_id, int(expires_text)), signature):
        return False
    if int(expires_text) < (time.time() if now is None else now):
        raise TokenExpired()
    return True
