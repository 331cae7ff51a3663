"""A document gets the VAT treatment in force on its fulfilment day, not the account's latest one: a
document issued after VIES confirmed the buyer (an invoice that waited, say, for its MNB rate) but
fulfilled before that day still carries Hungarian VAT (CONTRACT §6)."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

from billing.accounts import decide_account_vat, succeed
from billing.cycle.write import issue_document
from billing.db import models as m
from billing.db.session import create_schema, make_engine, make_session_factory
from billing.domain.records import DocumentDraft, DraftLine

CONFIRMED = {"RO18547290": (True, "WAPIAAAAZ0000007", date(2026, 3, 6))}


def test_a_document_fulfilled_before_the_confirmation_keeps_hungarian_vat(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    create_schema(engine)
    vat = succeed(decide_account_vat("RO", "RO18547290", date(2026, 3, 2), {}),  # VIES down: pending
                  decide_account_vat("RO", "RO18547290", date(2026, 3, 6), CONFIRMED))
    account = m.Account(id="carpati", name="Carpați Soft SRL", email=None, country="RO", currency="HUF",
                        locale="ro", terms="ro", trial_days=0, timezone="Europe/Budapest", plan="std",
                        created_day=date(2026, 3, 2), created_at_instant=datetime(2026, 3, 2, 9, tzinfo=timezone.utc),
                        address={}, tax_number=None, eu_vat_number="RO18547290", vat=vat, created_event_id="c")
    kinds = {}
    with make_session_factory(engine).begin() as session:
        for number, day in (("PRO-2026-000001", 5), ("PRO-2026-000002", 6)):
            draft = DocumentDraft(number=number, kind="proforma", account_id="carpati", issue_date=date(2026, 3, 8),
                                  due_date=date(2026, 3, 16), fulfilment_date=date(2026, 3, day), currency="HUF",
                                  gross=Decimal("1270"), lines=(DraftLine("Seat licences", Decimal(1), "piece", Decimal("1270")),))
            doc = issue_document(session, account, draft)
            kinds[day] = (doc.vat_treatment.kind, doc.net, doc.vat_treatment.vies_reference)
    engine.dispose()
    # 5 March, before the confirmation of 6 March: 1,270 gross = 1,000 net + 270 VAT
    assert kinds[5] == ("domestic", Decimal("1000"), None)
    # 6 March on: reverse charge, the whole 1,270 is net, with the consultation number
    assert kinds[6] == ("reverse_charge", Decimal("1270"), "WAPIAAAAZ0000007")
