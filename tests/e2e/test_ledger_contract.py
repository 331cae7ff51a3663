"""CONTRACT.md §2–§5 over HTTP, with the arithmetic written beside every expected figure."""
from __future__ import annotations


def _sum(entries):
    return sum(int(e["amount"]) for e in entries)


def test_trial_conversion_first_proforma_and_payment_invoice(api):
    api.plan(price="9990")
    api.account("acme", at="2026-03-02T10:00:00+01:00")  # D0 = 2 March, trial 2..15 March
    api.seats("acme", "2026-03-02T10:05:00+01:00", "u1", "u2")
    api.run("2026-03-15")
    assert api.state("acme")["state"] == "trialing"
    assert api.state("acme")["access"] == "limited"
    assert api.charges("acme") == []  # no charge during the trial
    api.run("2026-03-16")  # conversion day C = D0 + 14
    account = api.state("acme")
    assert account["state"] == "awaiting_payment"
    assert account["trial_ends_on"] == "2026-03-15"
    [proforma] = api.documents("acme", "proforma")
    # contract §4 example: R(2 × 9,990 × 16/31) = R(10,312.26) = 10,312
    assert proforma["gross"] == "10312"
    assert proforma["issue_date"] == "2026-03-16" and proforma["due_date"] == "2026-03-24"
    assert account["balance"] == "-645"  # R(19,980 / 31) = R(644.52) = 645

    api.pay("acme", "2026-03-18T09:00:00+01:00", "10312", reference=proforma["number"])
    api.run("2026-03-19")
    [invoice] = api.documents("acme", "invoice")
    assert invoice["issue_date"] == "2026-03-18"  # dated the payment's day, not the run's end
    assert invoice["gross"] == "10312"
    assert invoice["net"] == "8120"  # R(10,312 / 1.27) = R(8,119.69)
    assert invoice["vat"] == "2192"  # 10,312 − 8,120
    assert api.state("acme")["state"] == "active"
    assert api.state("acme")["access"] == "full"
    assert api.documents("acme", "proforma")[0]["status"] == "paid"
    # charges 16..19 March: R(19,980 × 4/31) = R(2,578.06) = 2,578
    assert _sum(api.charges("acme")) == -2578
    assert api.state("acme")["balance"] == str(10312 - 2578)

    api.run("2026-03-20")
    april = api.documents("acme", "proforma")[1]
    # projected 20 Mar..30 Apr = R(19,980 × 12/31 + 19,980) = R(27,714.19) = 27,714
    # balance after charges through 19 March = 10,312 − 2,578 = 7,734 → 27,714 − 7,734 = 19,980
    assert april["gross"] == "19980"
    assert april["due_date"] == "2026-03-28"


def test_full_months_cost_exactly_seats_times_price(api):
    api.plan(price="9990")
    api.account("acme", at="2026-01-10T10:00:00+01:00", trial_days=0)  # converts on 10 January
    api.seats("acme", "2026-01-10T10:00:00+01:00", "u1", "u2")
    api.pay("acme", "2026-01-11T10:00:00+01:00", "60000")  # paid, so the account never expires
    api.run("2026-03-31")
    charges = api.charges("acme")
    by_month = {}
    for entry in charges:
        by_month.setdefault(entry["date"][:7], 0)
        by_month[entry["date"][:7]] += -int(entry["amount"])
    assert by_month["2026-02"] == 2 * 9990  # a 28-day month
    assert by_month["2026-03"] == 2 * 9990  # a 31-day month, 31 cumulative-rounded entries
    assert len([e for e in charges if e["date"].startswith("2026-03")]) == 31
    # 10..31 January: R(19,980 × 22/31) = R(14,179.35) = 14,179
    assert by_month["2026-01"] == 14179


def test_three_seats_from_14_march(api):
    api.plan(price="9990")
    api.account("acme", at="2026-03-14T08:00:00+01:00", trial_days=0)
    api.seats("acme", "2026-03-14T08:00:00+01:00", "u1", "u2", "u3")
    api.run("2026-03-31")
    # 3 × 9,990 × 18/31 = 17,401.94 → 17,402
    assert _sum(api.charges("acme")) == -17402
    # cumulative rounding: first day R(29,970/31) = R(966.77) = 967, second R(1,933.55) − 967 = 967
    first, second = api.charges("acme")[:2]
    assert (first["amount"], second["amount"]) == ("-967", "-967")


