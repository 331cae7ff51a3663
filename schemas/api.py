"""Request models: everything that comes in over HTTP is validated here first."""
from __future__ import annotations

import math
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Union
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, TypeAdapter, WithJsonSchema, field_validator
from pydantic import model_serializer, model_validator

from billing.money import SUPPORTED_CURRENCIES, has_currency_precision, parse_amount
from invoices.taxnumbers import EU_VAT_NUMBER, HU_TAX_NUMBER, InvalidTaxNumber
from billing.portal.tokens import DEFAULT_TTL_S, MAX_TTL_S


def _decimal_string(value: Any) -> Decimal:
    # JSON numbers with a fraction arrive as float and may already have lost digits: refuse them.
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError("amounts are decimal strings such as \"12345.00\", never JSON floats")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        if not re.fullmatch(_DECIMAL_PATTERN, value.strip()):
            raise ValueError("not a decimal string such as \"12345.00\"")
        return parse_amount(value.strip())
    raise ValueError("amounts are decimal strings such as \"12345.00\"")


_DECIMAL_PATTERN = r"^-?\d{1,15}(\.\d{1,6})?$"
# Documented as what it is on the wire (a decimal string), so a generated client sends strings.
DecimalString = Annotated[Decimal, BeforeValidator(_decimal_string),
                          WithJsonSchema({"type": "string", "pattern": _DECIMAL_PATTERN, "examples": ["12345.00"]})]


def _percent_value(value: Any) -> Decimal:
    # A percentage is not money: a JSON number such as 12.5 is taken by its shortest decimal text.
    if isinstance(value, float) and math.isfinite(value):
        return _decimal_string(repr(value))
    return _decimal_string(value)


Percent = Annotated[Decimal, BeforeValidator(_percent_value),
                    WithJsonSchema({"type": "string", "pattern": _DECIMAL_PATTERN, "examples": ["12.5"]})]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@+\-]+$")]
# A CRM user id may be an e-mail address or any other printable text (it never goes into a URL).
UserId = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def _supported(currency: str) -> str:
    if currency not in SUPPORTED_CURRENCIES:
        raise ValueError(f"unsupported currency {currency}")
    return currency


class PlanIn(Strict):
    code: Identifier
    name: Annotated[str, Field(min_length=1, max_length=200)]
    currency: Currency
    monthly_seat_price: DecimalString
    discount_percent: Percent = Decimal(0)
    prices_include_vat: StrictBool = True
    announced_on: date | None = None

    _currency = field_validator("currency")(classmethod(lambda cls, v: _supported(v)))

    @field_validator("monthly_seat_price")
    @classmethod
    def _positive(cls, v: Decimal) -> Decimal:
        if v <= 0:
            raise ValueError("must be greater than 0")
        return v

    @field_validator("discount_percent")
    @classmethod
    def _percent(cls, v: Decimal) -> Decimal:
        if not (0 <= v < 100):
            raise ValueError("must be at least 0 and less than 100")
        return v


class Address(Strict):
    postal_code: Annotated[str, Field(max_length=16)] = ""
    city: Annotated[str, Field(max_length=100)] = ""
    street: Annotated[str, Field(max_length=200)] = ""


def _check_digits(face):
    """An identifier that must pass its check digits (python-stdnum, invoices/taxnumbers.py):
    kept as given once it does."""
    def check(value: str) -> str:
        try:
            face.validate(value)
        except InvalidTaxNumber as exc:
            raise ValueError(exc.reason) from exc
        return value
    return AfterValidator(check)


# CONTRACT §6: `12345676-2-42` passes (core 12345676: 9·1+7·2+3·3+4+9·5+7·6+3·7+6 = 150), its county
# and VAT codes exist; `12345678-1-42` does not. The shape stays in the pattern (OpenAPI shows it).
HuTaxNumber = Annotated[str, Field(pattern=r"^\d{8}-[1-5]-\d{2}$", examples=["12345676-2-42"]),
                        _check_digits(HU_TAX_NUMBER)]
# Its country's check (stdnum.eu.vat dispatches to the member state's module: RO18547290, DE136695976).
EuVatNumber = Annotated[str, Field(pattern=r"^[A-Z]{2}[0-9A-Za-z+*.]{2,13}$", examples=["RO18547290"]),
                        _check_digits(EU_VAT_NUMBER)]
Email = Annotated[str, Field(max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]
Locale = Literal["hu", "ro", "en", "de"]


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r}") from exc
    return value


class AccountCreatedData(Strict):
    name: Annotated[str, Field(min_length=1, max_length=300)]
    email: Email | None = None
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    currency: Currency
    plan: Identifier
    locale: Locale | None = None
    address: Address = Address()
    tax_number: HuTaxNumber | None = None
    eu_vat_number: EuVatNumber | None = None
    trial_days: Annotated[int, Field(ge=0, le=365, strict=True)] = 14
    timezone: str = "Europe/Budapest"
    terms: Literal["hu", "ro"] | None = None

    _currency = field_validator("currency")(classmethod(lambda cls, v: _supported(v)))
    _tz = field_validator("timezone")(classmethod(lambda cls, v: _timezone(v)))


