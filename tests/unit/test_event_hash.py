"""The stored body_hash of an event must not change between versions: a re-post of an event stored
by an older version is a duplicate only if it hashes as it did then. The digests below were
computed by the first implementation, sha256(event.model_dump_json().encode())."""
from __future__ import annotations

import hashlib

import pytest

from billing.events import body_hash
from schemas.api import EVENT_BATCH

EVENTS = [
    ({"id": "c1", "type": "account.created", "account_id": "acme", "occurred_at": "2026-03-02T10:00:00+01:00",
      "data": {"name": " Árvíztűrő Kft. ", "country": "HU", "currency": "HUF", "plan": "std",
               "tax_number": "12345676-2-41", "address": {"city": "Budapest", "street": "Fő utca 1."}}},
     "478354b0a6f989bce93d48c8dad90147dcdf0d1d49b8ab4e7a1b6c169cd0205e"),
    ({"id": "s1", "type": "seat.activated", "account_id": "acme", "occurred_at": "2026-03-02T11:00:00Z",
      "data": {"user_id": "anna@acme.example"}},
     "69acb180b86c6c1d4c5507869001013df11bd7d512ec1d84278954dec5b8a54e"),
    ({"id": "p1", "type": "payment.received", "account_id": "acme", "occurred_at": "2026-03-18T09:00:00.5+01:00",
      "data": {"amount": "10312.50", "currency": "HUF", "method": "bank_transfer",
               "reference": "PRO-2026-000001 \"díjbekérő\""}},
     "680add5f20f73ff397bea0354b6b20766d89e9f2d8b5cab399e9a024e9d6e0e0"),
    ({"id": "t1", "type": "account.terminated", "account_id": "acme", "occurred_at": "2026-04-01T00:00:00+02:00",
      "data": {"by": "provider", "reason": "§13 late payment"}},
     "6c623ab9779f64a79d5c0062e8d04d7896df01bf3c67a9b74a84cfa841076d55"),
    ({"id": "pc", "type": "plan.changed", "account_id": "acme", "occurred_at": "2026-03-20T00:00:00+01:00",
      "data": {"plan": "pro"}},
     "47c602a438e07023d5d1cf2655ceee93437ad628e66c90258ad82d36fd3d83c4"),
]


@pytest.mark.parametrize("raw, digest", EVENTS, ids=[raw["type"] for raw, _ in EVENTS])
def test_body_hash_is_the_one_stored_by_earlier_versions(raw, digest):
    (event,) = EVENT_BATCH.validate_python([raw])
    assert body_hash(event) == digest
    assert body_hash(event) == hashlib.sha256(event.model_dump_json().encode()).hexdigest()
