"""The webhook worker stopped around its outside call (issue 9): nothing is lost, and a notice that
may have arrived is sent again with the same event id, so the receiver's de-duplication holds."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from sqlalchemy import select

import billing.webhooks.delivery as webhooks
from billing.db.models import Notice
from billing.webhooks.delivery import RetryPolicy, deliver_pending
from tests.exports.story import HEADERS, full_story, make_client, post
from tests.webhooks.receiver import Receiver

POLICY = RetryPolicy(base_delay_s=30, max_attempts=4, timeout_s=5)


@pytest.fixture
def client(db_url, monkeypatch):
    return make_client(db_url, monkeypatch)


class Crash(Exception):
    pass


@pytest.mark.parametrize("where", ["before_send", "after_send"])
def test_a_crash_around_the_call_loses_nothing(client, monkeypatch, where):
    factory = client.app.state.factory
    with Receiver() as crm, httpx.Client(timeout=5, trust_env=False) as http:
        post(client, "/v1/webhooks/endpoints", {"url": crm.url}, expect=201)
        full_story(client)
        with factory() as session:
            expected = sorted(session.scalars(select(Notice.event_id)))
        target = "_send" if where == "before_send" else "_record"
        real = getattr(webhooks, target)
        calls = {"n": 0}

        def crash_once(*args, **kwargs):
            # before_send: the lease is committed, the request never leaves;
            # after_send: the request went out, the commit that records it never happens.
            calls["n"] += 1
            if calls["n"] == 1:
                raise Crash()
            return real(*args, **kwargs)

        monkeypatch.setattr(webhooks, target, crash_once)
        t0 = datetime.now(timezone.utc)
        with pytest.raises(Crash):
            deliver_pending(factory, t0, policy=POLICY, client=http)
        # the crashed delivery keeps its lease; after it expires a restarted worker sends it again
        later = t0 + timedelta(seconds=POLICY.lease_s + 1)
        deliver_pending(factory, later, policy=POLICY, client=http)
        deliver_pending(factory, later + timedelta(seconds=1), policy=POLICY, client=http)
        received = [json.loads(body)["id"] for _, body in crm.requests]
        assert sorted(set(received)) == expected  # every notice arrived
        duplicates = len(received) - len(set(received))
        assert duplicates == (1 if where == "after_send" else 0)  # at least once, never lost
        endpoint = client.get("/v1/webhooks/endpoints", headers=HEADERS)
        assert endpoint.json()["endpoints"][0]["deliveries"]["delivered"] == len(expected)