def test_seat_on_and_off_the_same_day_counts_once(api):
    api.plan(price="3100")
    api.account("acme", at="2026-03-01T08:00:00+01:00", trial_days=0)
    api.event("seat.activated", "acme", "2026-03-05T09:00:00+01:00", user_id="u1")
    api.event("seat.deactivated", "acme", "2026-03-05T10:00:00+01:00", user_id="u1")
    api.event("seat.activated", "acme", "2026-03-05T11:00:00+01:00", user_id="u1")
    api.event("seat.deactivated", "acme", "2026-03-05T12:00:00+01:00", user_id="u1")
    api.run("2026-03-06")
    charges = api.charges("acme")
    assert [(c["date"], c["amount"], c["seats"]) for c in charges] == [("2026-03-05", "-100", 1)]  # 3,100/31


def test_deactivation_day_still_counts(api):
    api.plan(price="3100")
    api.account("acme", at="2026-03-01T08:00:00+01:00", trial_days=0)
    api.seats("acme", "2026-03-01T08:00:00+01:00", "u1")
    api.event("seat.deactivated", "acme", "2026-03-03T09:00:00+01:00", user_id="u1")
    api.run("2026-03-05")
    assert [c["date"] for c in api.charges("acme")] == ["2026-03-01", "2026-03-02", "2026-03-03"]


def test_dst_sunday_maps_instants_to_budapest_days(api):
    api.plan(price="3100")
    api.account("acme", at="2026-03-01T08:00:00+01:00", trial_days=0)
    # 2026-03-28T23:30Z is 00:30 on Sunday 29 March in Budapest (still CET, +01:00)
    api.event("seat.activated", "acme", "2026-03-28T23:30:00Z", user_id="u1")
    # 2026-03-29T22:30Z is 00:30 on Monday 30 March (CEST, +02:00 after the change)
    api.event("seat.activated", "acme", "2026-03-29T22:30:00Z", user_id="u2")
    api.run("2026-03-30")
    days = [(c["date"], c["seats"]) for c in api.charges("acme")]
    assert days == [("2026-03-29", 1), ("2026-03-30", 2)]


def test_lateness_past_due_then_suspended_then_reinstated(api):
    api.plan(price="9990")
    api.account("acme", at="2026-03-02T10:00:00+01:00")
    api.seats("acme", "2026-03-02T10:05:00+01:00", "u1", "u2")
    api.run("2026-03-17")
    first = api.documents("acme", "proforma")[0]
    api.pay("acme", "2026-03-17T09:00:00+01:00", first["gross"])
    api.run("2026-03-28")  # the 20 March proforma (19,980) is due 28 March
    assert api.state("acme")["state"] == "active"
    api.run("2026-03-29")
    account = api.state("acme")
    assert account["state"] == "past_due" and account["access"] == "full"
    assert account["overdue_since"] == "2026-03-29"
    api.run("2026-04-27")  # lateness 30 days: still past_due
    assert api.state("acme")["state"] == "past_due"
    api.run("2026-04-28")  # due + 31: suspended, charges go on
    account = api.state("acme")
    assert account["state"] == "suspended" and account["access"] == "suspended"
    april_charges = [c for c in api.charges("acme") if c["date"].startswith("2026-04")]
    assert len(april_charges) == 28
    # paying the overdue proformas (19,980 for April and 19,980 for May) reinstates on the payment day
    api.pay("acme", "2026-04-29T10:00:00+02:00", "39960")
    api.run("2026-04-29")
    assert api.state("acme")["state"] == "active"
    assert all(p["status"] == "paid" for p in api.documents("acme", "proforma"))


