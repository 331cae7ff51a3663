"""A webhook endpoint's signing secret is stored encrypted under BILLING_SECRET_KEY, used in clear
for signing, readable after a key rotation, and unreadable with another key."""
from __future__ import annotations

import hashlib
import hmac

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from billing.db import secrets
from billing.webhooks.delivery import RetryPolicy, deliver_pending
from tests.exports.story import make_client, open_accounts, post, run
from tests.webhooks.receiver import Receiver

SECRET = "whsec_at_rest_0123456789"


@pytest.fixture
def key(monkeypatch):
    value = Fernet.generate_key().decode()
    monkeypatch.setenv("BILLING_SECRET_KEY", value)
    return value


def stored_secret(client) -> str:
    with client.app.state.engine.connect() as connection:
        return connection.execute(text("SELECT secret FROM webhook_endpoints")).scalar_one()


def test_the_secret_is_stored_encrypted_and_signs_in_clear(db_url, monkeypatch, key):
    client = make_client(db_url, monkeypatch)
    with Receiver() as receiver:
        answer = post(client, "/v1/webhooks/endpoints", {"url": receiver.url, "secret": SECRET}, expect=201)
        assert answer["secret"] == SECRET  # shown once, in the answer
        raw = stored_secret(client)
        assert raw.startswith("fernet:") and SECRET not in raw
        assert Fernet(key.encode()).decrypt(raw.removeprefix("fernet:").encode()).decode() == SECRET
        open_accounts(client)
        run(client, "2026-03-16")
        deliver_pending(client.app.state.factory, policy=RetryPolicy(timeout_s=5))
        assert receiver.requests, "the conversion's notices were delivered"
        for headers, body in receiver.requests:
            timestamp, signature = (part.split("=", 1)[1] for part in headers["billing-signature"].split(","))
            expected = hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
            assert signature == expected


def test_a_rotated_key_still_reads_and_a_foreign_key_does_not(monkeypatch, key):
    sealed = secrets.seal(SECRET)
    monkeypatch.setenv("BILLING_SECRET_KEY", f"{Fernet.generate_key().decode()},{key}")  # new key first
    assert secrets.unseal(sealed) == SECRET
    assert secrets.unseal(secrets.seal(SECRET)) == SECRET
    monkeypatch.setenv("BILLING_SECRET_KEY", Fernet.generate_key().decode())
    with pytest.raises(secrets.SecretUnreadable):
        secrets.unseal(sealed)
    assert secrets.unseal("whsec_stored_before_encryption") == "whsec_stored_before_encryption"
