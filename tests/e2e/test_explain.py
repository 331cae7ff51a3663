"""Explain and preview (issue 10): every line adds up to the unit; preview equals the real run."""
from __future__ import annotations

import calendar
import math
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction


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


# What _story posts, written out for the checks below: the plan's 9,990 HUF per seat per month is
# gross and the buyer is domestic (HU), so the monthly price is 9,990 (no / 1.27); 12.5 % off.
PRICE = Fraction(9990)
DISCOUNT = Fraction(125, 1000)
CONVERSION = date(2026, 3, 6)  # created 20 February, 14 trial days: 20 Feb … 5 Mar


def _story_users(day: date) -> set[str]:
    """The users _story made billable on `day`: u1, u2 from 20 February, u3 from 9 March, u1
    deactivated on 15 March (which still counts)."""
    users = {"u1", "u2"}
    if day >= date(2026, 3, 9):
        users.add("u3")
    if day > date(2026, 3, 15):
        users.discard("u1")
    return users


def _half_up(exact: Fraction) -> Decimal:
    """R for HUF: half-up to whole forints (exact, on a non-negative rational)."""
    return Decimal(math.floor(exact + Fraction(1, 2)))


def test_every_charge_explains_itself_to_the_unit(api):
    _story(api)
    api.run("2026-04-30")
    charges = [e for e in api.ledger("acme") if e["kind"] == "charge"]
    # one charge a day from C = 6 March through 30 April: 26 + 30 days (past due and suspended still pay)
    assert [e["date"] for e in charges] == [(CONVERSION + timedelta(days=i)).isoformat() for i in range(56)]
    month_exact: dict[str, Fraction] = {}
    posted: dict[str, Decimal] = {}
    for entry in charges:
        day = date.fromisoformat(entry["date"])
        month = entry["date"][:7]
        users = _story_users(day)
        exact = len(users) * PRICE * (1 - DISCOUNT) / calendar.monthrange(day.year, day.month)[1]
        month_exact[month] = month_exact.get(month, Fraction(0)) + exact
        rounded = _half_up(month_exact[month])
        why = api.get("/v1/accounts/acme/explain", params={"date": entry["date"]}).json()["entries"]
        [charge] = [e for e in why if e["kind"] == "charge"]
        assert charge["seats"] == len(users), entry["date"]
        assert charge["seat_days_by_user"] == {user: [entry["date"]] for user in users}
        assert (Decimal(charge["list_price"]), Decimal(charge["discount_percent"])) == (9990, Decimal("12.5"))
        assert Fraction(charge["monthly_price_exact"]["fraction"]) == PRICE
        assert Fraction(charge["day_exact"]["fraction"]) == exact
        assert Fraction(charge["month_to_date_exact"]["fraction"]) == month_exact[month]
        assert charge["month_to_date_rounded"] == str(rounded)
        assert Decimal(entry["amount"]) == -(rounded - posted.get(month, Decimal(0)))
        posted[month] = rounded
    amounts = {e["date"]: e["amount"] for e in charges}
    assert amounts["2026-03-06"] == "-564"  # R(2 × 9,990 × 0.875 / 31) = R(563.95) = 564
    # 3 seats from 9 March: R(2,537.78) − R(1,691.85) = 2,538 − 1,692 = 846
    assert amounts["2026-03-09"] == "-846"
    # March: 9,990 × 0.875 × (3×2 + 7×3 + 16×2 = 59 seat-days) / 31 = R(16,636.57) = 16,637;
    # April: 2 × 9,990 × 0.875 = 17,482.5 exactly, half-up = 17,483
    assert posted == {"2026-03": Decimal(16637), "2026-04": Decimal(17483)}


def test_document_explanation_adds_up(api):
    _story(api)
    api.run("2026-03-31")
    docs = api.documents("acme")
    # PRO 1 on C (6 March): R(2 × 9,990 × 0.875 × 26/31) = R(14,662.74) = 14,663, nothing before it;
    # the payment of 7 March: its invoice, 5,000;
    # PRO 2 on 20 March: projected 20 Mar … 30 Apr = R(17,482.5 × 12/31 + 17,482.5) = R(24,249.92)
    # = 24,250; balance after the charges through 19 March = 5,000 − R(8,741.25 × 35/31)
    # (35 seat-days: 3×2 + 7×3 + 4×2) = 5,000 − R(9,869.15) = −4,869; open = 14,663 − 5,000 = 9,663;
    # 24,250 + 4,869 − 9,663 = 19,456
    assert [(d["kind"], d["issue_date"], d["gross"]) for d in docs] == [
        ("proforma", "2026-03-06", "14663"), ("invoice", "2026-03-07", "5000"), ("proforma", "2026-03-20", "19456")]
    expected_lines = {
        "14663": ["14663"],
        "5000": ["5000"],
        # R(17,482.5 × 12/31) = R(6,767.42) = 6,767; then 24,250 − 6,767 = 17,483; +4,869 debt; −9,663 open
        "19456": ["6767", "17483", "4869", "-9663"],
    }
    derivations = {
        "14663": {"projected": "14663", "balance": "0", "open": "0", "seats": 2,
                  "projected_exact": 2 * PRICE * (1 - DISCOUNT) * Fraction(26, 31)},
        "19456": {"projected": "24250", "balance": "-4869", "open": "9663", "seats": 2,  # u2, u3 on 20 March
                  "projected_exact": 2 * PRICE * (1 - DISCOUNT) * (Fraction(12, 31) + 1)},
    }
    for doc in docs:
        why = api.get(f"/v1/documents/{doc['number']}/explain").json()
        assert [line["gross"] for line in why["lines"]] == expected_lines[doc["gross"]]
        assert sum(Decimal(line["gross"]) for line in why["lines"]) == Decimal(doc["gross"])
        if doc["kind"] == "proforma":
            d = why["derivation"]
            expected = derivations[doc["gross"]]
            assert {k: d[k] for k in ("projected", "balance", "open", "seats")} == \
                {k: v for k, v in expected.items() if k != "projected_exact"}
            assert Fraction(d["projected_exact"]) == expected["projected_exact"]
            assert (Decimal(d["list_price"]), Decimal(d["discount_percent"])) == (9990, Decimal("12.5"))


def test_statement_lines_point_at_the_entries_that_explain_them(api):
    _story(api)
    api.run("2026-03-31")
    statement = api.get("/v1/accounts/acme/statements/2026-03").json()
    entries = {e["id"]: e for e in api.ledger("acme")}
    assert len(statement["lines"]) == 4  # charges 6–8, 9–15 and 16–31 March (2, 3, 2 seats), the payment
    for line in statement["lines"]:
        assert sum(Decimal(entries[i]["amount"]) for i in line["entry_ids"]) == Decimal(line["amount"])
        if line["kind"] == "charge":
            assert len(line["entry_ids"]) == line["days"]
