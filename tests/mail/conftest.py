"""A fresh service per test (SQLite and PostgreSQL) whose mail goes to a real local SMTP server."""
from __future__ import annotations

import io

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.e2e.conftest import ADMIN, Api
from tests.fakes.smtp_server import FakeSmtp


class MailApi(Api):
    def __init__(self, client, app, smtp) -> None:
        super().__init__(client)
        self.app, self.smtp = app, smtp

    def messages(self, account):
        return self.get(f"/v1/accounts/{account}/messages").json()["messages"]

    def outbox(self):
        from billing.db.models import MailMessage

        with self.app.state.factory() as session:
            return list(session.scalars(select(MailMessage).order_by(MailMessage.id)))


def pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def attachments(message) -> list[tuple[str, bytes]]:
    return [(part.get_filename(), part.get_content()) for part in message.iter_attachments()]


@pytest.fixture
def smtp():
    with FakeSmtp() as server:
        yield server


@pytest.fixture
def mail_env(monkeypatch, tmp_path):
    monkeypatch.setenv("BILLING_ADMIN_KEY", ADMIN)
    for name in ("VIES_URL", "MNB_URL", "STRIPE_API_KEY", "NAV_LOGIN", "SMTP_URL", "MAIL_SEND_AFTER_RUN",
                 "MAIL_RETRY_BASE_S", "MAIL_MAX_ATTEMPTS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MAIL_DIR", str(tmp_path / "mail"))
    monkeypatch.setenv("MAIL_FROM", "Számlázás <szamla@seller.example>")
    return monkeypatch


@pytest.fixture
def api(db_url, mail_env, smtp):
    mail_env.setenv("SMTP_URL", smtp.url)
    from service import create_app

    app = create_app(db_url)
    with TestClient(app) as client:
        yield MailApi(client, app, smtp)
    app.state.engine.dispose()
