"""Event ingestion (idempotency, all-or-nothing batches, bad input) and key scopes, over HTTP."""
from __future__ import annotations

CREATED = {"id": "c1", "type": "account.created", "account_id": "acme", "occurred_at": "2026-03-02T10:00:00+01:00",
           "data": {"name": "Acme Kft.", "country": "HU", "currency": "HUF", "plan": "std",
                    "tax_number": "12345676-2-41"}}


def _seat(id_, user="u1", at="2026-03-02T11:00:00+01:00", account="acme", kind="seat.activated"):
    return {"id": id_, "type": kind, "account_id": account, "occurred_at": at, "data": {"user_id": user}}


def _event_count(api, account="acme"):
    response = api.get(f"/v1/accounts/{account}", expect=None)
    return response.status_code, (response.json().get("seats") if response.status_code == 200 else None)


def test_same_event_twice_is_a_duplicate_and_another_body_a_conflict(api):
    api.plan()
    assert api.post("/v1/events", CREATED).status_code == 201
    again = api.post("/v1/events", CREATED)
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    changed = {**CREATED, "data": {**CREATED["data"], "name": "Other Kft."}}
    conflict = api.post("/v1/events", changed)
    assert conflict.status_code == 409
    assert api.state("acme")["name"] == "Acme Kft."


def test_a_batch_with_one_bad_event_stores_nothing_and_names_each_problem(api):
    api.plan()
    batch = [CREATED, _seat("s1"), _seat("s2", user=""), {**_seat("s3"), "occurred_at": "2026-03-02"},
             {"id": "p1", "type": "payment.received", "account_id": "acme", "occurred_at": "2026-03-03T10:00:00+01:00",
              "data": {"amount": 100.5, "currency": "HUF", "method": "card"}}]
    response = api.post("/v1/events", {"events": batch})
    assert response.status_code == 422
    errors = response.json()["details"]["errors"]
    assert {(e["index"], e["field"]) for e in errors} == {(2, "data.user_id"), (3, "occurred_at"), (4, "data.amount")}
    assert api.get("/v1/accounts/acme", expect=404)


def test_semantic_errors_are_rejected_and_change_nothing(api):
    api.plan()
    cases = [
        (_seat("x1", account="nobody"), "account_id"),  # unknown account
        ({**CREATED, "id": "c2", "data": {**CREATED["data"], "plan": "missing"}}, "data.plan"),  # unknown plan
    ]
    for event, field in cases:
        response = api.post("/v1/events", event)
        assert response.status_code == 422, response.text
        assert response.json()["details"]["errors"][0]["field"] == field
    api.post("/v1/events", CREATED, expect=201)
    early = _seat("s-early", at="2026-03-01T10:00:00+01:00")  # before account.created
    assert api.post("/v1/events", early).status_code == 422
    wrong_currency = {"id": "p1", "type": "payment.received", "account_id": "acme",
                      "occurred_at": "2026-03-03T10:00:00+01:00",
                      "data": {"amount": "100", "currency": "EUR", "method": "card"}}
    assert api.post("/v1/events", wrong_currency).json()["details"]["errors"][0]["field"] == "data.currency"
    assert api.state("acme")["seats"] == 0
    assert api.ledger("acme") == []


def test_seat_events_after_termination_are_rejected(api):
    api.plan()
    api.post("/v1/events", CREATED, expect=201)
    api.post("/v1/events", {"id": "t1", "type": "account.terminated", "account_id": "acme",
                            "occurred_at": "2026-03-05T10:00:00+01:00", "data": {"by": "customer"}}, expect=201)
    late_seat = _seat("s9", at="2026-03-06T10:00:00+01:00")
    response = api.post("/v1/events", late_seat)
    assert response.status_code == 422 and "terminated" in response.text


def test_malformed_json_and_oversized_batches(api):
    response = api.client.post("/v1/events", content=b"{not json", headers={**api.headers, "content-type": "application/json"})
    assert response.status_code == 422
    api.plan()
    too_many = {"events": [_seat(f"s{i}") for i in range(1001)]}
    assert api.post("/v1/events", too_many).status_code == 422


