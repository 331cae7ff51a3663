"""A client generated from `/openapi.json` can post every event type (issue #18, CONTRACT §9).

At test time the service's own document is turned into pydantic v2 models with
datamodel-code-generator (offline once installed: it reads the document, writes a module), the
module is imported, and every request body below is built from the GENERATED classes only (the
literals are values): the plans (`PlanIn`), one event of each type (`AccountCreatedEvent`,
`SeatEvent` for both seat types, `PlanChangedEvent`, `PaymentEvent`, `TerminatedEvent`), each sent
alone as the POST /v1/events body model (`V1EventsPostRequest`), then a batch (`EventBatchIn` of
`Events`), and the clock run (`ClockRunIn`). Each is serialised by pydantic, defaults and nulls
included, as a generated client would send it. Single events and the batch must get 201.

Generator options and why:
- `--openapi-scopes schemas paths`: the POST /v1/events body is an inline `anyOf` (not a component);
  with `paths` the generator makes a model of it (`V1EventsPostRequest`);
- `--strict-nullable`: without it every field that is not `required` becomes `X | None`, even when
  the document gives no `null` (`trial_days`, `timezone`, `prices_include_vat`, `address.*`), and a
  client sending those None would get a 422;
- `--enum-field-as-literal all`: `type` becomes a Literal, which is what a pydantic discriminator
  needs; `--field-constraints --use-annotated`: patterns and lengths as `Field(...)`.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from datamodel_code_generator import DataModelType, InputFileType, LiteralType, OpenAPIScope, generate
from datamodel_code_generator.format import Formatter

from tests.api_contract.conftest import AUTH

CET = timezone(timedelta(hours=1))
EVENT_TYPES = ("account.created", "seat.activated", "seat.deactivated", "plan.changed", "payment.received",
               "account.terminated")


def generate_models(document: dict, directory: Path, name: str):
    """The document's models as an imported module (written to `directory`, kept for a failure's
    post-mortem)."""
    source = generate(
        document, input_file_type=InputFileType.OpenAPI, output_model_type=DataModelType.PydanticV2BaseModel,
        openapi_scopes=[OpenAPIScope.Schemas, OpenAPIScope.Paths], strict_nullable=True,
        enum_field_as_literal=LiteralType.All, field_constraints=True, use_annotated=True,
        disable_timestamp=True, formatters=[Formatter.BUILTIN])
    assert isinstance(source, str) and source, "datamodel-code-generator produced nothing"
    path = directory / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # pydantic resolves the postponed annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def _class(models, name: str):
    found = getattr(models, name, None)
    assert found is not None, (f"the generated models have no {name}; they have "
                               f"{sorted(n for n in vars(models) if n[:1].isupper())}")
    return found


@pytest.fixture
def models(service, tmp_path, request):
    document = service.get("/openapi.json").json()
    name = f"generated_billing_models_{request.node.callspec.id}"
    try:
        yield generate_models(document, tmp_path, name)
    finally:
        sys.modules.pop(name, None)


def one_of_each(m, account: str, prefix: str) -> list:
    """account.created, two seats, one deactivated, a plan change, a payment, the termination."""
    at = lambda day, hour=10: datetime(2026, 3, day, hour, 0, tzinfo=CET)  # noqa: E731
    return [
        m.AccountCreatedEvent(
            id=f"{prefix}-created", type="account.created", account_id=account, occurred_at=at(2),
            data=m.AccountCreatedData(
                name=f"{account} Kft.", email=f"billing@{account}.example", country="HU", currency="HUF",
                plan="gen-std", locale="hu", tax_number="12345676-2-41", trial_days=0,
                address=m.Address(postal_code="1111", city="Budapest", street="Fő utca 1."))),
        m.SeatEvent(id=f"{prefix}-u1", type="seat.activated", account_id=account, occurred_at=at(2, 11),
                    data=m.SeatData(user_id="u1@example.hu")),
        m.SeatEvent(id=f"{prefix}-u2", type="seat.activated", account_id=account, occurred_at=at(2, 11),
                    data=m.SeatData(user_id="u2@example.hu")),
        m.SeatEvent(id=f"{prefix}-u2-off", type="seat.deactivated", account_id=account, occurred_at=at(5),
                    data=m.SeatData(user_id="u2@example.hu")),
        m.PlanChangedEvent(id=f"{prefix}-plan", type="plan.changed", account_id=account, occurred_at=at(6),
                           data=m.PlanChangedData(plan="gen-pro")),
        m.PaymentEvent(id=f"{prefix}-pay", type="payment.received", account_id=account, occurred_at=at(9),
                       data=m.PaymentData(amount="5000.00", currency="HUF", method="bank_transfer",
                                          reference=f"{prefix} March", external_id=f"{prefix}-bank-1")),
        m.TerminatedEvent(id=f"{prefix}-end", type="account.terminated", account_id=account, occurred_at=at(12),
                          data=m.TerminatedData(by="customer", reason="generated client test")),
    ]


def _post(client, path: str, model):
    # Serialised by the generated model itself, defaults and nulls included.
    return client.post(path, content=model.model_dump_json(), headers={**AUTH, "Content-Type": "application/json"})


def test_generated_models_post_every_event_type_alone_and_in_a_batch(service, models):
    m = models
    body_model = _class(m, "V1EventsPostRequest")  # the POST /v1/events body (an anyOf in the document)
    batch_item = _class(m, "Events")  # the items of EventBatchIn.events (the discriminated oneOf)
    for plan in (m.PlanIn(code="gen-std", name="Generated Std", currency="HUF", monthly_seat_price="9990"),
                 m.PlanIn(code="gen-pro", name="Generated Pro", currency="HUF", monthly_seat_price="14990.00",
                          discount_percent="12.5", prices_include_vat=True)):
        response = _post(service, "/v1/plans", plan)
        assert response.status_code == 201, response.text

    alone = one_of_each(m, "gen-acme", "a")
    assert sorted({e.type for e in alone}) == sorted(EVENT_TYPES)
    for event in alone:
        body = body_model(root=event)
        # The generated union gives back the class it was built from (SeatEvent serves two types).
        assert type(body_model.model_validate_json(body.model_dump_json()).root) is type(event), event.type
        response = _post(service, "/v1/events", body)
        assert response.status_code == 201, (event.type, response.text)
        assert response.json()["accepted"] == 1, response.text

    batch = body_model(root=m.EventBatchIn(events=[batch_item(root=e) for e in one_of_each(m, "gen-beta", "b")]))
    response = _post(service, "/v1/events", batch)
    assert response.status_code == 201, response.text
    assert response.json()["accepted"] == len(EVENT_TYPES) + 1, response.text  # two seat.activated

    # The service read them as they were meant: run March, both accounts end terminated, one seat
    # left after the 5th, on the plan changed to on the 6th, the payment on the ledger.
    response = _post(service, "/v1/clock/run", m.ClockRunIn(until=date(2026, 3, 31)))
    assert response.status_code == 200, response.text
    for account in ("gen-acme", "gen-beta"):
        state = service.get(f"/v1/accounts/{account}", headers=AUTH).json()
        assert state["state"] == "terminated", state
        ledger = service.get(f"/v1/accounts/{account}/ledger", headers=AUTH).json()["entries"]
        assert any(e["kind"] == "payment" and e["amount"] in ("5000", "5000.00") for e in ledger), ledger


def test_generated_models_refuse_what_the_service_refuses(models):
    """The document's constraints made it into the generated models: amounts are decimal strings,
    `type` picks the model, unknown fields are refused, and a seat event needs a user_id."""
    from pydantic import ValidationError

    m = models
    at = datetime(2026, 3, 2, 10, tzinfo=CET)
    with pytest.raises(ValidationError):
        m.PaymentData(amount="12,50", currency="HUF", method="card")  # not a decimal string
    with pytest.raises(ValidationError):
        m.SeatEvent(id="x", type="plan.changed", account_id="a", occurred_at=at, data=m.SeatData(user_id="u"))
    with pytest.raises(ValidationError):
        m.SeatData(user_id="u", extra="no")  # additionalProperties: false
    with pytest.raises(ValidationError):
        _class(m, "V1EventsPostRequest").model_validate(json.loads(
            '{"id": "x", "type": "seat.activated", "account_id": "a", '
            '"occurred_at": "2026-03-02T10:00:00+01:00", "data": {}}'))
