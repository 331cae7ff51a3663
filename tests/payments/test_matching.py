import pytest

from billing.payments.matching import find_proforma_number, find_proforma_numbers


@pytest.mark.parametrize("text, expected", [
    ("PRO-2026-000123", "PRO-2026-000123"),
    ("díjbekérő pro 2026 000123 köszönjük", "PRO-2026-000123"),
    ("PRO2026000123", "PRO-2026-000123"),                   # run together: 6 digits after year
    ("ref:Pro-2026-123", "PRO-2026-000123"),                # separated: zero-padded to six
    ("Számla: PRO/2026/45, Kft.", "PRO-2026-000045"),
    ("pro_2026_000123", "PRO-2026-000123"),
    ("PRO - 2026 - 000123", "PRO-2026-000123"),
    ("PRO–2026–000123", "PRO-2026-000123"),                 # en dashes from a word processor
    ("DIJBEKERO PRO-2026-000123FT 10312", "PRO-2026-000123"),  # letters may follow
    ("PRO.2026.999999", "PRO-2026-999999"),
    ("(PRO-2027-000001)", "PRO-2027-000001"),
])
def test_found(text, expected):
    assert find_proforma_number(text) == expected


@pytest.mark.parametrize("text", [
    "",
    "köszönjük a szolgáltatást",
    "2026-000123",                   # no PRO: too ambiguous (dates, invoice numbers)
    "PRO-2026-1234567",              # seven digits: not ours, never truncated
    "PRO20261234567",
    "PRO2026123",                    # run together with fewer than six digits
    "APRO-2026-000123",              # PRO inside a word
    "PRO-1999-000123",               # not a 20YY year
    "PRO-2026-000000",               # sequence 0 does not exist
    "PRO-2026",
    "INV-2026-000123",
])
def test_not_found(text):
    assert find_proforma_number(text) is None


def test_several_numbers_in_order_without_duplicates():
    text = "PRO-2026-000123 es pro 2026 124, ujra PRO2026000123"
    assert find_proforma_numbers(text) == ("PRO-2026-000123", "PRO-2026-000124")
    assert find_proforma_number(text) == "PRO-2026-000123"
