"""Every figure can be re-derived by replaying the stored events from empty."""
from __future__ import annotations

from sqlalchemy import select

from billing.db.models import Event


def _scenario(api):
    api.plan(price="9990", discount="10")
    api.account("acme", at="2026-03-02T10:00:00+01:00")
    api.seats("acme", "2026-03-02T10:05:00+01:00", "u1", "u2")
    api.run("2026-03-17")
    api.pay("acme", "2026-03-18T09:00:00+01:00", "9000")
    api.seats("acme", "2026-03-21T09:00:00+01:00", "u3")
    api.run("2026-03-25")
    api.event("seat.deactivated", "acme", "2026-04-02T09:00:00+02:00", user_id="u1")
    api.pay("acme", "2026-04-03T09:00:00+02:00", "20000")
    api.run("2026-04-15")
    api.event("account.terminated", "acme", "2026-04-16T12:00:00+02:00", by="customer")
    api.run("2026-04-30")


def _figures(api):
    ledger = [(e["date"], e["kind"], e["amount"], e["balance_after"]) for e in api.ledger("acme")]
    documents = [(d["number"], d["kind"], d["issue_date"], d["gross"], d["net"], d["vat"], d["status"])
                 for d in api.documents("acme")]
    return ledger, documents, api.state("acme")


def test_replay_from_empty_gives_the_same_figures(api, db_url, tmp_path, monkeypatch):
    _scenario(api)
    live = _figures(api)
    factory = api.client.app.state.factory
    with factory() as session:
        stored = [{"id": e.id, "type": e.type, "account_id": e.account_id,
                   "occurred_at": e.occurred_at.isoformat(), "data": {k: v for k, v in e.data.items()
                                                                       if v is not None}}
                  for e in session.scalars(select(Event).order_by(Event.seq))]
    from fastapi.testclient import TestClient

    from service import create_app
    from tests.e2e.conftest import Api

    fresh_app = create_app(f"sqlite:///{tmp_path / 'replay.db'}")
    with TestClient(fresh_app) as client:
        replay = Api(client)
        replay.plan(price="9990", discount="10")
        replay.post("/v1/events", {"events": stored}, expect=201)
        replay.run("2026-04-30")  # one jump over the whole history
        assert _figures(replay) == live
    fresh_app.state.engine.dispose()
