import base64
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from lxml import etree

from nav_reporting import crypto

# The official NAV API samples (nav-gov-hu/Online-Invoice, see tests/fixtures/nav_samples/README.md).
SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "nav_samples" / "api"
API = "http://schemas.nav.gov.hu/OSA/3.0/api"
COMMON = "http://schemas.nav.gov.hu/NTCA/1.0/common"


def test_spec_known_answer_vector():
    # Interface specification §1.5.1.
    ts = datetime(2017, 12, 30, 18, 25, 45, tzinfo=timezone.utc)
    signature = crypto.manage_signature(
        "TSTKFT1222564", ts, "ce-8f5e-215119fa7dd621DLMRHRLH2S",
        [("CREATE", "QWJjZDEyMzQ="), ("MODIFY", "RGNiYTQzMjE=")],
    )
    assert signature == (
        "60BC80609EE3B8F42FE904200A49A1921A1DADA08D55319ACD40C59F626514B7"
        "4EEA49011D372600A10DBCF8199D590DA9C2841D987308F2D83DAE17C2470C42"
    )


def test_signature_timestamp_is_utc_digits():
    budapest_summer = timezone(timedelta(hours=2))
    assert crypto.signature_timestamp(datetime(2024, 7, 1, 0, 30, tzinfo=budapest_summer)) == "20240630223000"
    with pytest.raises(ValueError):
        crypto.signature_timestamp(datetime(2024, 7, 1))


def test_password_hash_is_uppercase_sha512():
    # sha512("") is the well-known cf83e135…927da3e; uppercase.
    assert crypto.password_hash("").startswith("CF83E1357EEFB8BDF1542850D66D8007")
    assert crypto.password_hash("") == crypto.password_hash("").upper()


def _sample_files():
    files = sorted(SAMPLES.glob("*.xml"))
    assert len(files) == 11
    return files


@pytest.mark.parametrize("path", _sample_files(), ids=lambda p: p.stem)
def test_official_api_samples_signatures(path):
    raw = path.read_text(encoding="utf-8")
    key = re.search(r"<signKey>(.*?)</signKey>", raw).group(1)
    root = etree.fromstring(raw.encode())
    request_id = root.findtext(f"{{{COMMON}}}header/{{{COMMON}}}requestId")
    stamp = root.findtext(f"{{{COMMON}}}header/{{{COMMON}}}timestamp")
    expected = root.findtext(f"{{{COMMON}}}user/{{{COMMON}}}requestSignature")
    ts = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    ops = []
    for op in root.iter(f"{{{API}}}invoiceOperation", f"{{{API}}}annulmentOperation"):
        if len(op):  # the container element, not the operation literal of the same name
            literal = op.findtext(f"{{{API}}}invoiceOperation") or op.findtext(f"{{{API}}}annulmentOperation")
            payload = op.findtext(f"{{{API}}}invoiceData") or op.findtext(f"{{{API}}}invoiceAnnulment")
            ops.append((literal, payload))
    if path.stem.startswith("manage"):
        assert ops, "a manage sample has operations"
        got = crypto.manage_signature(request_id, ts, key, ops)
    else:
        got = crypto.request_signature(request_id, ts, key)
    assert got == expected


def test_manage_invoice_sample_index_hashes():
    raw = (SAMPLES / "manageInvoice.xml").read_text(encoding="utf-8")
    expected = re.findall(r"<(first|second|third)IndexHash>([0-9A-F]+)<", raw)
    root = etree.fromstring(raw.encode())
    ops = [op for op in root.iter(f"{{{API}}}invoiceOperation") if len(op)]
    assert len(ops) == len(expected) == 3
    for op, (_, want) in zip(ops, expected):
        got = crypto.operation_hash(op.findtext(f"{{{API}}}invoiceOperation"), op.findtext(f"{{{API}}}invoiceData"))
        assert got == want


def test_exchange_token_round_trip_and_known_ciphertext():
    key = "0123456789abcdef"
    token = "b1aca173-d9e8-4561-9237-0511eed99eaa2P0ZHLXBRI2U"
    encoded = crypto.encrypt_exchange_token(token, key)
    assert crypto.decrypt_exchange_token(encoded, key) == token
    # 48 ASCII bytes pad to 64 (a full block of 0x10), so the ciphertext is 64 bytes.
    assert len(base64.b64decode(encoded)) == 64
    with pytest.raises(ValueError):
        crypto.decrypt_exchange_token(encoded, "short")


def test_exchange_token_decrypts_independent_ciphertext():
    # Ciphertext made independently: AES-128-ECB of "TOKEN" + 11 × 0x0B with key "ABCDEFGHIJKLMNOP".
    from Crypto.Cipher import AES

    block = AES.new(b"ABCDEFGHIJKLMNOP", AES.MODE_ECB).encrypt(b"TOKEN" + bytes([11]) * 11)
    assert crypto.decrypt_exchange_token(base64.b64encode(block), "ABCDEFGHIJKLMNOP") == "TOKEN"


def test_request_id_and_header_timestamp():
    ids = {crypto.new_request_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(re.fullmatch(r"[+a-zA-Z0-9_]{1,30}", i) for i in ids)
    ts = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=1)))
    assert crypto.header_timestamp(ts) == "2024-01-02T02:04:05.678Z"
