"""What /metrics shows: the HTTP counters of this process and the service's backlogs as the
database holds them (read at every scrape, so several processes report the same figures)."""
from __future__ import annotations

from datetime import datetime, timezone

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from billing.cycle.waiting import waiting_count
from billing.db import models as m
from billing.payments import models as pm
from billing.webhooks.models import DEAD, WebhookDelivery
from nav_reporting.models import NavOutbox

NAV_SETTLED = ("DONE", "ABORTED")
UNMATCHED_BANK = ("unmatched", "rejected")


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter("billing_http_requests_total", "HTTP requests answered",
                                ("method", "route", "status"), registry=registry)
        self.duration = Histogram("billing_http_request_duration_seconds", "Time to answer a request",
                                  ("method", "route"), registry=registry)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.duration.labels(method, route).observe(seconds)


def backlog(session: Session, now: datetime) -> dict[str, float]:
    """Every figure of the service's state that someone must act on, by metric name."""
    pending = select(func.count(), func.min(NavOutbox.created_at)).where(NavOutbox.status.not_in(NAV_SETTLED))
    count, oldest = session.execute(pending).one()
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=timezone.utc)
    last_run = session.execute(select(m.CycleRun.started_at, m.CycleRun.duration_ms)
                               .order_by(m.CycleRun.id.desc()).limit(1)).first()
    unmatched = (session.scalar(select(func.count()).select_from(pm.BankEntry)
                                .where(pm.BankEntry.status.in_(UNMATCHED_BANK))) or 0) + \
                (session.scalar(select(func.count()).select_from(pm.CardPayment)
                                .where(pm.CardPayment.status == "parked")) or 0)
    finished = None
    if last_run is not None:
        started = last_run.started_at if last_run.started_at.tzinfo else last_run.started_at.replace(tzinfo=timezone.utc)
        finished = started.timestamp() + (last_run.duration_ms or 0) / 1000
    return {
        "billing_nav_outbox_pending": count,
        "billing_nav_outbox_oldest_age_seconds": max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
        "billing_nav_aborted": session.scalar(select(func.count()).select_from(NavOutbox)
                                              .where(NavOutbox.status == "ABORTED")) or 0,
        # the customer's messages not yet sent, and those given up on (billing/mail/outbox.py)
        "billing_mail_outbox_pending": session.scalar(select(func.count()).select_from(m.MailMessage)
                                                      .where(m.MailMessage.status.in_(("pending", "sending")))) or 0,
        "billing_mail_dead_letters": session.scalar(select(func.count()).select_from(m.MailMessage)
                                                    .where(m.MailMessage.status == "dead")) or 0,
        "billing_invoices_waiting_for_rate": waiting_count(session),  # billing/cycle/waiting.py
        "billing_webhook_dead_letters": session.scalar(select(func.count()).select_from(WebhookDelivery)
                                                       .where(WebhookDelivery.status == DEAD)) or 0,
        "billing_unmatched_credits": unmatched,
        "billing_cycle_last_success_timestamp_seconds": finished or 0.0,
        "billing_cycle_duration_seconds": (last_run.duration_ms or 0) / 1000 if last_run else 0.0,
    }


HELP = {
    "billing_nav_outbox_pending": "Invoices and credit notes not yet DONE or ABORTED at NAV",
    "billing_nav_outbox_oldest_age_seconds": "Age of the oldest document still waiting for NAV",
    "billing_nav_aborted": "Documents NAV rejected (GET /v1/nav/aborted)",
    "billing_mail_outbox_pending": "Messages to customers not yet sent",
    "billing_mail_dead_letters": "Messages to customers given up on (GET /v1/messages?status=dead)",
    "billing_invoices_waiting_for_rate": "Foreign-currency invoices waiting for the MNB rate",
    "billing_webhook_dead_letters": "CRM webhook deliveries that gave up (GET /v1/webhooks/dead-letters)",
    "billing_unmatched_credits": "Bank credits and card payments not booked to an account",
    "billing_cycle_last_success_timestamp_seconds": "When the last daily cycle run finished",
    "billing_cycle_duration_seconds": "How long the last daily cycle run took",
}


class BacklogCollector:
    def __init__(self, read_factory: sessionmaker) -> None:
        self.read_factory = read_factory

    def collect(self):
        with self.read_factory() as session:
            figures = backlog(session, datetime.now(timezone.utc))
        for name, value in figures.items():
            yield GaugeMetricFamily(name, HELP[name], value=float(value))  # float ok: counts and seconds, not money


def make_registry(read_factory: sessionmaker) -> tuple[CollectorRegistry, HttpMetrics]:
    registry = CollectorRegistry(auto_describe=False)
    http = HttpMetrics(registry)
    registry.register(BacklogCollector(read_factory))
    return registry, http
