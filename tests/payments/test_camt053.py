import time
from datetime import date
from decimal import Decimal

import pytest

from billing.payments.camt053 import BankTransaction, entry_key, parse_statement, parse_statements
from billing.payments.errors import CamtError
from billing.payments.matching import find_proforma_number
from tests.fakes.camt053 import Entry, Statement, Tx, build_statement, namespace

PAID = Entry("10312.00", acct_svcr_ref="BANKREF-0001", unstructured=("PRO-2026-000123",),
             debtor_name="Minta Kft.", debtor_iban="HU93116000060000000012345676")
SPLIT_LINES = Entry("9990", ntry_ref="2", unstructured=("díjbekérő pro 2026", "000124 köszönjük"),
                    structured_ref="RF18539007547034")
NO_REFS = Entry("4995", booking_date="2026-03-17", additional_info="Pro2026000125")
DEBIT = Entry("1500", credit=False, acct_svcr_ref="BANKREF-0004", unstructured=("bank fee",))
PENDING = Entry("7000", status="PDNG", booking_date=None, unstructured=("PRO-2026-000126",))
UNMATCHED = Entry("2500", acct_svcr_ref="BANKREF-0006", unstructured=("havi díj március",))


def statement(*entries, **options):
    return build_statement(Statement(entries=entries, **options))


@pytest.mark.parametrize("version", [2, 3, 4, 5, 6, 7, 8])
def test_every_booked_transaction_credits_and_debits(version):
    data = statement(PAID, SPLIT_LINES, NO_REFS, DEBIT, PENDING, UNMATCHED, version=version)
    result = parse_statement(data)
    assert (result.statement_id, result.account, result.currency, result.not_booked) == (
        "STMT-20260318-001", "HU42117730161111101800000000", "HUF", 1)   # the pending one moved no money
    paid, split, no_refs, debit, unmatched = result.transactions
    assert paid == BankTransaction(
        entry_id=paid.entry_id, credit=True, booking_date=date(2026, 3, 18), amount=Decimal("10312"),
        currency="HUF", remittance="PRO-2026-000123", references=("BANKREF-0001",), debtor_name="Minta Kft.",
        debtor_iban="HU93116000060000000012345676", bank_reference="BANKREF-0001")
    assert paid.entry_id == entry_key("HU42117730161111101800000000|ref|BANKREF-0001|tx|1")
    assert str(paid.amount) == "10312"          # "10312.00" in HUF precision (0 decimals)
    # NtryRef is often only unique within one statement: qualified by it
    assert split.entry_id == entry_key("HU42117730161111101800000000|STMT-20260318-001|ntry|2|tx|1")
    assert split.remittance == "díjbekérő pro 2026 000124 köszönjük RF18539007547034"
    assert no_refs.entry_id.startswith("bank-") and no_refs.booking_date == date(2026, 3, 17)
    assert (debit.credit, debit.returned, debit.amount) == (False, False, Decimal("1500"))
    assert [find_proforma_number(c.remittance) for c in result.transactions] == [
        "PRO-2026-000123", "PRO-2026-000124", "PRO-2026-000125", None, None]
    assert unmatched.amount == Decimal("2500") and unmatched.debtor_name is None


def test_duplicate_upload_gives_the_same_ids():
    data = statement(PAID, SPLIT_LINES, NO_REFS, Entry("4995", booking_date="2026-03-17"))
    first = [c.entry_id for c in parse_statement(data).transactions]
    second = [c.entry_id for c in parse_statement(bytes(data)).transactions]
    assert first == second
    # two identical unreferenced transfers on one day still get distinct ids (position counts)
    assert len(set(first)) == 4


def test_the_same_references_in_another_account_or_statement_are_other_transactions():
    in_a = parse_statement(statement(PAID, SPLIT_LINES))
    in_b = parse_statement(statement(PAID, SPLIT_LINES, iban="HU10117730160000000000000000"))
    next_day = parse_statement(statement(PAID, SPLIT_LINES, statement_id="STMT-20260319-001"))
    ids = lambda s: [t.entry_id for t in s.transactions]
    assert not set(ids(in_a)) & set(ids(in_b))     # another bank account: nothing in common
    # the bank's own reference names the entry in every statement of the account; NtryRef "2" does not
    assert ids(next_day)[0] == ids(in_a)[0] and ids(next_day)[1] != ids(in_a)[1]


