"""A late event is charged in the next run as a correction dated that run's day (issue 3)."""
from __future__ import annotations


def _setup(api):
    api.plan(price="3100")  # 100 HUF per seat-day in a 31-day month
    api.account("acme", at="2026-03-01T08:00:00+01:00", trial_days=0)
    api.seats("acme", "2026-03-01T08:00:00+01:00", "u1", "u2")
    api.pay("acme", "2026-03-01T09:00:00+01:00", "50000")


def _kind(api, kind):
    return [(e["date"], e["amount"]) for e in api.ledger("acme") if e["kind"] == kind]


def test_late_activation_is_a_correction_on_the_next_day(api):
    _setup(api)
    api.run("2026-03-10")
    api.event("seat.activated", "acme", "2026-03-05T10:00:00+01:00", user_id="u3")  # late
    api.run("2026-03-11")
    # u3 on 5..10 March: 6 seat-days × 100 = 600, posted on 11 March; 11 March itself has 3 seats
    assert _kind(api, "charge_correction") == [("2026-03-11", "-600")]
    assert [c for c in api.charges("acme") if c["date"] == "2026-03-11"][0]["amount"] == "-300"
    assert api.state("acme")["seats"] == 3
    # no posted entry was rewritten: 1..10 March still show 2 seats
    assert {c["seats"] for c in api.charges("acme") if c["date"] < "2026-03-11"} == {2}


def test_late_deactivation_gives_the_days_back(api):
    _setup(api)
    api.run("2026-03-10")
    api.event("seat.deactivated", "acme", "2026-03-03T10:00:00+01:00", user_id="u1")
    api.run("2026-03-10")  # a re-run of the same day picks it up, dated the last processed day
    # u1 still counts on 3 March (deactivated that day); 4..10 March: 7 seat-days × 100 = 700 back
    assert _kind(api, "charge_correction") == [("2026-03-10", "700")]
    assert api.state("acme")["seats"] == 1


def test_late_event_reaching_into_the_previous_month(api):
    _setup(api)
    api.run("2026-04-02")
    api.event("seat.activated", "acme", "2026-03-30T10:00:00+02:00", user_id="u3")
    api.run("2026-04-03")
    # March: 30 and 31 March, 2 × 100 = 200
    # April (30 days, 3,100/30 a seat-day): 2 seats on 1..2 April were R(413.33) = 413;
    # with 3 seats R(620.00) = 620: 207 more
    assert sorted(_kind(api, "charge_correction")) == [("2026-04-03", "-200"), ("2026-04-03", "-207")]
    april = [c for c in api.charges("acme") if c["date"].startswith("2026-04")]
    # 3 April with 3 seats: R(930) − 620 = 310
    assert april[-1]["amount"] == "-310"


def test_replay_of_late_events_in_order_gives_the_same_total(api):
    """The corrections make the totals what they would have been with the events on time."""
    _setup(api)
    api.run("2026-03-31")
    api.event("seat.activated", "acme", "2026-03-10T10:00:00+01:00", user_id="u3")
    api.event("seat.deactivated", "acme", "2026-03-20T10:00:00+01:00", user_id="u3")
    api.run("2026-03-31")
    # u3 on 10..20 March = 11 seat-days = 1,100; 2 seats all month = 6,200
    total = -sum(int(e["amount"]) for e in api.ledger("acme") if e["kind"] in ("charge", "charge_correction"))
    assert total == 6200 + 1100
