"""CONTRACT §8 over HTTP on both engines: a German-speaking customer's trial, first proforma,
payment, reminder, overdue ×3, suspension, payment, access restored, invoice and termination.
Every day is run one by one; the SMTP server must get exactly the §8 messages on the right days,
each once, with its PDF in German; a rerun of every day sends nothing new."""
from __future__ import annotations

from datetime import date, timedelta

from tests.mail.conftest import attachments, pdf_text


def _days(first: str, last: str):
    day, end = date.fromisoformat(first), date.fromisoformat(last)
    while day <= end:
        yield day.isoformat()
        day += timedelta(days=1)


def test_the_journey_sends_each_message_once_on_its_day(api):
    api.plan(price="9990")
    # created 2 March, 14 trial days: conversion 16 March, so trial_ending on 13 March
    api.account("bolt", at="2026-03-02T10:00:00+01:00", locale="de", email="buchhaltung@bolt.example")
    api.seats("bolt", "2026-03-02T10:05:00+01:00", "u1", "u2")
    for day in _days("2026-03-02", "2026-03-17"):
        api.run(day)
    [first] = api.documents("bolt", "proforma")
    assert first["gross"] == "10312"  # R(2 × 9,990 × 16/31), due 24 March
    api.pay("bolt", "2026-03-18T09:00:00+01:00", "10312", reference=first["number"])  # no reminder for it then
    for day in _days("2026-03-18", "2026-05-01"):
        api.run(day)
    assert api.state("bolt")["state"] == "suspended"  # April's proforma (20 March, due 28 March) unpaid
    owed = [d for d in api.documents("bolt", "proforma") if d["status"] != "paid"]
    april, may = owed  # the 20 April proforma for May is overdue since 29 April too
    total = sum(int(d["gross"]) for d in owed)
    api.pay("bolt", "2026-05-02T09:00:00+02:00", str(total), reference=april["number"])
    api.event("account.terminated", "bolt", "2026-05-10T18:00:00+02:00", by="customer")
    for day in _days("2026-05-02", "2026-05-25"):
        api.run(day)

    docs = {d["number"]: d for d in api.documents("bolt")}
    invoices = sorted(n for n, d in docs.items() if d["kind"] == "invoice")
    notes = sorted(n for n, d in docs.items() if d["kind"] == "credit_note")
    assert len(invoices) == 2 and notes  # the refund of May's unused days reduces the invoices
    expected = [
        ("2026-03-13", "trial_ending", None),
        ("2026-03-16", "proforma_issued", first["number"]),
        ("2026-03-18", "invoice_issued", invoices[0]),
        ("2026-03-20", "proforma_issued", april["number"]),
        ("2026-03-25", "payment_reminder", april["number"]),    # due 28 March − 3
        ("2026-03-29", "overdue", april["number"]),             # due + 1
        ("2026-04-12", "overdue", april["number"]),             # due + 15
        ("2026-04-20", "proforma_issued", may["number"]),
        ("2026-04-22", "overdue", april["number"]),             # due + 25, names 28 April
        ("2026-04-25", "payment_reminder", may["number"]),      # due 28 April − 3
        ("2026-04-28", "suspended", april["number"]),           # due + 31
        ("2026-04-29", "overdue", may["number"]),               # May's proforma, due + 1
        ("2026-05-02", "invoice_issued", invoices[1]),
        ("2026-05-02", "access_restored", None),
        *[("2026-05-10", "credit_note_issued", n) for n in notes],
        ("2026-05-10", "terminated", None),
    ]
    listed = api.messages("bolt")
    assert sorted((m["day"], m["kind"], m["document"]) for m in listed) == sorted(expected)
    assert all(m["status"] == "sent" and m["to"] == "buchhaltung@bolt.example" for m in listed)

    received = api.smtp.received
    assert len(received) == len(expected)
    ids = [m["Message-ID"] for m in received]
    assert len(set(ids)) == len(ids)
    assert sorted(m["message_id"] for m in listed) == sorted(ids)
    by_id = {m["message_id"]: m for m in listed}
    for message in received:
        listed_one = by_id[message["Message-ID"]]
        # (the standard library's header folding may double a space where it folds)
        assert message["Subject"].split() == listed_one["subject"].split()
        assert message["To"] == "buchhaltung@bolt.example" and message["Content-Language"] == "de"
        assert message.get_body(("plain",)) is not None and message.get_body(("html",)) is not None
        files = attachments(message)
        if listed_one["kind"].endswith("_issued"):
            [(name, data)] = files
            assert name == f"{listed_one['document']}.pdf"
            text = pdf_text(data)
            assert listed_one["document"] in text
            title = {"proforma_issued": "PROFORMA-RECHNUNG", "invoice_issued": "RECHNUNG",
                     "credit_note_issued": "RECHNUNGSKORREKTUR"}[listed_one["kind"]]
            assert title in text and "Leistungsempfänger" in text  # the PDF in German
        else:
            assert files == []

    plain = {m["kind"] + m["day"]: received[ids.index(m["message_id"])].get_body(("plain",)).get_content()
             for m in listed}
    assert "Sehr geehrte" in plain["trial_ending2026-03-13"] and "16.03.2026" in plain["trial_ending2026-03-13"]
    assert "10.312\u00a0HUF" in plain["proforma_issued2026-03-16"]  # Babel's German money format, as on the PDF
    assert "PRO-2026-000001" in plain["proforma_issued2026-03-16"] and "11773016-11111018-00000000" in \
        plain["proforma_issued2026-03-16"]  # the bank account and the reference
    assert "/portal/bolt?token=" in plain["proforma_issued2026-03-16"]  # the pay-by-card link
    assert "28.04.2026" in plain["overdue2026-04-22"]        # the suspension day, due + 31
    assert "gesperrt" in plain["suspended2026-04-28"]
    assert "erstatten" in plain["terminated2026-05-10"] and "09.06.2026" in plain["terminated2026-05-10"]  # T + 30

    # A rerun of every day decides and sends nothing new.
    for day in _days("2026-03-02", "2026-05-25"):
        api.run(day)
    assert len(api.smtp.received) == len(expected)
    assert len(api.outbox()) == len(expected)