def test_unpaid_first_proforma_expires_and_reverses_charges(api):
    api.plan(price="9990")
    api.account("acme", at="2026-03-02T10:00:00+01:00")
    api.seats("acme", "2026-03-02T10:05:00+01:00", "u1", "u2")
    api.run("2026-04-23")  # first proforma due 24 March; still awaiting payment long after
    assert api.state("acme")["state"] == "awaiting_payment"
    api.run("2026-04-24")  # due + 31 days
    account = api.state("acme")
    assert account["state"] == "expired" and account["access"] == "closed"
    assert account["balance"] == "0"
    ledger = api.ledger("acme")
    assert ledger[-1]["kind"] == "charge_reversal"
    assert _sum(ledger) == 0
    assert api.documents("acme", "invoice") == []
    api.run("2026-05-31")
    assert api.ledger("acme") == ledger  # nothing after expiry


def _prepaid_april(api, terms):
    api.plan(code="disc", price="10000", discount="20")
    # trial 1..31 March, conversion 1 April; April has 30 days
    api.account("acme", at="2026-03-01T08:00:00+01:00", plan="disc", trial_days=31, terms=terms)
    api.seats("acme", "2026-03-01T08:00:00+01:00", "u1", "u2")
    api.run("2026-04-01")
    [proforma] = api.documents("acme", "proforma")
    assert proforma["gross"] == "16000"  # 2 × 10,000 × 0.8, a whole month
    api.pay("acme", "2026-04-02T08:00:00+02:00", "16000")
    api.event("account.terminated", "acme", "2026-04-10T18:00:00+02:00", by="customer", reason="moving on")
    api.run("2026-04-30")


def test_termination_refund_hungarian_terms(api):
    _prepaid_april(api, "hu")
    # charges 1..10 April: R(16,000 × 10/30) = R(5,333.33) = 5,333; refund 16,000 − 5,333
    ledger = api.ledger("acme")
    assert _sum([e for e in ledger if e["kind"] == "charge"]) == -5333
    assert [e["amount"] for e in ledger if e["kind"] == "refund"] == ["-10667"]
    assert api.state("acme")["state"] == "terminated"
    assert api.state("acme")["balance"] == "0"
    [note] = api.documents("acme", "credit_note")
    [invoice] = api.documents("acme", "invoice")
    assert note["gross"] == "-10667" and note["references"] == [invoice["number"]]
    assert note["net"] == "-8399"  # −R(10,667 / 1.27) = −R(8,399.21)
    assert note["vat"] == "-2268"
    assert invoice["status"] == "partially_refunded"
    assert max(e["date"] for e in ledger) == "2026-04-10"  # no charge after the termination day


def test_termination_refund_romanian_clawback(api):
    _prepaid_april(api, "ro")
    # list price of the used days R(20,000 × 10/30) = R(6,666.67) = 6,667: refund 16,000 − 6,667
    ledger = api.ledger("acme")
    assert [e["amount"] for e in ledger if e["kind"] == "refund"] == ["-9333"]
    assert [e["amount"] for e in ledger if e["kind"] == "clawback"] == ["-1334"]  # 6,667 − 5,333
    assert api.state("acme")["balance"] == "0"


def test_termination_during_trial_charges_and_refunds_nothing(api):
    api.plan()
    api.account("acme", at="2026-03-02T10:00:00+01:00")
    api.seats("acme", "2026-03-02T10:05:00+01:00", "u1")
    api.event("account.terminated", "acme", "2026-03-05T10:00:00+01:00", by="customer")
    api.run("2026-03-31")
    assert api.state("acme")["state"] == "terminated"
    assert api.ledger("acme") == []
    assert api.documents("acme") == []


def test_monthly_statement_adds_up(api):
    api.plan(price="9990")
    api.account("acme", at="2026-03-02T10:00:00+01:00")
    api.seats("acme", "2026-03-02T10:05:00+01:00", "u1", "u2")
    api.run("2026-03-17")
    api.pay("acme", "2026-03-17T09:00:00+01:00", "10312")
    api.seats("acme", "2026-03-25T09:00:00+01:00", "u3")
    api.run("2026-04-02")
    st = api.get("/v1/accounts/acme/statements/2026-03").json()
    assert st["opening_balance"] == "0"
    assert st["payments"] == "10312"
    # 16..24 March with 2 seats and 25..31 March with 3 seats, one line each:
    # R(19,980 × 9/31 + 29,970 × 7/31) = R(5,800.65 + 6,767.42) = R(12,568.06) = 12,568
    assert st["charges"] == "12568"
    charge_lines = [l for l in st["lines"] if l["kind"] == "charge"]
    assert [(l["from"], l["to"], l["seats"]) for l in charge_lines] == [
        ("2026-03-16", "2026-03-24", 2), ("2026-03-25", "2026-03-31", 3)]
    assert st["closing_balance"] == str(10312 - 12568)
    april = api.get("/v1/accounts/acme/statements/2026-04").json()
    assert april["opening_balance"] == st["closing_balance"]


