"""Every route of the service, one module per resource. Each route: authorise, validate, call one
use case. The order matters where two paths overlap (a `.pdf` route before its plain one, inside
its module)."""
from __future__ import annotations

from typing import Callable

from fastapi import FastAPI
from sqlalchemy.orm import sessionmaker

from billing.http.accounts import register_account_routes
from billing.http.adjustments import register_adjustment_routes
from billing.http.audit import register_audit_routes
from billing.http.clock import register_clock_routes
from billing.http.documents import register_document_routes
from billing.http import events
from billing.http.events import register_event_routes
from billing.http.exports import register_export_routes
from billing.http.messages import register_message_routes
from billing.http.health import register_health_routes
from billing.http.nav import register_nav_routes
from billing.http.payments import register_payment_routes
from billing.http.plans import register_plan_routes
from billing.http.portal import register_portal_routes
from billing.http.reconciliation import register_reconciliation_routes
from billing.http.refunds import register_refund_routes
from billing.http.reports import register_report_routes
from billing.http.statements import register_statement_routes
from billing.http.webhooks import register_webhook_routes

REGISTRARS = (
    register_health_routes, register_plan_routes, register_event_routes, register_clock_routes,
    register_account_routes, register_document_routes, register_statement_routes, register_export_routes,
    register_webhook_routes, register_portal_routes, register_nav_routes, register_payment_routes,
    register_refund_routes, register_reconciliation_routes, register_audit_routes,
    register_report_routes, register_adjustment_routes,
    register_message_routes,
)


def register_all(app: FastAPI, factory: sessionmaker, session_dep: Callable, principal_dep: Callable) -> None:
    for register in REGISTRARS:
        register(app, factory, session_dep, principal_dep)


def openapi_components() -> dict:
    """Schemas that routes reading their own body refer to (the events, one per type)."""
    return dict(events.COMPONENTS)