class AccountUpdatedData(Strict):
    """New buyer data from the event's day on, for documents issued from then (CONTRACT §6, §7): any
    of the fields, at least one. `tax_number` or `eu_vat_number` null removes it. Stored and hashed
    with only the fields given, so a field left out stays as it was."""
    name: Annotated[str, Field(min_length=1, max_length=300)] = None  # type: ignore[assignment]
    email: Email = None  # type: ignore[assignment]
    address: Address = None  # type: ignore[assignment]
    tax_number: HuTaxNumber | None = None
    eu_vat_number: EuVatNumber | None = None
    locale: Locale = None  # type: ignore[assignment]

    @field_validator("name", "email", "address", "locale", mode="before")
    @classmethod
    def _not_null(cls, v: Any) -> Any:
        if v is None:
            raise ValueError("may be left out, not null (only tax_number and eu_vat_number can be removed)")
        return v

    @model_validator(mode="after")
    def _at_least_one(self) -> "AccountUpdatedData":
        if not self.model_fields_set:
            raise ValueError("give at least one of name, email, address, tax_number, eu_vat_number, locale")
        return self

    @model_serializer(mode="wrap")
    def _only_given(self, handler) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if k in self.model_fields_set}


class SeatData(Strict):
    user_id: UserId


class PlanChangedData(Strict):
    plan: Identifier


class PaymentData(Strict):
    amount: DecimalString
    currency: Currency
    method: Literal["card", "bank_transfer"]
    reference: Annotated[str, Field(max_length=300)] | None = None
    external_id: Annotated[str, Field(max_length=200)] | None = None

    @field_validator("amount")
    @classmethod
    def _positive(cls, v: Decimal) -> Decimal:
        if v <= 0:
            raise ValueError("must be greater than 0")
        return v


class TerminatedData(Strict):
    by: Literal["customer", "provider"]
    reason: Annotated[str, Field(max_length=500)] | None = None


DATA_MODELS: dict[str, type[Strict]] = {
    "account.created": AccountCreatedData,
    "account.updated": AccountUpdatedData,
    "seat.activated": SeatData,
    "seat.deactivated": SeatData,
    "plan.changed": PlanChangedData,
    "payment.received": PaymentData,
    "account.terminated": TerminatedData,
}

EventType = Literal["account.created", "account.updated", "seat.activated", "seat.deactivated", "plan.changed",
                    "payment.received", "account.terminated"]


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")


class EventIn(Strict):
    id: Identifier
    type: EventType
    account_id: Identifier
    occurred_at: datetime
    data: dict[str, Any] = {}

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _rfc3339(cls, v: Any) -> Any:
        if not isinstance(v, str) or not _RFC3339.fullmatch(v):
            raise ValueError("must be an RFC 3339 timestamp with an offset, e.g. 2026-03-14T09:30:00+01:00")
        return v


class AccountCreatedEvent(EventIn):
    type: Literal["account.created"]
    data: AccountCreatedData


class AccountUpdatedEvent(EventIn):
    type: Literal["account.updated"]
    data: AccountUpdatedData


class SeatEvent(EventIn):
    type: Literal["seat.activated", "seat.deactivated"]
    data: SeatData


class PlanChangedEvent(EventIn):
    type: Literal["plan.changed"]
    data: PlanChangedData


class PaymentEvent(EventIn):
    type: Literal["payment.received"]
    data: PaymentData


class TerminatedEvent(EventIn):
    type: Literal["account.terminated"]
    data: TerminatedData


AnyEvent = Annotated[Union[AccountCreatedEvent, AccountUpdatedEvent, SeatEvent, PlanChangedEvent, PaymentEvent,
                           TerminatedEvent],
                     Field(discriminator="type")]
# A whole batch is validated in one call (pydantic-core), each item by its type's data model.
EVENT_BATCH = TypeAdapter(list[AnyEvent])
EVENT_TAGS = frozenset(DATA_MODELS)


class EventBatchIn(Strict):
    events: Annotated[list[AnyEvent], Field(min_length=1, max_length=1000)]


def events_body_schema(ref_template: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The JSON Schema of POST /v1/events (one event, one schema per `type`, or a batch) and the
    definitions it refers to. The route reads the body itself (a batch is validated in one call,
    item by item, to say which item is wrong); this is what the OpenAPI document shows."""
    schema = TypeAdapter(Union[AnyEvent, EventBatchIn]).json_schema(ref_template=ref_template)
    return schema, schema.pop("$defs", {})


class ClockRunIn(Strict):
    until: date


def check_currency_precision(amount: Decimal, currency: str) -> bool:
    return has_currency_precision(amount, currency)


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("an absolute http(s) URL")
    return value


class WebhookEndpointIn(Strict):
    url: Annotated[str, Field(max_length=2000), AfterValidator(_http_url)]
    secret: Annotated[str, Field(min_length=16, max_length=200)] | None = None
    description: Annotated[str, Field(max_length=200)] | None = None
    deliver_history: StrictBool = True  # true: every notice so far is delivered too


class PortalLinkIn(Strict):
    ttl_minutes: Annotated[int, Field(ge=1, le=MAX_TTL_S // 60, strict=True)] = DEFAULT_TTL_S // 60


class AssignIn(Strict):
    account_id: Identifier


class RefundPaidIn(Strict):
    """Finance marks a refund's bank payout done (CONTRACT §5a)."""
    paid_on: date
    reference: Annotated[str, Field(min_length=1, max_length=140, pattern=r"^[^\x00-\x1f\x7f]+$")]
