"""The service over HTTP (TestClient on service.create_app) with its own zeep clients talking real
SOAP over real HTTP to loopback stand-ins of MNB and VIES (tests/fakes/mnb_server.py,
vies_server.py): MNB_URL and VIES_URL point at them, nothing is injected. On SQLite and PostgreSQL."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.e2e.conftest import ADMIN
from tests.e2e.conftest import Api as BaseApi
from tests.fakes.mnb_server import FakeMnb
from tests.fakes.vies_server import FakeVies


class Api(BaseApi):
    def document(self, number: str) -> dict:
        return self.get(f"/v1/documents/{number}").json()

    def only(self, account: str, kind: str) -> dict:
        """The one document of that kind, as GET /v1/documents/{number} shows it."""
        found = self.documents(account, kind)
        assert len(found) == 1, found
        return self.document(found[0]["number"])


@pytest.fixture
def mnb():
    with FakeMnb() as server:
        yield server
    assert server.problems == [], server.problems  # every request was one the real MNB accepts


@pytest.fixture
def vies():
    with FakeVies() as server:
        yield server
    assert server.problems == [], server.problems


@pytest.fixture
def api(db_url, monkeypatch, mnb, vies):
    monkeypatch.setenv("BILLING_ADMIN_KEY", ADMIN)
    for name in ("STRIPE_API_KEY", "NAV_LOGIN", "BILLING_FINANCE_KEY", "BILLING_CRM_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MNB_URL", mnb.url)
    monkeypatch.setenv("VIES_URL", vies.url)
    from service import create_app

    app = create_app(db_url)
    with TestClient(app) as client:
        yield Api(client)
    app.state.engine.dispose()
