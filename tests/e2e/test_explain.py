"""Explain and preview (issue 10): every line adds up to the unit; preview equals the real run."""
from __future__ import annotations

import calendar
from datetime import date
from decimal import Decimal
from fractions import Fraction

from billing.money import round_money


def _story(api):
    api.plan(price="9990", discount="12.5")
    api.account("acme", at="2026-02-20T10:00:00+01:00")
    api.seats("acme", "2026-02-20T10:05:00+01:00", "u1", "u2")
    api.run("2026-03-06")
    api.pay("acme", "2026-03-07T10:00:00+01:00", "5000")
    api.seats("acme", "2026-03-09T10:00:00+01:00", "u3")
    api.event("seat.deactivated", "acme", "2026-03-15T10:00:00+01:00", user_id="u1")


def test_preview_equals_the_real_run_field_by_field(api):
    _story(api)
    preview = api.get("/v1/accounts/acme/preview", params={"until": "2026-04-25"}).json()
    before = {e["id"] for e in api.ledger("acme")}
    docs_before = {d["number"] for d in api.documents("acme")}
    api.run("2026-04-25")
    posted = [e for e in api.ledger("acme") if e["id"] not in before]
    assert [(p["date"], p["kind"], p["amount"], p["seats"]) for p in preview["postings"]] == \
           [(e["date"], e["kind"], e["amount"], e["seats"]) for e in posted]
    issued = [d for d in api.documents("acme") if d["number"] not in docs_before]
    assert [(d["kind"], d["issue_date"], d["due_date"], d["gross"]) for d in preview["documents"]] == \
           [(d["kind"], d["issue_date"], d["due_date"], d["gross"]) for d in issued]
    account = api.state("acme")
    assert (preview["state"], preview["balance"]) == (account["state"], account["balance"])
    assert preview["state_changes"]  # the story goes past due


def test_every_charge_explains_itself_to_the_unit(api):
    _story(api)
    api.run("2026-04-30")
    checked = 0
    previous: dict[str, Decimal] = {}
    for entry in api.ledger("acme"):
        if entry["kind"] != "charge":
            continue
        day = date.fromisoformat(entry["date"])
        why = api.get("/v1/accounts/acme/explain", params={"date": entry["date"]}).json()["entries"]
        [charge] = [e for e in why if e["kind"] == "charge"]
        price = Fraction(charge["monthly_price_exact"]["fraction"])
        discount = Fraction(Decimal(charge["discount_percent"])) / 100
        days = calendar.monthrange(day.year, day.month)[1]
        exact = charge["seats"] * price * (1 - discount) / days
        assert Fraction(charge["day_exact"]["fraction"]) == exact
        assert len(charge["seat_days_by_user"]) == charge["seats"]
        month_exact = Fraction(charge["month_to_date_exact"]["fraction"])
        rounded = round_money(month_exact, "HUF")
        assert str(rounded) == charge["month_to_date_rounded"]
        month = entry["date"][:7]
        assert Decimal(entry["amount"]) == -(rounded - previous.get(month, Decimal(0)))
        previous[month] = rounded
        checked += 1
    assert checked > 50


def test_document_explanation_adds_up(api):
    _story(api)
    api.run("2026-03-31")
    for doc in api.documents("acme"):
        why = api.get(f"/v1/documents/{doc['number']}/explain").json()
        assert sum(Decimal(line["gross"]) for line in why["lines"]) == Decimal(doc["gross"])
        if doc["kind"] == "proforma":
            d = why["derivation"]
            amount = max(Decimal(0), Decimal(d["projected"]) - Decimal(d["balance"]) - Decimal(d["open"]))
            assert amount == Decimal(doc["gross"])
            assert round_money(Fraction(d["projected_exact"]), "HUF") == Decimal(d["projected"])


def test_statement_lines_point_at_the_entries_that_explain_them(api):
    _story(api)
    api.run("2026-03-31")
    statement = api.get("/v1/accounts/acme/statements/2026-03").json()
    entries = {e["id"]: e for e in api.ledger("acme")}
    for line in statement["lines"]:
        assert sum(Decimal(entries[i]["amount"]) for i in line["entry_ids"]) == Decimal(line["amount"])
        if line["kind"] == "charge":
            assert len(line["entry_ids"]) == line["days"]
