"""NAV Online Számla 3.0 cryptography (FACTS §3): password hash, request signature, exchange token.

Pure functions over strings and bytes; the clock and randomness enter only through the two
helpers at the bottom, which the client calls once per request.
"""
from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterable
from datetime import datetime, timezone

from Crypto.Cipher import AES
from Crypto.Util.Padding import pad, unpad


def password_hash(password: str) -> str:
    """`user/passwordHash`: uppercase hex SHA-512 of the UTF-8 password."""
    return hashlib.sha512(password.encode("utf-8")).hexdigest().upper()


def sha3_512_hex(text: str) -> str:
    return hashlib.sha3_512(text.encode("utf-8")).hexdigest().upper()


def signature_timestamp(timestamp: datetime) -> str:
    """The 14 digits of the UTC instant used in the signature base: YYYYMMDDhhmmss."""
    return _as_utc(timestamp).strftime("%Y%m%d%H%M%S")


def request_signature(request_id: str, timestamp: datetime, signature_key: str) -> str:
    """`user/requestSignature` of every operation except manageInvoice and manageAnnulment."""
    return sha3_512_hex(request_id + signature_timestamp(timestamp) + signature_key)


def operation_hash(operation: str, base64_payload: str) -> str:
    """The per-index hash of a manage* operation: SHA3-512(operation literal + base64 as sent)."""
    return sha3_512_hex(operation + base64_payload)


def manage_signature(
    request_id: str, timestamp: datetime, signature_key: str, operations: Iterable[tuple[str, str]]
) -> str:
    """`requestSignature` of manageInvoice/manageAnnulment; `operations` are (operation, base64)
    pairs in index order (the order NAV recomputes them in)."""
    hashes = "".join(operation_hash(op, payload) for op, payload in operations)
    return sha3_512_hex(request_id + signature_timestamp(timestamp) + signature_key + hashes)


def decrypt_exchange_token(encoded_token: str | bytes, exchange_key: str) -> str:
    """`encodedExchangeToken` -> the token to send: base64, AES-128-ECB with the exchange key's
    16 ASCII bytes, PKCS#7 padding. ECB is NAV's choice, not ours."""
    key = exchange_key.encode("ascii")
    if len(key) != 16:
        raise ValueError("the NAV exchange key must be 16 ASCII characters")
    cipher = AES.new(key, AES.MODE_ECB)
    plain = unpad(cipher.decrypt(base64.b64decode(encoded_token)), AES.block_size)
    return plain.decode("ascii")


def encrypt_exchange_token(token: str, exchange_key: str) -> str:
    """The server side of `decrypt_exchange_token`; used by the test simulator."""
    cipher = AES.new(exchange_key.encode("ascii"), AES.MODE_ECB)
    return base64.b64encode(cipher.encrypt(pad(token.encode("ascii"), AES.block_size))).decode("ascii")


def new_request_id(prefix: str = "R") -> str:
    """A fresh `requestId` matching [+a-zA-Z0-9_]{1,30}: prefix + 24 random base32 characters.

    Random rather than sequential so two workers never collide and a rejected ID is never reused
    by accident for a different payload."""
    body = base64.b32encode(secrets.token_bytes(15)).decode("ascii")  # 24 chars, A-Z2-7
    request_id = (prefix + body)[:30]
    return request_id


def header_timestamp(timestamp: datetime) -> str:
    """`header/timestamp`: UTC with milliseconds, e.g. 2024-04-01T10:00:00.123Z."""
    utc = _as_utc(timestamp)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _as_utc(timestamp: datetime) -> datetime:
    if timestamp.tzinfo is None:
        raise ValueError("a NAV timestamp must be an aware datetime")
    return timestamp.astimezone(timezone.utc)
