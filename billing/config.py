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
                       payment_terms_days=_int("BILLING_PAYMENT_TERMS_DAYS", 8),
                       archive_after_days=max(0, _int("BILLING_ARCHIVE_AFTER_DAYS", 45)))


def seller() -> Party:
    env = os.environ.get
    return Party(
        name=env("SELLER_NAME", "MiniCRM Demo Kft."),
        country=env("SELLER_COUNTRY", "HU"),
        postal_code=env("SELLER_POSTAL_CODE", "1075"),
        city=env("SELLER_CITY", "Budapest"),
        street=env("SELLER_STREET", "Madách Imre út 13-14."),
        # Demo defaults that pass their check digits and are nobody's real numbers; the tax number
        # is not CONTRACT §7's example buyer 12345676-2-41 (a buyer equal to the seller is refused).
        tax_number=env("SELLER_TAX_NUMBER", "23456787-2-42"),
        eu_vat_number=env("SELLER_EU_VAT_NUMBER", "HU23456787"),
        bank_account=env("SELLER_BANK_ACCOUNT", "11773016-11111018-00000000"),
        email=env("SELLER_EMAIL", "billing@example.hu"),
    )


def seller_problems() -> list[dict[str, str]]:
    """The seller's identifiers that fail their check digits, as {"field", "message"}: the seller's
    tax number, EU VAT number and each bank account (IBAN or Hungarian account number) of
    SELLER_BANK_ACCOUNT (comma-separated) go on every invoice and NAV report."""
    from invoices.taxnumbers import BANK_ACCOUNT, EU_VAT_NUMBER, HU_TAX_NUMBER, InvalidTaxNumber

    env, problems = os.environ.get, []
    checks = [("SELLER_TAX_NUMBER", HU_TAX_NUMBER, env("SELLER_TAX_NUMBER") or None),
              ("SELLER_EU_VAT_NUMBER", EU_VAT_NUMBER, env("SELLER_EU_VAT_NUMBER") or None)]
    checks += [("SELLER_BANK_ACCOUNT", BANK_ACCOUNT, part.strip())
               for part in (env("SELLER_BANK_ACCOUNT") or "").split(",") if part.strip()]
    for name, face, value in checks:
        if value is None:
            continue
        try:
            face.validate(value)
        except InvalidTaxNumber as exc:
            problems.append({"field": name, "message": exc.reason})
    return problems


def check_seller() -> None:
    """Refuse to start with a seller identifier that fails its check (raises ValueError naming it)."""
    problems = seller_problems()
    if problems:
        raise ValueError("invalid seller configuration: " + "; ".join(f"{p['field']}: {p['message']}" for p in problems))


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = field(default_factory=lambda: _int("BILLING_MAX_BODY_BYTES", 5 * 1024 * 1024))
    # How far ahead of today a clock run may go: each day costs every account a step.
    max_run_ahead_days: int = field(default_factory=lambda: _int("BILLING_MAX_RUN_AHEAD_DAYS", 5 * 366))
