"""CRM webhooks end to end on SQLite and PostgreSQL: a loopback receiver that fails at first."""
from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from sqlalchemy import select

from billing.db.models import Notice
from billing.webhooks.delivery import RetryPolicy, deliver_pending, sign, verify_signature
from tests.exports.story import HEADERS, full_story, make_client, open_accounts, post
from tests.webhooks.receiver import Receiver

POLICY = RetryPolicy(base_delay_s=30, max_attempts=4, timeout_s=5)


def _expected_signature(secret: str, timestamp: int, body: bytes) -> str:
    """The documented header, computed here and not by the code under test:
    `t=<t>,v1=<hex HMAC-SHA256(secret, "<t>." + raw body)>`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@pytest.fixture
def client(db_url, monkeypatch):
    return make_client(db_url, monkeypatch)


@pytest.fixture
def http():
    with httpx.Client(timeout=5, trust_env=False) as client:  # loopback only, never a proxy
        yield client


def _notice_ids(client) -> list[str]:
    with client.app.state.factory() as session:
        return list(session.scalars(select(Notice.event_id).order_by(Notice.id)))


def test_every_notice_arrives_signed_after_failures(client, http):
    with Receiver(fail_first=3) as crm:
        created = post(client, "/v1/webhooks/endpoints", {"url": crm.url}, expect=201)
        secret = created["secret"]
        assert secret.startswith("whsec_")
        listed = client.get("/v1/webhooks/endpoints", headers=HEADERS).json()["endpoints"]
        assert listed[0]["url"] == crm.url and "secret" not in listed[0]
        full_story(client)
        expected = _notice_ids(client)
        assert any(e.startswith("access.changed:acme:") and e.endswith(":terminated") for e in expected)
        assert "document.issued:INV-2026-000001" in expected

        t0 = datetime.now(timezone.utc)
        first = deliver_pending(client.app.state.factory, t0, policy=POLICY, client=http)
        assert first["fanned_out"] == len(expected) and first["retry"] == 3
        # too early for the 3 failures' retry (30 s after the first attempt)
        assert deliver_pending(client.app.state.factory, t0 + timedelta(seconds=10), policy=POLICY,
                               client=http)["retry"] == 0
        second = deliver_pending(client.app.state.factory, t0 + timedelta(seconds=31), policy=POLICY, client=http)
        assert second["delivered"] == 3

        seen: dict[str, dict] = {}
        assert len(crm.requests) == len(expected) + 3  # every notice once, the 3 failures twice
        for headers, body in crm.requests:
            header = headers["billing-signature"]
            timestamp = int(header.split(",", 1)[0].removeprefix("t="))
            assert abs(timestamp - t0.timestamp()) < 120  # signed when sent, in unix seconds
            assert header == _expected_signature(secret, timestamp, body)
            assert verify_signature(secret, header, body, now=t0.timestamp() + 31)
            payload = json.loads(body)
            assert headers["billing-event-id"] == payload["id"]
            seen[payload["id"]] = payload  # the receiver's de-duplication: by event id
        assert sorted(seen) == sorted(expected)
        access = [p["data"] for p in seen.values() if p["type"] == "access.changed"]
        assert {a["access"] for a in access} >= {"full", "closed"}

    endpoint = client.get("/v1/webhooks/endpoints", headers=HEADERS).json()["endpoints"][0]
    assert endpoint["deliveries"] == {"pending": 0, "delivered": len(expected), "dead": 0}
    assert deliver_pending(client.app.state.factory, t0 + timedelta(hours=1), policy=POLICY, client=http) == {
        "fanned_out": 0, "delivered": 0, "retry": 0, "dead": 0}


def test_exponential_backoff_then_dead_letter_and_retry(client, http):
    with Receiver(fail_first=10**6, status=503) as crm:
        endpoint = post(client, "/v1/webhooks/endpoints", {"url": crm.url, "secret": "s" * 32}, expect=201)
        assert endpoint["secret"] == "s" * 32
        full_story(client)
        factory, t = client.app.state.factory, datetime.now(timezone.utc)
        total = len(_notice_ids(client))
        result = deliver_pending(factory, t, policy=POLICY, client=http)
        assert result["retry"] == total
        # the next attempts wait 30 s, then 60 s, then 120 s; the 4th failure is final
        for wait in (30, 60, 120):
            early = deliver_pending(factory, t + timedelta(seconds=wait - 1), policy=POLICY, client=http)
            assert early["retry"] == early["dead"] == 0
            t += timedelta(seconds=wait)
            result = deliver_pending(factory, t, policy=POLICY, client=http)
        assert result["dead"] == total
        assert len(crm.requests) == 4 * total
    dead = client.get("/v1/webhooks/dead-letters", headers=HEADERS).json()["dead_letters"]
    assert len(dead) == total and dead[0]["attempts"] == 4 and dead[0]["last_status_code"] == 503
    with Receiver() as crm_back:
        # the CRM is back at a new address: point a new endpoint there, and requeue a dead letter
        retried = post(client, f"/v1/webhooks/dead-letters/{dead[0]['id']}/retry", None, expect=200)
        assert retried["status"] == "pending"
        assert len(client.get("/v1/webhooks/dead-letters", headers=HEADERS).json()["dead_letters"]) == total - 1
        post(client, "/v1/webhooks/endpoints", {"url": crm_back.url, "deliver_history": False}, expect=201)
        deliver_pending(factory, datetime.now(timezone.utc) + timedelta(seconds=1), policy=POLICY, client=http)
        assert crm_back.requests == []  # no history asked for, and nothing new happened


def test_endpoint_input_and_scopes(client):
    bad = client.post("/v1/webhooks/endpoints", json={"url": "ftp://x", "secret": "short"}, headers=HEADERS)
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["details"]["errors"]} == {"url", "secret"}
    open_accounts(client)
    key = client.post("/v1/accounts/acme/keys", headers=HEADERS).json()["key"]
    customer = {"Authorization": f"Bearer {key}"}
    assert client.get("/v1/webhooks/endpoints", headers=customer).status_code == 403
    assert client.get("/v1/webhooks/dead-letters", headers=customer).status_code == 403


def test_verify_signature():
    body = b'{"id":"x"}'
    # hmac-sha256("secret", b'1700000000.{"id":"x"}'), computed independently
    header = _expected_signature("secret", 1_700_000_000, body)
    assert sign("secret", 1_700_000_000, body) == header
    assert verify_signature("secret", header, body, now=1_700_000_100)
    assert not verify_signature("secret", header, body, tolerance=60, now=1_700_000_100)  # replayed late
    assert not verify_signature("other", header, body, now=1_700_000_000)
    assert not verify_signature("secret", header, body + b" ", now=1_700_000_000)
    assert not verify_signature("secret", "v1=abc", body, now=1_700_000_000)
    assert not verify_signature("secret", None, body)
    rotated = header + ",v1=" + "0" * 64
    assert verify_signature("secret", rotated, body.decode(), now=1_700_000_000)