def test_a_batch_entry_is_one_transaction_per_payer():
    batch = Entry("15000", acct_svcr_ref="B-1", batch_count=2, transactions=(
        Tx("10312", unstructured=("PRO-2026-000123",), debtor_name="Egyik Kft.", end_to_end_id="E2E-1"),
        Tx("4688", structured_ref="PRO-2026-000200", debtor_name="Másik Bt.", additional_tx_info="x")))
    for version in (2, 4, 8):
        one, two = parse_statement(statement(batch, version=version)).transactions
        assert (one.amount, one.debtor_name, one.remittance, one.references) == (
            Decimal("10312"), "Egyik Kft.", "PRO-2026-000123", ("E2E-1", "B-1"))
        assert (two.amount, two.debtor_name, two.remittance) == (Decimal("4688"), "Másik Bt.", "PRO-2026-000200 x")
        assert one.entry_id != two.entry_id and not one.problem and not two.problem


@pytest.mark.parametrize("transactions, count", [
    ((Tx("10312", unstructured=("PRO-2026-000123",)), Tx(None, unstructured=("PRO-2026-000200",))), None),
    ((Tx("10312"), Tx("4000")), None),              # 14,312 ≠ the entry's 15,000
    ((Tx("15000", unstructured=("PRO-2026-000123",)),), 20),   # "20 transactions", one shown
])
def test_a_batch_the_statement_does_not_itemise_is_one_problem_never_a_payment(transactions, count):
    entry = Entry("15000", acct_svcr_ref="B-2", transactions=transactions, batch_count=count)
    [whole] = parse_statement(statement(entry)).transactions
    assert whole.amount == Decimal("15000") and whole.problem.startswith("a batch entry of")


def test_returns_are_debits_that_say_so():
    flagged = [Entry("100", credit=False, reversal=True, acct_svcr_ref="R1"),
               Entry("100", credit=False, return_reason="AC04", acct_svcr_ref="R2"),
               Entry("100", credit=False, family_code="RRTN", acct_svcr_ref="R3")]
    parsed = parse_statement(statement(*flagged, DEBIT)).transactions
    assert [(t.credit, t.returned) for t in parsed] == [(False, True)] * 3 + [(False, False)]
    assert parsed[1].return_reason == "AC04"
    # a credit with RvslInd is the bank taking back one of its debits: not a return of ours
    [back] = parse_statement(statement(Entry("100", reversal=True, acct_svcr_ref="R"))).transactions
    assert (back.credit, back.reversal_indicator, back.returned) == (True, True, False)


def test_eur_statement_and_booking_datetime():
    entry = Entry("49.9", currency="EUR", booking_date=None,
                  booking_datetime="2026-03-31T23:30:00+02:00", acct_svcr_ref="E1")
    credit = parse_statement(statement(entry, currency="EUR", version=6)).transactions[0]
    assert (str(credit.amount), credit.currency, credit.booking_date) == (
        "49.90", "EUR", date(2026, 3, 31))   # the bank's own calendar day, not UTC's


def test_a_date_with_an_offset_and_a_fee_in_filler_are_read():
    fee = Entry("0.50", credit=False, acct_svcr_ref="FEE", booking_date="2026-03-18+01:00")
    paid = Entry("10312", acct_svcr_ref="P", booking_date="2026-03-18+01:00", unstructured=("PRO-2026-000123",))
    odd = Entry("10312.50", acct_svcr_ref="ODD", unstructured=("PRO-2026-000124",))
    fee_tx, paid_tx, odd_tx = parse_statement(statement(fee, paid, odd)).transactions
    assert (fee_tx.amount, fee_tx.booking_date, fee_tx.problem) == (Decimal("0.50"), date(2026, 3, 18), None)
    assert paid_tx.booking_date == date(2026, 3, 18) and paid_tx.problem is None
    assert odd_tx.amount == Decimal("10312.50") and "more decimals than HUF" in odd_tx.problem


def test_the_proforma_number_is_found_in_every_remittance_field():
    fields = [Entry("1", acct_svcr_ref="1", unstructured=("PRO-2026-000001",)),
              Entry("1", acct_svcr_ref="2", structured_ref="PRO-2026-000002"),
              Entry("1", acct_svcr_ref="3", additional_tx_info="PRO-2026-000003"),
              Entry("1", acct_svcr_ref="4", additional_info="PRO-2026-000004")]
    parsed = parse_statement(statement(*fields)).transactions
    assert [find_proforma_number(t.remittance) for t in parsed] == [f"PRO-2026-00000{n}" for n in (1, 2, 3, 4)]


def test_several_statements_in_one_file():
    other = Statement(entries=(UNMATCHED,), statement_id="STMT-20260318-002",
                      iban="HU10117730160000000000000000")
    data = build_statement(Statement(entries=(PAID,), extra_statements=(other,)))
    assert [s.statement_id for s in parse_statements(data)] == ["STMT-20260318-001",
                                                                 "STMT-20260318-002"]
    with pytest.raises(CamtError, match="expected one Stmt, found 2"):
        parse_statement(data)


