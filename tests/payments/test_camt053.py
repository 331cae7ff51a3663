import time
from datetime import date
from decimal import Decimal

import pytest

from billing.payments.camt053 import BankCredit, parse_statement, parse_statements
from billing.payments.errors import CamtError
from billing.payments.matching import find_proforma_number
from tests.fakes.camt053 import Entry, Statement, build_statement, namespace

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
def test_several_entries_only_booked_credits(version):
    data = statement(PAID, SPLIT_LINES, NO_REFS, DEBIT, PENDING, UNMATCHED, version=version)
    result = parse_statement(data)
    assert (result.statement_id, result.iban, result.currency) == (
        "STMT-20260318-001", "HU42117730161111101800000000", "HUF")
    paid, split, no_refs, unmatched = result.entries  # debit and pending entries are ignored
    assert paid == BankCredit(
        entry_id="BANKREF-0001", booking_date=date(2026, 3, 18), amount=Decimal("10312"),
        currency="HUF", remittance="PRO-2026-000123", debtor_name="Minta Kft.",
        debtor_iban="HU93116000060000000012345676")
    assert str(paid.amount) == "10312"          # "10312.00" in HUF precision (0 decimals)
    assert split.entry_id == "STMT-20260318-001/2"   # NtryRef, qualified by the statement
    assert split.remittance == "díjbekérő pro 2026 000124 köszönjük RF18539007547034"
    assert no_refs.entry_id.startswith("camt-") and no_refs.booking_date == date(2026, 3, 17)
    assert [find_proforma_number(c.remittance) for c in result.entries] == [
        "PRO-2026-000123", "PRO-2026-000124", "PRO-2026-000125", None]
    assert unmatched.amount == Decimal("2500") and unmatched.debtor_name is None


def test_duplicate_upload_gives_the_same_ids():
    data = statement(PAID, SPLIT_LINES, NO_REFS, Entry("4995", booking_date="2026-03-17"))
    first = [c.entry_id for c in parse_statement(data).entries]
    second = [c.entry_id for c in parse_statement(bytes(data)).entries]
    assert first == second
    # two identical unreferenced transfers on one day still get distinct ids (position counts)
    assert len(set(first)) == 4


def test_eur_statement_and_booking_datetime():
    entry = Entry("49.9", currency="EUR", booking_date=None,
                  booking_datetime="2026-03-31T23:30:00+02:00", acct_svcr_ref="E1")
    credit = parse_statement(statement(entry, currency="EUR", version=6)).entries[0]
    assert (str(credit.amount), credit.currency, credit.booking_date) == (
        "49.90", "EUR", date(2026, 3, 31))   # the bank's own calendar day, not UTC's


def test_reversal_is_not_a_payment():
    assert parse_statement(statement(Entry("100", reversal=True, acct_svcr_ref="R"))).entries == ()


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
    (replace(GOOD, ">10312.00<", ">10312.50<"), r"Ntry\[2\]/Amt: 10312.50 has more decimals"),
    (replace(GOOD, ">10312.00<", ">-5<"), r"Ntry\[2\]/Amt: amount must be positive"),
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


def test_repeated_entry_id_is_refused_rather_than_losing_a_payment():
    twice = statement(PAID, Entry("500", acct_svcr_ref="BANKREF-0001"))
    with pytest.raises(CamtError, match=r"Ntry\[2\]: entry id 'BANKREF-0001' repeats"):
        parse_statement(twice)


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
