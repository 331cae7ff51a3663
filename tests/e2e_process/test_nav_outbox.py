"""An invoice the cycle issues travels through the NAV outbox of a real `billing serve` process to
the NAV simulator and comes back DONE in GET /v1/accounts/{id}/documents (CONTRACT §6, §7), on
SQLite and PostgreSQL; a rejection and a wrong signature key are visible too.

The served process gets NAV_* from the simulator (BILLING_WORKERS=0, so nothing is sent until the
test asks: POST /v1/nav/submit with the finance key sends the outbox and polls once). The
simulator answers the first status query with the final status (polls_until_final = 0).
"""
from __future__ import annotations

from lxml import etree

from tests.e2e_process.conftest import (
    ADMIN,
    REPO,
    SELLER_ENV,
    bill_until_first_invoice,
    terminated,
)

FINANCE = "e2e-process-finance-key"
CRM = "e2e-process-crm-key"
DATA = "{http://schemas.nav.gov.hu/OSA/3.0/data}"


def _nav_statuses(c, account_id="bolt") -> dict[str, tuple[str, str | None]]:
    return {d["number"]: (d["kind"], d["nav_status"]) for d in c.documents(account_id)}


def _manage_invoice_requests(sim) -> int:
    return sum(1 for operation, _ in sim.requests if operation == "manageInvoice")


def _validates_officially(data: bytes) -> list[str]:
    shared = REPO.parent / "shared" / "nav" / "xsd" / "invoiceData.xsd"
    path = shared if shared.exists() else REPO / "schemas" / "nav" / "invoiceData.xsd"
    schema = etree.XMLSchema(etree.parse(str(path)))
    return [] if schema.validate(etree.fromstring(data)) else [str(e) for e in schema.error_log][:5]


def test_invoice_is_reported_done_and_a_rejection_is_listed(serve, nav_sim):
    server = serve(**SELLER_ENV, **nav_sim.env(), BILLING_FINANCE_KEY=FINANCE, BILLING_CRM_KEY=CRM)
    c, finance, crm = server.client(ADMIN), server.client(FINANCE), server.client(CRM)
    proforma, invoice = bill_until_first_invoice(c)

    # Issued in the cycle's transaction, so queued; nothing went to NAV yet (no background worker).
    assert _nav_statuses(c) == {proforma: ("proforma", None), invoice: ("invoice", "QUEUED")}
    assert nav_sim.requests == []

    crm.post("/v1/nav/submit", expect=403)  # a finance action
    assert nav_sim.requests == []
    sent = finance.post("/v1/nav/submit", expect=200).json()
    assert sent == {"submitted": 1, "polled": 1}

    assert _nav_statuses(c) == {proforma: ("proforma", None), invoice: ("invoice", "DONE")}
    assert c.get(f"/v1/documents/{invoice}").json()["nav_status"] == "DONE"
    assert finance.get("/v1/nav/aborted").json() == {"aborted": []}
    # What NAV holds: exactly one manageInvoice, one CREATE of this invoice, accepted.
    assert _manage_invoice_requests(nav_sim) == 1
    assert nav_sim.numbers_sent() == [invoice]
    [transaction] = nav_sim.transactions.values()
    [item] = transaction.items
    assert (transaction.kind, item.operation, item.number) == ("invoice", "CREATE", invoice)
    # The simulator validated the InvoiceData against invoiceData.xsd on receipt (a violation
    # would be a technical SCHEMA_VIOLATION message and ABORTED); check its record and the bytes.
    assert (item.status, item.final_status, item.technical, item.business) == ("DONE", "DONE", [], [])
    assert _validates_officially(item.data) == []
    assert item.data == c.get(f"/v1/documents/{invoice}/nav.xml").content  # what was sent is what is shown
    assert etree.fromstring(item.data).findtext(f"{DATA}invoiceNumber") == invoice

    # A second submit has nothing to send: DONE is final, nothing is sent twice.
    assert finance.post("/v1/nav/submit", expect=200).json() == {"submitted": 0, "polled": 0}
    assert nav_sim.numbers_sent() == [invoice]

    # --- break it on purpose: NAV rejects the next report (the termination's credit note) -------
    c.events(terminated("bolt", "2026-03-25T12:00:00+01:00"))
    c.run("2026-03-25")
    [note] = c.documents("bolt", "credit_note")
    assert (note["gross"], note["nav_status"]) == ("-3867", "QUEUED")  # 10,312 − R(19,980 × 10/31)
    nav_sim.fail_next("manageInvoice", "abort")  # accepted, then ABORTED (SCHEMA_VIOLATION)
    assert finance.post("/v1/nav/submit", expect=200).json() == {"submitted": 1, "polled": 1}
    statuses = _nav_statuses(c)
    assert statuses[note["number"]] == ("credit_note", "ABORTED")
    assert statuses[invoice] == ("invoice", "DONE")  # its base stays reported
    [rejected] = finance.get("/v1/nav/aborted").json()["aborted"]
    assert (rejected["document_number"], rejected["operation"]) == (note["number"], "MODIFY")
    assert [m["code"] for m in rejected["messages"]] == ["SCHEMA_VIOLATION"]
    assert "SCHEMA_VIOLATION" in rejected["last_error"]
    assert nav_sim.numbers_sent() == [invoice, note["number"]]  # each exactly once
    crm.get("/v1/nav/aborted", expect=403)


def test_a_wrong_signature_key_keeps_the_invoice_queued(serve, nav_sim):
    # The served process signs with a key NAV does not know (the simulator checks every signature).
    env = {**nav_sim.env(), "NAV_SIGNATURE_KEY": "wrong-signature-key-0123456789AB"}
    server = serve(**SELLER_ENV, **env, BILLING_FINANCE_KEY=FINANCE)
    c, finance = server.client(ADMIN), server.client(FINANCE)
    _, invoice = bill_until_first_invoice(c)

    refused = finance.post("/v1/nav/submit", expect=503).json()
    assert "INVALID_REQUEST_SIGNATURE" in refused["message"], refused
    # NAV refused the request itself: no transaction, nothing accepted, nothing to call ABORTED.
    assert nav_sim.transactions == {} and nav_sim.accepted == {}
    assert _manage_invoice_requests(nav_sim) == 0
    assert _nav_statuses(c)[invoice] == ("invoice", "QUEUED")  # kept for when the key is fixed
    assert finance.get("/v1/nav/aborted").json() == {"aborted": []}
