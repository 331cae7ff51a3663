"""The outbox against a real SMTP server: refusals retried with backoff, dead after N attempts or at
once on a permanent refusal, a crash between send and mark resent with the same Message-ID, the
.eml mode, STARTTLS and SMTPS with AUTH, and the unique key under a decision made twice."""
from __future__ import annotations

import email
from datetime import datetime, timedelta, timezone
from email import policy

import pytest
from fastapi.testclient import TestClient

from billing.mail import outbox
from billing.mail.transport import DeliveryError, EmlDirectory, SmtpTransport
from tests.e2e.conftest import ADMIN
from tests.fakes.smtp_server import FakeSmtp
from tests.mail.conftest import MailApi, pdf_text

T0 = datetime.now(timezone.utc)


@pytest.fixture(autouse=True)
def _t0():
    """The test's clock: a little after the rows the test makes (their first attempt is due at once)."""
    global T0
    T0 = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(minutes=5)


@pytest.fixture
def quiet(db_url, mail_env):
    """A service whose cycle leaves the sending to the test (MAIL_SEND_AFTER_RUN=0), so each
    attempt happens at a time the test gives."""
    mail_env.setenv("MAIL_SEND_AFTER_RUN", "0")
    from service import create_app

    app = create_app(db_url)
    with TestClient(app) as client:
        api = MailApi(client, app, None)
        api.plan()
        api.account("acme", at="2026-03-02T10:00:00+01:00", locale="en")
        api.seats("acme", "2026-03-02T10:05:00+01:00", "u1")
        api.run("2026-03-12")  # nothing to say yet
        yield api
    app.state.engine.dispose()


def _config(**kw):
    base = {"mail_from": "Billing <billing@seller.example>", "max_attempts": 4, "retry_base_s": 60.0,
            "retry_max_s": 3600.0, "lease_s": 300.0}
    return outbox.MailConfig(**{**base, **kw})


def test_a_refusing_server_is_retried_with_backoff_and_sends_once(quiet):
    quiet.run("2026-03-13")  # trial_ending
    with FakeSmtp(refuse=[451, 451]) as smtp:
        send = lambda at: outbox.send_pending(quiet.app.state.factory, SmtpTransport(smtp.url), at, _config())
        assert send(T0) == {"sent": 0, "retry": 1, "dead": 0}
        [row] = quiet.outbox()
        assert row.status == "pending" and row.next_attempt_at == T0 + timedelta(seconds=60)  # base × 2^0
        assert send(T0 + timedelta(seconds=59)) == {"sent": 0, "retry": 0, "dead": 0}  # not yet due
        assert send(T0 + timedelta(seconds=60)) == {"sent": 0, "retry": 1, "dead": 0}
        [row] = quiet.outbox()
        assert row.next_attempt_at == T0 + timedelta(seconds=60 + 120)  # base × 2^1
        assert send(T0 + timedelta(seconds=180)) == {"sent": 1, "retry": 0, "dead": 0}
        assert send(T0 + timedelta(days=1)) == {"sent": 0, "retry": 0, "dead": 0}
        assert smtp.attempts == 3 and len(smtp.received) == 1
        [row] = quiet.outbox()
        assert row.status == "sent" and row.attempts == 3 and smtp.received[0]["Message-ID"] == row.message_id
    [listed] = quiet.messages("acme")
    assert listed["status"] == "sent" and listed["kind"] == "trial_ending" and listed["day"] == "2026-03-13"


def test_dead_after_the_last_attempt_listed_for_finance_and_counted(quiet, mail_env):
    mail_env.setenv("BILLING_FINANCE_KEY", "fin-key")
    quiet.run("2026-03-13")
    with FakeSmtp(refuse=[451] * 10) as smtp:
        at = T0
        for _ in range(4):
            outbox.send_pending(quiet.app.state.factory, SmtpTransport(smtp.url), at, _config())
            at += timedelta(hours=2)
        assert smtp.attempts == 4 and smtp.received == []
    [row] = quiet.outbox()
    assert row.status == "dead" and row.attempts == 4 and "451" in row.last_error
    finance = {"Authorization": "Bearer fin-key"}
    dead = quiet.get("/v1/messages", params={"status": "dead"}, headers=finance).json()["items"]
    assert [(m["kind"], m["account_id"]) for m in dead] == [("trial_ending", "acme")]
    quiet.get("/v1/messages", headers={"Authorization": "Bearer " + quiet.post(
        "/v1/accounts/acme/keys", expect=201).json()["key"]}, expect=403)  # finance's list only
    metrics = quiet.get("/metrics", headers=finance).text
    assert "billing_mail_dead_letters 1.0" in metrics and "billing_mail_outbox_pending 0.0" in metrics


def test_a_permanent_refusal_is_dead_at_once(quiet):
    quiet.run("2026-03-13")
    with FakeSmtp(refuse=[550]) as smtp:
        assert outbox.send_pending(quiet.app.state.factory, SmtpTransport(smtp.url), T0, _config()) == \
            {"sent": 0, "retry": 0, "dead": 1}
    [row] = quiet.outbox()
    assert row.status == "dead" and row.attempts == 1


def test_pending_is_counted_in_the_metrics(quiet, mail_env):
    mail_env.setenv("BILLING_FINANCE_KEY", "fin-key")
    quiet.run("2026-03-16")  # trial_ending and the first proforma, not sent yet
    assert "billing_mail_outbox_pending 2.0" in quiet.get("/metrics", headers={"Authorization": "Bearer fin-key"}).text