def test_conversion_on_or_after_the_20th_covers_the_next_month_too(api):
    api.plan(price="9990")
    api.account("acme", at="2026-03-08T10:00:00+01:00")  # C = 22 March
    api.seats("acme", "2026-03-08T10:05:00+01:00", "u1", "u2")
    api.run("2026-04-19")
    [first] = api.documents("acme", "proforma")
    # 22..31 March and all of April: R(19,980 × 10/31 + 19,980) = R(26,425.16) = 26,425
    assert (first["issue_date"], first["gross"], first["period_end"]) == ("2026-03-22", "26425", "2026-04-30")
    assert api.state("acme")["state"] == "awaiting_payment"  # even past the due date (30 March)
    assert api.state("acme")["overdue_since"] == "2026-03-31"


def test_two_payments_of_one_day_pay_the_proforma_with_one_invoice_each(api):
    api.plan(price="9990")
    api.account("acme", at="2026-03-02T10:00:00+01:00")
    api.seats("acme", "2026-03-02T10:05:00+01:00", "u1", "u2")
    api.run("2026-03-16")
    api.pay("acme", "2026-03-17T09:00:00+01:00", "5000")
    api.pay("acme", "2026-03-17T15:00:00+01:00", "6000")  # 10,312 asked: 688 over
    api.run("2026-03-17")
    proforma = api.documents("acme", "proforma")[0]
    assert (proforma["status"], proforma["paid"], proforma["remaining"]) == ("paid", "10312", "0")
    invoices = api.documents("acme", "invoice")
    assert [i["gross"] for i in invoices] == ["5000", "6000"]  # one invoice per payment, its amount
    # 16..17 March: R(19,980 × 2/31) = R(1,289.03) = 1,289 charged
    assert api.state("acme")["balance"] == str(11000 - 1289)


def test_a_payment_covering_less_than_the_proforma_activates_and_leaves_it_open(api):
    api.plan(price="9990")
    api.account("acme", at="2026-03-02T10:00:00+01:00")  # trial 2..15 March, C = 16 March
    api.seats("acme", "2026-03-02T10:05:00+01:00", "u1", "u2")
    api.run("2026-03-16")
    [proforma] = api.documents("acme", "proforma")
    assert proforma["gross"] == "10312"  # R(2 × 9,990 × 16/31) = R(10,312.26) = 10,312, due 24 March
    api.pay("acme", "2026-03-17T09:00:00+01:00", "5000", reference=proforma["number"])  # less than asked
    api.run("2026-03-17")
    account = api.state("acme")
    # CONTRACT §3: "The first payment credited makes the account active", whatever its amount
    assert (account["state"], account["access"]) == ("active", "full")
    proforma = api.documents("acme", "proforma")[0]
    # paid 5,000 of 10,312: 10,312 − 5,000 = 5,312 still asked; not yet due (24 March)
    assert (proforma["status"], proforma["paid"], proforma["remaining"]) == ("open", "5000", "5312")
    [invoice] = api.documents("acme", "invoice")
    assert (invoice["issue_date"], invoice["gross"]) == ("2026-03-17", "5000")  # the amount received
    assert (invoice["net"], invoice["vat"]) == ("3937", "1063")  # R(5,000 / 1.27) = R(3,937.01); 5,000 − 3,937
    # 16..17 March: R(19,980 × 2/31) = R(1,289.03) = 1,289 charged; 5,000 − 1,289 = 3,711
    assert account["balance"] == "3711"

    api.run("2026-03-24")  # the due day itself is not late
    assert api.state("acme")["state"] == "active"
    april = api.documents("acme", "proforma")[1]
    # 20 March: projected 20 Mar..30 Apr = R(19,980 × 12/31 + 19,980) = R(27,714.19) = 27,714;
    # balance after the charges through 19 March = 5,000 − R(19,980 × 4/31) = 5,000 − 2,578 = 2,422;
    # open = 5,312 → 27,714 − 2,422 − 5,312 = 19,980
    assert (april["issue_date"], april["gross"]) == ("2026-03-20", "19980")
    api.run("2026-03-25")  # the day after the due date of a proforma not fully paid
    account = api.state("acme")
    assert (account["state"], account["overdue_since"]) == ("past_due", "2026-03-25")
    proforma = api.documents("acme", "proforma")[0]
    assert (proforma["status"], proforma["paid"], proforma["remaining"]) == ("overdue", "5000", "5312")