def replace(data: bytes, old: str, new: str) -> bytes:
    assert old.encode() in data
    return data.replace(old.encode(), new.encode(), 1)


GOOD = statement(DEBIT, PAID)


@pytest.mark.parametrize("broken, message", [
    (replace(GOOD, '<Amt Ccy="HUF">10312.00', '<Amt>10312.00'),
     r"Stmt/Ntry\[2\]/Amt: missing or invalid Ccy"),
    (replace(GOOD, ">10312.00<", ">12,50<"), r"Ntry\[2\]/Amt: not a decimal"),
    (replace(GOOD, "<CdtDbtInd>DBIT", "<CdtDbtInd>DEBIT"), r"Ntry\[1\]/CdtDbtInd: expected CRDT"),
    (replace(GOOD, "<Sts>BOOK</Sts>", ""), r"Ntry\[1\]/Sts: missing"),
    (replace(GOOD, "<Dt>2026-03-18</Dt>\n        </BookgDt>", "</BookgDt>"),
     r"Ntry\[1\]/BookgDt: neither Dt nor DtTm"),
    (replace(GOOD, "<Dt>2026-03-18</Dt>\n        </BookgDt>", "<Dt>2026-02-30</Dt></BookgDt>"),
     r"Ntry\[1\]/BookgDt: invalid date"),
    (replace(GOOD, "<Id>STMT-20260318-001</Id>", ""), r"Document/BkToCstmrStmt/Stmt/Id: missing"),
    (replace(GOOD, "<IBAN>HU42117730161111101800000000</IBAN>", ""), r"Stmt/Acct/Id: neither IBAN"),
    (GOOD.replace(namespace(2).encode(), b"urn:iso:std:iso:20022:tech:xsd:camt.052.001.02"),
     "root must be a camt.053"),
    (GOOD[: len(GOOD) // 2], "not well-formed XML"),
    (b"", "not well-formed XML"),
])
def test_malformed_file_is_rejected_whole_naming_the_element(broken, message):
    with pytest.raises(CamtError, match=message):
        parse_statement(broken)


def test_a_reference_repeated_in_one_statement_still_books_both():
    twice = parse_statement(statement(PAID, Entry("500", acct_svcr_ref="BANKREF-0001"))).transactions
    assert len({t.entry_id for t in twice}) == 2 and [t.amount for t in twice] == [Decimal("10312"), Decimal("500")]


def test_xxe_is_refused(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    data = replace(statement(PAID), "<Document", f'<!DOCTYPE Document [<!ENTITY xxe SYSTEM '
                   f'"file://{secret}">]>\n<Document').replace(b"PRO-2026-000123", b"&xxe;")
    with pytest.raises(CamtError, match="DOCTYPE") as info:
        parse_statement(data)
    assert "TOP-SECRET" not in str(info.value)


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le"])   # with BOM; without BOM
def test_xxe_in_utf16_is_refused_without_reading_the_file(tmp_path, codec):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    text = statement(PAID).decode().replace("encoding='UTF-8'", "encoding='UTF-16'")
    text = text.replace("<Document", f'<!DOCTYPE Document [<!ENTITY xxe SYSTEM "file://{secret}">]>'
                        "\n<Document", 1).replace("PRO-2026-000123", "&xxe;")
    with pytest.raises(CamtError, match="DOCTYPE") as info:
        # without a BOM only the check after parsing sees the DOCTYPE; no entity was resolved
        parse_statement(text.encode(codec))
    assert "TOP-SECRET" not in str(info.value)


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><Stmt>
<Id>&lol9;</Id></Stmt></BkToCstmrStmt></Document>
"""


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_billion_laughs_is_refused_quickly(encoding):
    data = BILLION_LAUGHS.replace('version="1.0"', f'version="1.0" encoding="{encoding}"')
    started = time.monotonic()
    with pytest.raises(CamtError, match="DOCTYPE"):
        parse_statement(data.encode(encoding))
    assert time.monotonic() - started < 1.0


def test_oversized_and_non_bytes_input_refused(monkeypatch):
    import billing.payments.camt053 as camt

    monkeypatch.setattr(camt, "MAX_BYTES", 100)
    with pytest.raises(CamtError, match="larger than 100 bytes"):
        parse_statement(GOOD)
    with pytest.raises(CamtError, match="bytes"):
        parse_statement(GOOD.decode())