def test_keys_and_scopes(api):
    api.plan()
    api.post("/v1/events", CREATED, expect=201)
    api.post("/v1/events", {**CREATED, "id": "c-other", "account_id": "other"}, expect=201)
    assert api.client.get("/v1/accounts/acme").status_code == 401
    assert api.client.get("/v1/accounts/acme", headers={"Authorization": "Bearer wrong"}).status_code == 401
    key = api.post("/v1/accounts/acme/keys", expect=201).json()["key"]
    customer = {"Authorization": f"Bearer {key}"}
    assert api.client.get("/v1/accounts/acme", headers=customer).status_code == 200
    assert api.client.get("/v1/accounts/other", headers=customer).status_code in (403, 404)
    assert api.client.get("/v1/accounts/other/documents", headers=customer).status_code in (403, 404)
    assert api.client.post("/v1/events", json=_seat("s1"), headers=customer).status_code == 403
    assert api.client.post("/v1/clock/run", json={"until": "2026-03-03"}, headers=customer).status_code == 403
    assert api.client.post("/v1/plans", json={"code": "x", "name": "x", "currency": "HUF",
                                              "monthly_seat_price": "1"}, headers=customer).status_code == 403


def test_customer_sees_only_its_own_documents(api):
    api.plan()
    for account in ("acme", "other"):
        api.post("/v1/events", {**CREATED, "id": f"c-{account}", "account_id": account,
                                "data": {**CREATED["data"], "trial_days": 0}}, expect=201)
        api.post("/v1/events", _seat(f"s-{account}", account=account), expect=201)
    api.run("2026-03-02")
    other_doc = api.documents("other")[0]["number"]
    key = api.post("/v1/accounts/acme/keys", expect=201).json()["key"]
    customer = {"Authorization": f"Bearer {key}"}
    assert api.client.get(f"/v1/documents/{other_doc}", headers=customer).status_code in (403, 404)
    assert api.client.get(f"/v1/documents/{other_doc}.pdf", headers=customer).status_code in (403, 404)
    own = api.documents("acme")[0]["number"]
    assert api.client.get(f"/v1/documents/{own}", headers=customer).status_code == 200
    pdf = api.client.get(f"/v1/documents/{own}.pdf", headers=customer)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_clock_run_is_idempotent(api):
    api.plan()
    api.post("/v1/events", {**CREATED, "data": {**CREATED["data"], "trial_days": 0}}, expect=201)
    api.post("/v1/events", _seat("s1"), expect=201)
    api.run("2026-03-25")
    ledger, documents = api.ledger("acme"), api.documents("acme")
    api.run("2026-03-25")
    api.run("2026-03-10")
    assert api.ledger("acme") == ledger and api.documents("acme") == documents


def test_the_account_view_follows_the_business_day(api):
    api.plan()
    api.post("/v1/events", {**CREATED, "data": {**CREATED["data"], "trial_days": 0}}, expect=201)
    api.post("/v1/events", _seat("s1"), expect=201)
    before_any_run = api.state("acme")  # a new account shows at once, as of its latest event's day
    assert (before_any_run["state"], before_any_run["seats"], before_any_run["processed_through"]) == \
        ("awaiting_payment", 1, None)
    api.run("2026-03-20")
    api.post("/v1/events", {"id": "p-later", "type": "payment.received", "account_id": "acme",
                            "occurred_at": "2026-03-25T09:00:00+01:00",
                            "data": {"amount": "50000", "currency": "HUF", "method": "card"}}, expect=201)
    waiting = api.state("acme")  # dated after the last run: it waits for the run that reaches it
    assert waiting["state"] == "awaiting_payment" and waiting["as_of"] == "2026-03-20"
    assert waiting["balance"].startswith("-")
    api.run("2026-03-25")
    assert api.state("acme")["state"] == "active"
