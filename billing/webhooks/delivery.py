"""CRM webhooks: every Notice (access and state changes, documents issued) is POSTed to every
registered endpoint at least once, signed, with retries and a dead-letter list.

At least once, not exactly once: a worker that dies after the receiver answered but before the
answer was recorded sends the notice again once its lease runs out. The receiver de-duplicates on
the notice's event id, which is in the body (`id`) and in the `Billing-Event-Id` header.

Signature: `Billing-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`; check it
with `verify_signature` (constant-time, with a tolerance against replays).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import httpx
from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from billing.db.models import Notice
from billing.webhooks.models import DEAD, DELIVERED, PENDING, WebhookDelivery, WebhookEndpoint

SIGNATURE_HEADER = "Billing-Signature"
EVENT_ID_HEADER = "Billing-Event-Id"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_delay_s: int = 30  # attempt n waits base × 2^(n−1): 30 s, 1 min, 2 min … capped
    max_delay_s: int = 6 * 3600
    max_attempts: int = 12  # about 1.5 days of trying before a delivery is dead
    timeout_s: float = 10.0
    # A claimed delivery is not retried by another worker for this long: longer than a request.
    lease_s: int = 120
    batch: int = 100

    def delay(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.max_delay_s, self.base_delay_s * 2 ** max(0, attempts - 1)))


# --- signing -------------------------------------------------------------------------------

def sign(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(secret: str, header: str | None, body: bytes | str, tolerance: int = 300,
                     now: float | None = None) -> bool:
    """True if `header` signs `body` with `secret` and its timestamp is within `tolerance` seconds
    of `now` (default: the clock). Several v1 values are accepted (while a secret is rotated)."""
    if not header:
        return False
    raw = body.encode() if isinstance(body, str) else body
    parts = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v for k, v in parts if k.strip() == "t"]
    candidates = [v.strip() for k, v in parts if k.strip() == "v1"]
    if len(stamps) != 1 or not stamps[0].strip().isdigit() or not candidates:
        return False
    timestamp = int(stamps[0])
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, raw).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


def notice_body(notice: Notice) -> bytes:
    """The same bytes on every attempt: the receiver may hash or store them."""
    body = {"id": notice.event_id, "type": notice.topic, "account_id": notice.account_id,
            "day": notice.day.isoformat(), "sequence": notice.id,
            "created_at": notice.created_at.isoformat() if notice.created_at else None, "data": notice.payload}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


# --- the worker ----------------------------------------------------------------------------

def fan_out(session: Session, now: datetime, limit: int = 1000) -> int:
    """Make the delivery rows of notices an endpoint has not seen yet. Runs in the caller's transaction."""
    created = 0
    endpoints = session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.active.is_(True))
                                .order_by(WebhookEndpoint.id).with_for_update()).all()
    for endpoint in endpoints:
        # The endpoint row is locked (PostgreSQL) so two workers do not fan out the same notices;
        # if they still meet, the unique (endpoint, notice) key stops the second insert.
        seen = select(WebhookDelivery.id).where(and_(WebhookDelivery.endpoint_id == endpoint.id,
                                                     WebhookDelivery.notice_id == Notice.id))
        # An anti-join, not a "last id" cursor: serial ids can commit out of order on PostgreSQL.
        ids = session.scalars(select(Notice.id).where(Notice.id > endpoint.start_after_notice_id, ~seen.exists())
                              .order_by(Notice.id).limit(limit)).all()
        for notice_id in ids:
            session.add(WebhookDelivery(endpoint_id=endpoint.id, notice_id=notice_id, status=PENDING,
                                        attempts=0, next_attempt_at=now))
        created += len(ids)
    session.flush()
    return created


def _claim(factory: sessionmaker, now: datetime, policy: RetryPolicy) -> list[int]:
    with factory.begin() as session:
        rows = session.scalars(select(WebhookDelivery).where(
            WebhookDelivery.status == PENDING, WebhookDelivery.next_attempt_at <= now,
        ).order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(policy.batch)
            .with_for_update(skip_locked=True)).all()
        for row in rows:
            # The lease: committed before the request, so a concurrent worker skips this row and a
            # crashed one's row comes back after lease_s (hence at least once).
            row.attempts += 1
            row.last_attempt_at = now
            row.next_attempt_at = now + timedelta(seconds=policy.lease_s)
        return [row.id for row in rows]


def _send(client: httpx.Client, endpoint: WebhookEndpoint, notice: Notice, attempt: int,
          now: datetime) -> tuple[int | None, str | None]:
    body = notice_body(notice)
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(endpoint.secret, int(now.timestamp()), body),
               EVENT_ID_HEADER: notice.event_id, "Billing-Event-Type": notice.topic,
               "Billing-Delivery-Attempt": str(attempt), "User-Agent": "seat-billing-webhooks/1"}
    try:
        response = client.post(endpoint.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return None, f"{exc.__class__.__name__}: {exc}"[:500]
    if 200 <= response.status_code < 300:
        return response.status_code, None
    return response.status_code, f"HTTP {response.status_code}: {response.text[:200]}"


def _record(factory: sessionmaker, delivery_id: int, code: int | None, error: str | None,
            now: datetime, policy: RetryPolicy) -> str:
    with factory.begin() as session:
        row = session.get(WebhookDelivery, delivery_id)
        row.last_status_code, row.last_error = code, error
        if error is None:
            row.status, row.delivered_at = DELIVERED, now
        elif row.attempts >= policy.max_attempts:
            row.status = DEAD
        else:
            row.next_attempt_at = now + policy.delay(row.attempts)
        return row.status if row.status != PENDING else "retry"


def deliver_pending(factory: sessionmaker, now: datetime | None = None, *, policy: RetryPolicy | None = None,
                    client: httpx.Client | None = None) -> dict[str, int]:
    """One pass of the worker: fan out new notices, then send every delivery that is due at `now`.
    Returns counts {fanned_out, delivered, retry, dead}. Call it from the scheduler every minute."""
    now = now or datetime.now(timezone.utc)
    policy = policy or RetryPolicy()
    for attempt in range(3):
        try:
            with factory.begin() as session:
                fanned = fan_out(session, now)
            break
        except IntegrityError:  # another worker fanned out the same notices first
            fanned = 0
            if attempt == 2:
                raise
    counts = {"fanned_out": fanned, DELIVERED: 0, "retry": 0, DEAD: 0}
    own_client = client is None
    client = client or httpx.Client(timeout=policy.timeout_s, follow_redirects=False)
    try:
        for delivery_id in _claim(factory, now, policy):
            with factory() as session:
                row = session.get(WebhookDelivery, delivery_id)
                endpoint, notice = session.get(WebhookEndpoint, row.endpoint_id), session.get(Notice, row.notice_id)
                attempt = row.attempts
            code, error = _send(client, endpoint, notice, attempt, now)
            counts[_record(factory, delivery_id, code, error, now, policy)] += 1
    finally:
        if own_client:
            client.close()
    return counts