class _CrashAfterSend:
    """Delivers, then dies before the outbox hears of it (a process killed between send and mark)."""

    def __init__(self, inner):
        self.inner = inner

    def __enter__(self):
        self.inner.__enter__()
        return self

    def __exit__(self, *exc):
        self.inner.__exit__(*exc)

    def describe(self):
        return "crashing"

    def send(self, message):
        self.inner.send(message)
        raise KeyboardInterrupt("killed")


def test_a_crash_between_send_and_mark_resends_with_the_same_message_id(quiet):
    quiet.run("2026-03-13")
    factory = quiet.app.state.factory
    with FakeSmtp() as smtp:
        with pytest.raises(KeyboardInterrupt):
            outbox.send_pending(factory, _CrashAfterSend(SmtpTransport(smtp.url)), T0, _config())
        [row] = quiet.outbox()
        assert row.status == "sending" and len(smtp.received) == 1
        # its claim has not run out: another sender leaves it alone
        assert outbox.send_pending(factory, SmtpTransport(smtp.url), T0 + timedelta(seconds=299), _config()) == \
            {"sent": 0, "retry": 0, "dead": 0}
        assert outbox.send_pending(factory, SmtpTransport(smtp.url), T0 + timedelta(seconds=301), _config()) == \
            {"sent": 1, "retry": 0, "dead": 0}
        first, again = smtp.received
        assert first["Message-ID"] == again["Message-ID"] == quiet.outbox()[0].message_id
        assert quiet.outbox()[0].status == "sent"


def test_without_smtp_url_each_message_is_an_eml_file(quiet, tmp_path):
    quiet.run("2026-03-16")
    counts = outbox.send_pending(quiet.app.state.factory, None, T0, _config())  # MAIL_DIR from mail_env
    assert counts == {"sent": 2, "retry": 0, "dead": 0}
    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert sorted(f.name.split("-", 1)[1] for f in files) == ["proforma_issued.eml", "trial_ending.eml"]
    [proforma] = [f for f in files if "proforma" in f.name]
    message = email.message_from_bytes(proforma.read_bytes(), policy=policy.default)
    [part] = list(message.iter_attachments())
    assert "PROFORMA – not an invoice" in pdf_text(part.get_content())  # in the account's language (en)
    assert message["From"] == "Billing <billing@seller.example>" and message["To"] == "billing@acme.example"


def test_an_eml_resend_overwrites_its_own_file(tmp_path):
    from email.message import EmailMessage

    message = EmailMessage()
    message["X-Billing-Message"] = "00000007-overdue"
    message.set_content("one")
    transport = EmlDirectory(tmp_path)
    transport.send(message)
    transport.send(message)
    assert [f.name for f in tmp_path.iterdir()] == ["00000007-overdue.eml"]


@pytest.mark.parametrize("tls", ["starttls", "smtps"])
def test_tls_and_auth(tls, quiet, monkeypatch):
    quiet.run("2026-03-13")
    with FakeSmtp(tls=tls) as smtp:
        # the self-signed certificate is refused unless it is the configured CA
        with pytest.raises(DeliveryError):
            with SmtpTransport(smtp.url) as plain:
                plain.send(_probe())
        monkeypatch.setenv("SMTP_URL", smtp.url)
        monkeypatch.setenv("SMTP_CA_FILE", smtp.ca_file)
        assert outbox.send_pending(quiet.app.state.factory, None, T0, _config()) == {"sent": 1, "retry": 0, "dead": 0}
        assert len(smtp.received) == 1


def _probe():
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "a@seller.example", "b@buyer.example", "probe"
    message.set_content("probe")
    return message


def test_an_account_without_email_is_dead_at_once(db_url, mail_env):
    mail_env.setenv("MAIL_SEND_AFTER_RUN", "0")
    from service import create_app

    app = create_app(db_url)
    with TestClient(app) as client:
        api = MailApi(client, app, None)
        api.plan()
        api.account("mute", at="2026-03-02T10:00:00+01:00", email=None)
        api.run("2026-03-13")
        assert outbox.send_pending(app.state.factory, EmlDirectory("/nonexistent"), T0, _config())["dead"] == 1
        [row] = api.outbox()
        assert row.last_error == "the account has no e-mail address"
    app.state.engine.dispose()


def test_a_message_decided_twice_is_stored_once(quiet):
    """The unique (account, key) with ON CONFLICT DO NOTHING: a second transaction deciding the
    same message (a rerun, a retried chunk, a second process) adds nothing."""
    from billing.cycle import write
    from billing.db.base import utcnow
    from billing.mail.decide import MessageDraft
    from billing.mail.store import message_row
    from datetime import date

    draft = MessageDraft("suspended", "suspended:2026-04-28", date(2026, 4, 28), None, {"day": "2026-04-28"})
    for _ in range(2):
        with quiet.app.state.factory.begin() as session:
            session.info["row_buffer"] = {}
            write.add_row(session, *message_row("acme", "billing@acme.example", "en", draft, utcnow()))
            write.add_row(session, *message_row("acme", "billing@acme.example", "en", draft, utcnow()))
            write.flush_rows(session)
    assert [row.key for row in quiet.outbox()] == ["suspended:2026-04-28"]


def test_a_customer_key_sees_its_own_messages_only(api):
    api.plan()
    for account in ("acme", "other"):
        api.account(account, at="2026-03-02T10:00:00+01:00")
    api.run("2026-03-13")
    key = api.post("/v1/accounts/acme/keys", expect=201).json()["key"]
    own = api.get("/v1/accounts/acme/messages", headers={"Authorization": f"Bearer {key}"}).json()["messages"]
    assert [m["kind"] for m in own] == ["trial_ending"]
    api.get("/v1/accounts/other/messages", headers={"Authorization": f"Bearer {key}"}, expect=404)
    assert ADMIN
