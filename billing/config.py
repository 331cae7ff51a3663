"""Configuration from the environment, with safe defaults for the demo."""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from billing.domain.records import CycleConfig
from invoices.documents import Party


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def cycle_config() -> CycleConfig:
    return CycleConfig(proforma_day=_int("BILLING_PROFORMA_DAY", 20),
                       payment_terms_days=_int("BILLING_PAYMENT_TERMS_DAYS", 8))


def seller() -> Party:
    env = os.environ.get
    return Party(
        name=env("SELLER_NAME", "MiniCRM Demo Kft."),
        country=env("SELLER_COUNTRY", "HU"),
        postal_code=env("SELLER_POSTAL_CODE", "1075"),
        city=env("SELLER_CITY", "Budapest"),
        street=env("SELLER_STREET", "Madách Imre út 13-14."),
        tax_number=env("SELLER_TAX_NUMBER", "12345676-2-41"),
        eu_vat_number=env("SELLER_EU_VAT_NUMBER", "HU12345676"),
        bank_account=env("SELLER_BANK_ACCOUNT", "11700024-20000000-00000000"),
        email=env("SELLER_EMAIL", "billing@example.hu"),
    )


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = field(default_factory=lambda: _int("BILLING_MAX_BODY_BYTES", 5 * 1024 * 1024))
    # How far ahead of today a clock run may go: each day costs every account a step.
    max_run_ahead_days: int = field(default_factory=lambda: _int("BILLING_MAX_RUN_AHEAD_DAYS", 5 * 366))