def test_a_partial_payment_while_past_due_stays_past_due_and_leaves_the_proforma_owing(api):
    api.plan(price="9990")
    api.account("acme", at="2026-03-02T10:00:00+01:00")  # C = 16 March
    api.seats("acme", "2026-03-02T10:05:00+01:00", "u1", "u2")
    api.run("2026-03-16")
    api.pay("acme", "2026-03-17T09:00:00+01:00", "10312")  # the first proforma in full
    api.run("2026-03-29")
    first, april = api.documents("acme", "proforma")
    # 20 March: 27,714 projected − (10,312 − 2,578) balance = 19,980, due 28 March
    assert (april["gross"], april["due_date"]) == ("19980", "2026-03-28")
    assert (api.state("acme")["state"], api.state("acme")["overdue_since"]) == ("past_due", "2026-03-29")

    api.pay("acme", "2026-03-30T09:00:00+02:00", "10000", reference=april["number"])  # less than asked
    api.run("2026-03-30")
    account = api.state("acme")
    # the payment does not cover every overdue proforma: still past_due, lateness still from 29 March
    assert (account["state"], account["overdue_since"]) == ("past_due", "2026-03-29")
    first, april = api.documents("acme", "proforma")
    assert (first["status"], first["paid"], first["remaining"]) == ("paid", "10312", "0")
    # 19,980 − 10,000 = 9,980 still asked
    assert (april["status"], april["paid"], april["remaining"]) == ("overdue", "10000", "9980")
    assert [i["gross"] for i in api.documents("acme", "invoice")] == ["10312", "10000"]
    # 16..30 March: R(19,980 × 15/31) = R(9,667.74) = 9,668; 10,312 + 10,000 − 9,668 = 10,644
    assert account["balance"] == "10644"

    api.pay("acme", "2026-03-31T09:00:00+02:00", "9980")  # the rest: every overdue proforma covered
    api.run("2026-03-31")
    assert (api.state("acme")["state"], api.state("acme")["overdue_since"]) == ("active", None)
    assert api.documents("acme", "proforma")[1]["status"] == "paid"


def test_a_payment_on_the_issue_day_pays_the_proforma_of_that_day(api):
    api.plan(price="9990")
    api.account("acme", at="2026-03-02T10:00:00+01:00")
    api.seats("acme", "2026-03-02T10:05:00+01:00", "u1", "u2")
    # paid on the conversion day itself, posted before any run
    api.pay("acme", "2026-03-16T08:00:00+01:00", "10312")
    api.run("2026-03-16")
    [proforma] = api.documents("acme", "proforma")
    # the proforma asks against the balance after the charges through 15 March (0), so it is issued
    # in full, R(19,980 × 16/31) = 10,312, and the payment of that day pays it
    assert (proforma["gross"], proforma["status"], proforma["remaining"]) == ("10312", "paid", "0")
    [invoice] = api.documents("acme", "invoice")
    assert (invoice["issue_date"], invoice["gross"]) == ("2026-03-16", "10312")
    assert api.state("acme")["state"] == "active"
    # on 20 March: balance after charges through 19 March = 10,312 − 2,578 = 7,734, nothing open:
    # 27,714 − 7,734 = 19,980; a payment of 30,000 that same day pays it and leaves 10,020 over
    api.pay("acme", "2026-03-20T08:00:00+01:00", "30000")
    api.run("2026-03-20")
    april = api.documents("acme", "proforma")[1]
    assert (april["gross"], april["status"]) == ("19980", "paid")
