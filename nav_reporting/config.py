"""NAV connection settings, read once from the environment."""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

TEST_BASE_URL = "https://api-test.onlineszamla.nav.gov.hu/invoiceService/v3"
_SOFTWARE_ID = re.compile(r"^[0-9A-Z\-]{18}$")


@dataclass(frozen=True, slots=True)
class Software:
    """The `software` block every request carries; softwareId stays stable per version."""

    software_id: str = "HU12345678-SEATS01"
    name: str = "seat-billing"
    operation: str = "ONLINE_SERVICE"
    main_version: str = "0.1"
    dev_name: str = "Seat Billing Developers"
    dev_contact: str = "dev@example.hu"
    dev_country_code: str = "HU"
    dev_tax_number: str | None = None

    def __post_init__(self) -> None:
        if not _SOFTWARE_ID.match(self.software_id):
            raise ValueError(f"softwareId must be 18 of [0-9A-Z-]: {self.software_id!r}")


@dataclass(frozen=True, slots=True)
class NavConfig:
    base_url: str = TEST_BASE_URL
    login: str = ""
    password: str = field(default="", repr=False)
    signature_key: str = field(default="", repr=False)
    exchange_key: str = field(default="", repr=False)
    tax_number: str = ""  # the first 8 digits are sent as user/taxNumber
    software: Software = field(default_factory=Software)
    timeout_s: float = 10.0  # NAV's hard limit is 60 s; a timeout is "unknown", never "failed"

    @property
    def configured(self) -> bool:
        return all((self.login, self.password, self.signature_key, self.exchange_key, self.tax_number))

    @property
    def taxpayer_id(self) -> str:
        return self.tax_number.replace("-", "")[:8]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "NavConfig":
        env = os.environ if env is None else env
        software = Software(software_id=env["NAV_SOFTWARE_ID"]) if env.get("NAV_SOFTWARE_ID") else Software()
        return cls(
            base_url=(env.get("NAV_BASE_URL") or TEST_BASE_URL).rstrip("/"),
            login=env.get("NAV_LOGIN", ""),
            password=env.get("NAV_PASSWORD", ""),
            signature_key=env.get("NAV_SIGNATURE_KEY", ""),
            exchange_key=env.get("NAV_EXCHANGE_KEY", ""),
            tax_number=env.get("NAV_TAX_NUMBER", ""),
            software=software,
        )
