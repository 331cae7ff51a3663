"""A small demo tenant: one plan, two accounts with seats, the cycle run through today."""
from __future__ import annotations

import os
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import sessionmaker

from billing.accounts import account_from_event
from billing.cycle.run import run_cycle
from billing.db.models import Event
from billing.events import ingest
from billing.plans import define_plan
from schemas.api import PlanIn

BUDAPEST = ZoneInfo("Europe/Budapest")


def _at(day, hour=9) -> str:
    return datetime.combine(day, time(hour), BUDAPEST).isoformat()


def demo_events(today) -> list[dict]:
    start = today - timedelta(days=20)  # trial over six days ago: a proforma is waiting
    acme = {"name": "Acme Kereskedelmi Kft.", "email": "szamla@acme.example", "country": "HU",
            "currency": "HUF", "plan": "team", "locale": "hu", "tax_number": "12345676-2-41",
            "address": {"postal_code": "1117", "city": "Budapest", "street": "Október huszonharmadika u. 8."}}
    # No EU VAT number: it would be checked in VIES (the EU's service by default), and the demo never
    # reaches the internet. Without one the Romanian buyer pays Hungarian VAT (CONTRACT §6).
    carpati = {"name": "Carpați Soft SRL", "email": "facturi@carpati.example", "country": "RO",
               "currency": "HUF", "plan": "team", "locale": "ro",
               "address": {"postal_code": "400000", "city": "Cluj-Napoca", "street": "Strada Memorandumului 28"}}
    events = [
        {"id": "demo-acme-created", "type": "account.created", "account_id": "acme", "occurred_at": _at(start), "data": acme},
        {"id": "demo-carpati-created", "type": "account.created", "account_id": "carpati",
         "occurred_at": _at(start, 10), "data": carpati},
    ]
    for account, users in (("acme", ("anna", "bela", "csaba")), ("carpati", ("ioana", "mihai"))):
        for user in users:
            events.append({"id": f"demo-{account}-{user}", "type": "seat.activated", "account_id": account,
                           "occurred_at": _at(start, 11), "data": {"user_id": user}})
    return events


def seed_demo(factory: sessionmaker) -> dict:
    today = datetime.now(BUDAPEST).date()
    with factory.begin() as session:
        define_plan(session, PlanIn(code="team", name="MiniCRM Team", currency="HUF", monthly_seat_price="9990"))
        if session.get(Event, "demo-acme-created") is None:
            ingest(session, demo_events(today), account_from_event)
    result = run_cycle(factory, today)
    return {"accounts": ["acme", "carpati"], "plan": "team", "cycle": result,
            "admin_key": os.environ.get("BILLING_ADMIN_KEY", "(set BILLING_ADMIN_KEY)"),
            "try": "curl -H 'Authorization: Bearer $BILLING_ADMIN_KEY' http://127.0.0.1:8000/v1/accounts/acme"}
