"""The lists and the MRR report over HTTP, on SQLite and PostgreSQL: the e2e `api` fixture and a CRM
and a finance key (the world they are tried on is in world.py)."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import api  # noqa: F401  (re-exported fixture)
from tests.fakes.vies_server import FakeVies
from tests.lists.world import CRM_KEY, FINANCE_KEY


@pytest.fixture(autouse=True)
def vies(api, monkeypatch):  # noqa: F811
    """The loopback VIES, every number valid: the world's EU business is reverse-charged on its word
    (CONTRACT §6; without a VIES answer it would pay Hungarian VAT). After `api`, which unsets VIES_URL."""
    with FakeVies() as server:
        monkeypatch.setenv("VIES_URL", server.url)
        yield server


@pytest.fixture(autouse=True)
def back_office_keys(monkeypatch):
    monkeypatch.setenv("BILLING_CRM_KEY", CRM_KEY)
    monkeypatch.setenv("BILLING_FINANCE_KEY", FINANCE_KEY)
