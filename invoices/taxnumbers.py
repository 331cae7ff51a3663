"""Identifiers on our documents, each behind the same face as python-stdnum's modules:
`compact(number)` normalises, `validate(number)` returns the compact form or raises
`InvalidTaxNumber` with a reason, `is_valid(number)` answers yes or no.

- HU_TAX_NUMBER: the Hungarian adószám `12345678-2-42` (core with check digit, VAT code, county)
- EU_VAT_NUMBER: an EU VAT number with its country prefix (`RO18547290`, `EL094259216`)
- DOCUMENT_NUMBER: our own gapless numbers (`PRO-2026-000001`, `INV-…`, `CRN-…`, `COR-…`)
- BANK_ACCOUNT: an IBAN (`HU42 1177 3016 1111 1018 0000 0000`, stdnum.iban's mod-97 check) or a
  Hungarian account number (`11773016-11111018-00000000`); a Hungarian one, bare or inside an HU
  IBAN, also passes its own check digits (each part weighted 9, 7, 3, 1, sum divisible by 10)
"""
from __future__ import annotations

import re

from stdnum import iban as stdnum_iban
from stdnum.eu import vat as stdnum_vat
from stdnum.exceptions import ValidationError
from stdnum.hu import anum

# COR: corrections of buyer data (billing/ops/corrections.py), a modifying document of its own series.
DOCUMENT_PREFIXES = {"proforma": "PRO", "invoice": "INV", "credit_note": "CRN", "correction": "COR"}
_KIND_OF_PREFIX = {prefix: kind for kind, prefix in DOCUMENT_PREFIXES.items()}


class InvalidTaxNumber(ValueError):
    def __init__(self, number: object, reason: str):
        super().__init__(f"{number!r}: {reason}")
        self.number = number
        self.reason = reason


def _text(number: object) -> str:
    if not isinstance(number, str):
        raise InvalidTaxNumber(number, "not a string")
    return number


class _Face:
    def compact(self, number: str) -> str:
        raise NotImplementedError

    def validate(self, number: str) -> str:
        raise NotImplementedError

    def is_valid(self, number: str) -> bool:
        try:
            self.validate(number)
        except InvalidTaxNumber:
            return False
        return True


class HuTaxNumber(_Face):
    """Adószám: 8-digit core (törzsszám, last digit a check digit), VAT code, county code."""

    # VAT code: 1 exempt, 2 general, 3 EVA, 4 VAT-group member, 5 VAT-group id.
    VAT_CODES = frozenset("12345")
    # County code: 02–20 companies per county, 22–40 sole traders per county, 41–43 Budapest,
    # 44 large taxpayers, 51 special.
    COUNTY_CODES = frozenset(f"{n:02d}" for n in [*range(2, 21), *range(22, 45), 51])

    def compact(self, number: str) -> str:
        return re.sub(r"[\s\-.]", "", _text(number))

    def validate(self, number: str) -> str:
        digits = self.compact(number)
        if not digits.isdigit() or not digits.isascii():
            raise InvalidTaxNumber(number, "only digits and dashes are allowed")
        if len(digits) != 11:
            raise InvalidTaxNumber(number, "a Hungarian tax number has 11 digits (12345678-1-42)")
        try:
            anum.validate(digits[:8])
        except ValidationError as exc:
            raise InvalidTaxNumber(number, f"core number {digits[:8]}: {exc}") from exc
        if digits[8] not in self.VAT_CODES:
            raise InvalidTaxNumber(number, f"VAT code {digits[8]} is not one of 1–5")
        if digits[9:] not in self.COUNTY_CODES:
            raise InvalidTaxNumber(number, f"county code {digits[9:]} does not exist")
        return digits

    def format(self, number: str) -> str:
        digits = self.validate(number)
        return f"{digits[:8]}-{digits[8]}-{digits[9:]}"

    def eu_vat_number(self, number: str) -> str:
        """The HU VAT id that goes with a tax number: "HU" + the core."""
        return "HU" + self.validate(number)[:8]


class EuVatNumber(_Face):
    def compact(self, number: str) -> str:
        text = re.sub(r"[\s\-.]", "", _text(number)).upper()
        if text.startswith("GR"):  # the VAT prefix of Greece is EL, not its ISO code
            text = "EL" + text[2:]
        return text

    def validate(self, number: str) -> str:
        text = self.compact(number)
        if len(text) < 4 or not text[:2].isalpha() or not text.isascii():
            raise InvalidTaxNumber(number, "an EU VAT number starts with its country prefix (RO18547290)")
        try:
            return stdnum_vat.validate(text)
        except ValidationError as exc:
            raise InvalidTaxNumber(number, str(exc)) from exc

    def split(self, number: str) -> tuple[str, str]:
        """(VIES country code, number without prefix)."""
        text = self.validate(number)
        return text[:2], text[2:]


class DocumentNumber(_Face):
    _PATTERN = re.compile(r"(PRO|INV|CRN|COR)-(\d{4})-(\d{6})")

    def compact(self, number: str) -> str:
        return _text(number).strip().upper()

    def validate(self, number: str) -> str:
        text = self.compact(number)
        match = self._PATTERN.fullmatch(text)
        if not match:
            raise InvalidTaxNumber(number, "expected PRO|INV|CRN|COR-YYYY-NNNNNN")
        if int(match.group(3)) == 0:
            raise InvalidTaxNumber(number, "sequence numbers start at 000001")
        return text

    def parse(self, number: str) -> tuple[str, int, int]:
        """(kind, year, sequence value)."""
        prefix, year, value = self.validate(number).split("-")
        return _KIND_OF_PREFIX[prefix], int(year), int(value)

    def format(self, kind: str, year: int, value: int) -> str:
        if kind not in DOCUMENT_PREFIXES:
            raise ValueError(f"unknown document kind {kind!r}")
        if not (1 <= value <= 999_999) or not (1000 <= year <= 9999):
            raise ValueError(f"sequence {value} or year {year} out of range")
        return f"{DOCUMENT_PREFIXES[kind]}-{year:04d}-{value:06d}"


class BankAccount(_Face):
    _GIRO = re.compile(r"\d{8}(\d{8}){1,2}")
    _WEIGHTS = (9, 7, 3, 1)

    def compact(self, number: str) -> str:
        return re.sub(r"[\s\-]", "", _text(number)).upper()

    def validate(self, number: str) -> str:
        text = self.compact(number)
        if not text.isascii() or not text.isalnum():
            raise InvalidTaxNumber(number, "only letters, digits, spaces and dashes are allowed")
        if text[:2].isalpha():
            try:
                stdnum_iban.validate(text)
            except ValidationError as exc:
                raise InvalidTaxNumber(number, f"not a valid IBAN: {exc}") from exc
            if text.startswith("HU"):
                self._giro(number, text[4:])
            return text
        self._giro(number, text)
        return text

    def _giro(self, number: str, digits: str) -> None:
        if not self._GIRO.fullmatch(digits):
            raise InvalidTaxNumber(number, "a Hungarian account number has 16 or 24 digits (11773016-11111018-00000000)")
        for part in (digits[:8], digits[8:]):
            if sum(int(d) * self._WEIGHTS[i % 4] for i, d in enumerate(part)) % 10:
                raise InvalidTaxNumber(number, f"check digit of {part} is wrong")


HU_TAX_NUMBER = HuTaxNumber()
EU_VAT_NUMBER = EuVatNumber()
DOCUMENT_NUMBER = DocumentNumber()
BANK_ACCOUNT = BankAccount()
