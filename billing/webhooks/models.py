"""Tables of the CRM webhooks: the endpoints, and one delivery row per (endpoint, notice).

The notices themselves (billing.db.models.Notice) are the outbox; a delivery row is that
endpoint's progress on one notice. The unique (endpoint, notice) pair makes the fan-out
idempotent: two workers that fan out the same notice cannot both insert it.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from billing.db.secrets import EncryptedText
from billing.db.base import AwareDateTime, Base, utcnow
from billing.db.models import Serial

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoints"
    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(2000))
    # Signing needs the secret itself (a hash would not do): encrypted at rest (billing/db/secrets.py).
    secret: Mapped[str] = mapped_column(EncryptedText())
    description: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Notices with an id above this one are delivered (0: every notice ever written).
    start_after_notice_id: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    id: Mapped[int] = mapped_column(Serial, primary_key=True, autoincrement=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"))
    notice_id: Mapped[int] = mapped_column(ForeignKey("notices.id"))
    status: Mapped[str] = mapped_column(String(12), default=PENDING)  # pending | delivered | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(AwareDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(AwareDateTime)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime, default=utcnow)
    __table_args__ = (
        UniqueConstraint("endpoint_id", "notice_id", name="uq_webhook_deliveries_endpoint_notice"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    )
