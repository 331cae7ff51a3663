import pytest

from invoices.taxnumbers import (
    BANK_ACCOUNT,
    DOCUMENT_NUMBER,
    EU_VAT_NUMBER,
    HU_TAX_NUMBER,
    InvalidTaxNumber,
)


def test_hungarian_tax_number_valid():
    # core 12345676: 9·1+7·2+3·3+4+9·5+7·6+3·7+6 = 150, 150 mod 10 = 0
    assert HU_TAX_NUMBER.validate("12345676-2-42") == "12345676242"
    assert HU_TAX_NUMBER.compact(" 12345676 - 2 - 42 ") == "12345676242"
    assert HU_TAX_NUMBER.format("12345676242") == "12345676-2-42"
    assert HU_TAX_NUMBER.eu_vat_number("12345676-2-42") == "HU12345676"
    assert HU_TAX_NUMBER.is_valid("10773381-2-44")  # 9+0+21+7+27+21+24+1 = 110


@pytest.mark.parametrize(
    "number,reason",
    [
        ("12345678-2-42", "core number"),  # 9+14+9+4+45+42+21+8 = 152, not ≡ 0
        ("12345676-6-42", "VAT code 6"),
        ("12345676-0-42", "VAT code 0"),
        ("12345676-2-21", "county code 21"),  # 21 is the gap between 20 and 22
        ("12345676-2-01", "county code 01"),
        ("12345676-2-45", "county code 45"),
        ("12345676-2-4", "11 digits"),
        ("1234567A-2-42", "only digits"),
    ],
)
def test_hungarian_tax_number_invalid_with_reason(number, reason):
    with pytest.raises(InvalidTaxNumber) as err:
        HU_TAX_NUMBER.validate(number)
    assert reason in err.value.reason
    assert not HU_TAX_NUMBER.is_valid(number)


@pytest.mark.parametrize("county", ["02", "20", "22", "41", "44", "51"])
def test_hungarian_county_codes_accepted(county):
    assert HU_TAX_NUMBER.is_valid(f"12345676-2-{county}")


def test_eu_vat_numbers():
    assert EU_VAT_NUMBER.validate("ro 185 472 90") == "RO18547290"
    assert EU_VAT_NUMBER.validate("GR094259216") == "EL094259216"  # Greece's VAT prefix is EL
    assert EU_VAT_NUMBER.split("ATU13585627") == ("AT", "U13585627")
    assert EU_VAT_NUMBER.is_valid("DE136695976")
    assert EU_VAT_NUMBER.is_valid("HU12345676")
    assert not EU_VAT_NUMBER.is_valid("RO18547291")  # wrong check digit
    assert not EU_VAT_NUMBER.is_valid("18547290")  # no country prefix
    with pytest.raises(InvalidTaxNumber) as err:
        EU_VAT_NUMBER.validate("XX123456")
    assert err.value.reason


def test_document_numbers():
    assert DOCUMENT_NUMBER.validate(" inv-2026-000042 ") == "INV-2026-000042"
    assert DOCUMENT_NUMBER.parse("CRN-2026-000007") == ("credit_note", 2026, 7)
    assert DOCUMENT_NUMBER.format("proforma", 2026, 1) == "PRO-2026-000001"
    for bad in ["INV-2026-000000", "INV-26-000001", "ABC-2026-000001", "INV-2026-1", "INV-2026-0000001"]:
        assert not DOCUMENT_NUMBER.is_valid(bad), bad
    with pytest.raises(ValueError):
        DOCUMENT_NUMBER.format("receipt", 2026, 1)
    with pytest.raises(ValueError):
        DOCUMENT_NUMBER.format("invoice", 2026, 1_000_000)


def test_bank_accounts_iban_and_hungarian():
    # IBAN mod 97 (stdnum.iban) and, for a Hungarian one, the account number's own check digits:
    # 11773016: 9·1+7·1+3·7+7+9·3+7·0+3·1+6 = 80; 1111101800000000: 9+7+3+1+9+0+3+8 = 40
    assert BANK_ACCOUNT.validate("HU42 1177 3016 1111 1018 0000 0000") == "HU42117730161111101800000000"
    assert BANK_ACCOUNT.is_valid("11773016-11111018-00000000") and BANK_ACCOUNT.is_valid("11773016-11111018")
    assert BANK_ACCOUNT.is_valid("DE89370400440532013000")
    for bad in ["HU43117730161111101800000000",  # IBAN check digits
                "11700024-20000000-00000000",  # 9+7+21+0+0+0+6+4 = 47
                "HU34117000242000000000000000",  # a valid IBAN around that wrong account number
                "11773016-1111101", "DE88370400440532013000"]:
        assert not BANK_ACCOUNT.is_valid(bad), bad


def test_the_sellers_configuration_is_checked(monkeypatch):
    from billing.config import check_seller, seller, seller_problems

    for name in ("SELLER_TAX_NUMBER", "SELLER_EU_VAT_NUMBER", "SELLER_BANK_ACCOUNT"):
        monkeypatch.delenv(name, raising=False)
    defaults = seller()
    assert (defaults.tax_number, defaults.eu_vat_number) == ("23456787-2-42", "HU23456787")
    assert HU_TAX_NUMBER.is_valid(defaults.tax_number) and BANK_ACCOUNT.is_valid(defaults.bank_account)
    assert seller_problems() == []  # only what the environment sets is checked; the defaults pass
    monkeypatch.setenv("SELLER_TAX_NUMBER", "12345678-2-42")
    monkeypatch.setenv("SELLER_BANK_ACCOUNT", "HU42117730161111101800000000, HU43117730161111101800000000")
    assert [p["field"] for p in seller_problems()] == ["SELLER_TAX_NUMBER", "SELLER_BANK_ACCOUNT"]
    with pytest.raises(ValueError, match="SELLER_TAX_NUMBER"):
        check_seller()


@pytest.mark.parametrize("face", [HU_TAX_NUMBER, EU_VAT_NUMBER, DOCUMENT_NUMBER, BANK_ACCOUNT])
@pytest.mark.parametrize("junk", ["", " ", "-", "\x00", "١٢٣٤٥٦٧٦٢٤٢", "x" * 500, None, 12345676242, b"HU12345676"])
def test_robustness_every_face_rejects_junk_with_its_own_error(face, junk):
    # Like stdnum's test_robustness: nothing but InvalidTaxNumber ever comes out of validate.
    with pytest.raises(InvalidTaxNumber):
        face.validate(junk)
    assert face.is_valid(junk) is False
