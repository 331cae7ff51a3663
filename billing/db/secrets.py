"""Secrets the service must use again later (a webhook endpoint's signing secret) are stored
encrypted (Fernet: AES-128-CBC with HMAC-SHA256) under BILLING_SECRET_KEY.

BILLING_SECRET_KEY holds one or more Fernet keys separated by commas: the first encrypts, every
one decrypts, so a key is rotated by putting the new one first. Without it the process makes a key
of its own and says so: what it stores then cannot be read by another process or after a restart
(`./dev demo` keeps a key in a git-ignored file). A value stored before encryption (no prefix) is
read as it is."""
from __future__ import annotations

import logging
import os
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text, TypeDecorator

log = logging.getLogger("billing.secrets")
PREFIX = "fernet:"


class SecretUnreadable(Exception):
    """The stored secret was encrypted under a key that BILLING_SECRET_KEY no longer holds."""


@lru_cache(maxsize=4)
def _cipher(configured: str | None) -> MultiFernet:
    if not configured:
        log.warning("BILLING_SECRET_KEY not set: secrets stored by this process are readable only by it")
        return MultiFernet([Fernet(Fernet.generate_key())])
    return MultiFernet([Fernet(key.strip().encode()) for key in configured.split(",") if key.strip()])


def cipher() -> MultiFernet:
    return _cipher(os.environ.get("BILLING_SECRET_KEY"))


def seal(plain: str) -> str:
    return PREFIX + cipher().encrypt(plain.encode()).decode()


def unseal(stored: str) -> str:
    if not stored.startswith(PREFIX):
        return stored
    try:
        return cipher().decrypt(stored[len(PREFIX):].encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable("the secret was stored under another BILLING_SECRET_KEY") from exc


class EncryptedText(TypeDecorator):
    impl = Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else seal(value)

    def process_result_value(self, value, dialect):
        return None if value is None else unseal(value)
