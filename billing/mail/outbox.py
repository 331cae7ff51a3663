"""Sending the outbox, outside any transaction that holds a lock: claim a few rows (one short
transaction), send each, mark each (one short transaction per message).

- Claim: rows `pending` and due, or `sending` whose claim has run out (the process that claimed
  them died), oldest first; FOR UPDATE SKIP LOCKED on PostgreSQL so two senders take different
  rows (SQLite's single writer serialises the claims). The claim sets `sending`, `claimed_until`
  (now + MAIL_LEASE_S), raises `attempts` (the claim's token) and stores the Message-ID if the
  row has none yet: it is committed before anything is sent.
- Send, then mark `sent` where the row still carries this claim's attempt number. A refusal makes
  it `pending` again with the next attempt after MAIL_RETRY_BASE_S × 2^(attempts − 1) (at most
  MAIL_RETRY_MAX_S), or `dead` after MAIL_MAX_ATTEMPTS attempts, or at once when the server
  refuses for good (5xx); dead rows are listed for finance (GET /v1/messages?status=dead) and
  counted in /metrics.
- A crash between the send and the mark leaves the row `sending`: when its claim runs out it is
  claimed again and sent again with the same Message-ID (stored at the first claim), so the
  outbox loses nothing and a receiver can tell the copy. Delivery on the wire is at least once;
  the outbox row, and so the decision, is exactly once.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import sessionmaker

from billing import config as billing_config
from billing.db import models as m
from billing.db.base import utcnow
from billing.db.session import make_read_factory
from billing.mail.compose import ATTACHED, Claimed, compose, message_id_for, portal_link, sender_for
from billing.mail.store import DEAD, PENDING, SENDING, SENT
from billing.mail.transport import DeliveryError, transport_from_env

log = logging.getLogger("billing.mail")
M = m.MailMessage


@dataclass(frozen=True, slots=True)
class MailConfig:
    mail_from: str
    max_attempts: int = 8
    retry_base_s: float = 60.0
    retry_max_s: float = 6 * 3600.0
    lease_s: float = 300.0
    batch: int = 50
    public_url: str = "http://127.0.0.1:8000"

    @staticmethod
    def from_env() -> "MailConfig":
        env = os.environ.get
        return MailConfig(mail_from=env("MAIL_FROM") or f"{billing_config.seller().name} <billing@example.invalid>",
                          max_attempts=max(1, int(env("MAIL_MAX_ATTEMPTS", "8"))),
                          retry_base_s=float(env("MAIL_RETRY_BASE_S", "60")),  # float ok: seconds
                          retry_max_s=float(env("MAIL_RETRY_MAX_S", str(6 * 3600))),  # float ok: seconds
                          lease_s=float(env("MAIL_LEASE_S", "300")),  # float ok: seconds
                          batch=max(1, int(env("MAIL_BATCH", "50"))),
                          public_url=env("BILLING_PUBLIC_URL") or "http://127.0.0.1:8000")


def backoff(attempts: int, config: MailConfig) -> timedelta:
    """After the n-th failed attempt: base × 2^(n − 1), at most the maximum."""
    return timedelta(seconds=min(config.retry_max_s, config.retry_base_s * 2 ** max(0, attempts - 1)))


def claim(factory: sessionmaker, now: datetime, config: MailConfig, limit: int) -> list[Claimed]:
    due = or_(and_(M.status == PENDING, M.next_attempt_at <= now),
              and_(M.status == SENDING, M.claimed_until < now))
    with factory.begin() as session:
        # by business day first: a catch-up run decides a day's message after a later day's document
        rows = list(session.scalars(select(M).where(due).order_by(M.day, M.id).limit(limit)
                                    .with_for_update(skip_locked=True)))
        claimed = []
        for row in rows:
            row.status, row.attempts = SENDING, row.attempts + 1
            row.claimed_until = now + timedelta(seconds=config.lease_s)
            row.message_id = row.message_id or message_id_for(row.account_id, row.key, config.mail_from)
            claimed.append(Claimed(row.id, row.account_id, row.key, row.kind, row.day, row.document_number,
                                   row.to_address, row.locale, orjson.loads(row.params), row.message_id,
                                   row.attempts))
    return claimed


def send_pending(factory: sessionmaker, transport=None, now: datetime | None = None,
                 config: MailConfig | None = None, limit: int | None = None) -> dict[str, int]:
    """Send what is due now; returns counts. Rows that fail wait for their next attempt, so one
    call never tries a row twice."""
    config = config or MailConfig.from_env()
    transport = transport or transport_from_env()
    now = now or utcnow()
    counts = {"sent": 0, "retry": 0, "dead": 0}
    read_factory = make_read_factory(factory.kw["bind"])
    with transport:
        while limit is None or sum(counts.values()) < limit:
            batch = claim(factory, now, config, config.batch if limit is None else min(config.batch, limit))
            if not batch:
                break
            for claimed in batch:
                counts[_attempt(factory, read_factory, transport, claimed, now, config)] += 1
    if any(counts.values()):
        log.info("mail sent=%d retry=%d dead=%d via %s", counts["sent"], counts["retry"], counts["dead"],
                 transport.describe())
    return counts


def send_after_run(factory: sessionmaker) -> None:
    """What the end of a cycle run calls (billing/cycle/run.py): the messages it decided, sent
    once its transactions are committed. A mail problem never fails the run: what is not sent now
    waits in the outbox for the scheduler tick or `billing mail send`. MAIL_SEND_AFTER_RUN=0 leaves
    all of it to them (a large run's proformas render a PDF each)."""
    if os.environ.get("MAIL_SEND_AFTER_RUN", "1") == "0":
        return
    try:
        send_pending(factory)
    except Exception:
        log.exception("sending the mail outbox after the cycle run failed; it stays queued")


def _attempt(factory, read_factory, transport, claimed: Claimed, now: datetime, config: MailConfig) -> str:
    if not claimed.to:
        return _fail(factory, claimed, now, config, DeliveryError("the account has no e-mail address", True))
    try:
        message = _build(read_factory, claimed, now, config)
        transport.send(message)
    except DeliveryError as exc:
        return _fail(factory, claimed, now, config, exc)
    except Exception as exc:  # a rendering problem: retried like a refusal, dead after the last attempt
        log.exception("message %s could not be built", claimed.id)
        return _fail(factory, claimed, now, config, DeliveryError(f"{type(exc).__name__}: {exc}"[:500]))
    with factory.begin() as session:
        session.execute(update(M).where(M.id == claimed.id, M.attempts == claimed.attempts, M.status == SENDING)
                        .values(status=SENT, sent_at=utcnow(), claimed_until=None, last_error=None))
    return "sent"


def _fail(factory, claimed: Claimed, now: datetime, config: MailConfig, error: DeliveryError) -> str:
    dead = error.permanent or claimed.attempts >= config.max_attempts
    values = {"status": DEAD if dead else PENDING, "claimed_until": None, "last_error": str(error)[:2000],
              "next_attempt_at": now + backoff(claimed.attempts, config)}
    with factory.begin() as session:
        session.execute(update(M).where(M.id == claimed.id, M.attempts == claimed.attempts, M.status == SENDING)
                        .values(**values))
    log.warning("message %s (%s) attempt %d failed%s: %s", claimed.id, claimed.kind, claimed.attempts,
                ", dead" if dead else "", error)
    return "dead" if dead else "retry"


def _build(read_factory, claimed: Claimed, now: datetime, config: MailConfig):
    from billing.portal.tokens import MAX_TTL_S, make_token
    from invoices.documents import Document

    doc = None
    if claimed.document:
        with read_factory() as session:
            row = session.get(m.DocumentRow, claimed.document)
            doc = Document.from_json(row.body) if row is not None else None
    seller = billing_config.seller()
    link = portal_link(config.public_url, claimed.account_id, make_token(claimed.account_id, MAX_TTL_S)[0],
                       claimed.locale)
    pdf = None
    if claimed.kind in ATTACHED:
        if doc is None:
            raise DeliveryError(f"document {claimed.document} not found")
        from invoices.pdf import render_document_pdf

        pdf = render_document_pdf(doc, claimed.locale)
    return compose(claimed, sender_for(claimed, doc, seller.name, seller.bank_account, link), config.mail_from,
                   now, pdf)
