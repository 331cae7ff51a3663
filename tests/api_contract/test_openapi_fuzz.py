"""Schemathesis over the service's own OpenAPI document, on a seeded service (issue #18).

The document is loaded from `/openapi.json` of `service.create_app(db_url)` with schemathesis's
ASGI integration (`schemathesis.openapi.from_asgi`): every request goes in-process to the real app,
authorised with the admin key (`Authorization: Bearer`, BILLING_ADMIN_KEY). Each operation's
requests come from `APIOperation.as_strategy`, driven by Hypothesis with `derandomize=True` (the
same requests every run and on both engines; Hypothesis derives the seed from the test function's
source, so editing `_run.run` draws another set), in variants:

- `generated`: path parameters take the seeded values (`acme`; PRO-2026-000001, PRO-2026-000002,
  INV-2026-000001; 2026-03; the dead letters; B-2; the endpoint) and everything else is what the
  document allows;
- `seeded`: the same, and the query parameters and body fields the document types as bare strings
  (dates, locales, account/plan/currency ids) get known values as well, because random text can
  only earn a 422 there; POST /v1/payments/bank-statements gets a real CAMT.053 file and the Stripe
  webhook a signed Stripe-shaped event (fuzzed inside);
- `any-path`: the path parameters too are anything the document allows (unknown ids: 404s);
- `negative`: data that breaks the document (schemathesis's negative mode), seeded paths and not.

Every answer must not be a 5xx (schemathesis's `not_a_server_error`). Positive answers are also
compared with the document (`status_code_conformance`, `content_type_conformance`,
`response_schema_conformance`): a 2xx/3xx the document does not list fails the test unless
DOCUMENT_GAPS lists it with its reason; the error statuses the document does not list (400, 401,
404, 409, ...) are counted and printed, not failed (CONTRACT §7 promises "a 4xx with a JSON body",
but FastAPI's document lists 422 only).

Reaching the handlers: per operation, a positive request answered below 500 with something
other than 400/401/403/404/405/422/429 got past validation and auth ("accepted"). Every operation
must have at least one, except those in NOT_REACHABLE (with the reason); the table printed at the
end of the run (conftest.pytest_terminal_summary) gives accepted/total per operation and variant.
"""
from __future__ import annotations

import itertools
import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (  # the built-in checks, by their public names
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.errors import FailureGroup  # a BaseExceptionGroup: `except Exception` misses it
from schemathesis.generation import GenerationMode

from tests.api_contract.conftest import AUTH, REPORTS
from tests.fakes.camt053 import Entry, Statement, build_statement
from tests.fakes.stripe_server import TEST_WEBHOOK_SECRET, sign_payload

POSITIVE_EXAMPLES = 20
NEGATIVE_EXAMPLES = 10
# Answers that mean "stopped before the handler did its work": auth, routing, validation, limits.
# 400 is here too (the brief's list is 401/403/404/405/422): the service answers 400 for a bad
# Stripe signature and FastAPI for a body that is not UTF-8.
REJECTED = frozenset({400, 401, 403, 404, 405, 422, 429})

STRIPE_WEBHOOK = "POST /v1/payments/stripe/webhook"
BANK_STATEMENTS = "POST /v1/payments/bank-statements"

# Operations no request built from the document can get past validation or auth, and why. If one
# starts accepting requests the test says so: take it off the list then.
NOT_REACHABLE: dict[str, str] = {
    "POST /v1/refunds/{refund_id}/paid":
        "the seeded story terminates no account, so there is no refund to mark paid (404); its handler is "
        "exercised over HTTP on both engines in tests/payments_e2e/test_money_back.py",
    "POST /portal/{account_id}/cards/{card_id}/remove":
        "the seeded story pays by bank, so there is no card on file to remove (404); its handler is "
        "exercised over HTTP on both engines in tests/cards/test_portal_card.py",
}

# 2xx/3xx answers the document does not list, known and reported (production must document them).
DOCUMENT_GAPS: dict[tuple[str, int], str] = {
    ("POST /v1/documents/{number}/checkout", 200):
        "post_checkout (billing/http/payments.py) answers 200 with the open session when one exists; "
        "the document lists 201 and 422 only",
    ("POST /v1/plans", 200):
        "post_plan (billing/http/plans.py) answers 200 when the same plan is defined again; the document "
        "lists 201 and 422 only",
    ("POST /v1/events", 200):
        "post_events (billing/http/events.py) answers 200 when every event is a duplicate; the document "
        "lists 201 only",
}

# Query parameters the document types as bare strings (no `format: date`, no `enum`).
SEED_QUERY = {"from": "2026-03-01", "to": "2026-03-31", "date": "2026-03-18", "until": "2026-03-31",
              "as_of": "2026-03-20", "month": "2026-03", "locale": "hu", "lang": "hu"}
SEED_QUERY_FOR = {"GET /v1/refunds": {"status": "due"}}  # a name that means another thing elsewhere
# Body fields (at any depth) a random string rarely gets right; `occurred_at` so that an event
# falls inside acme's life, `amount` so that it is positive and in HUF precision.
SEED_BODY = {"account_id": "acme", "plan": "std", "currency": "HUF", "until": "2026-03-25",
             "occurred_at": "2026-03-19T12:00:00+01:00", "amount": "1000", "url": "http://127.0.0.1:9/hook"}

_CAMT = build_statement(Statement(statement_id="STMT-FUZZ-1", entries=(
    Entry("2500", acct_svcr_ref="FUZZ-1", structured_ref="PRO-2026-000002", debtor_name="Acme Kft."),
    Entry("100", acct_svcr_ref="FUZZ-2", unstructured=("no reference",)),
)))

_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                     max_leaves=8)
# A Stripe-shaped event: what the handler gets once the signature holds (signed in _send).
_STRIPE_EVENT = st.fixed_dictionaries({
    "id": st.text(min_size=1, max_size=12).map(lambda s: f"evt_{s}"),
    "type": st.sampled_from(["checkout.session.completed", "checkout.session.async_payment_succeeded",
                             "payment_intent.succeeded", "refund.updated", "charge.refunded",
                             "charge.refund.updated", "customer.created"]),
    "data": st.one_of(_JSON, st.fixed_dictionaries({"object": st.one_of(_JSON, st.fixed_dictionaries({
        "id": st.sampled_from(["pi_1", "cs_1", "re_1"]), "payment_status": st.sampled_from(["paid", "unpaid"]),
        "payment_intent": st.sampled_from(["pi_1", None, 7]), "amount_total": st.one_of(st.integers(), st.text(max_size=4)),
        "amount": st.integers(), "currency": st.sampled_from(["huf", "eur", "xxx"]),
        "status": st.sampled_from(["succeeded", "pending", "failed"]),
        "metadata": st.one_of(_JSON, st.fixed_dictionaries({"proforma_number": st.sampled_from(
            ["PRO-2026-000001", "PRO-2026-000002", "nope"]), "account_id": st.sampled_from(["acme", "ghost"])})),
    }))})),
})


def _seed_body(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (SEED_BODY[k] if k in SEED_BODY and isinstance(v, str) else _seed_body(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_seed_body(v) for v in value]
    return value


def _with_seeded_body(case):
    if isinstance(case.body, (dict, list)):
        body = _seed_body(case.body)
        # A new account keeps its generated id (and so is created): the clock run after the
        # events then bills whatever the generator made of it.
        for original, seeded_event in zip(_events(case.body), _events(body)):
            if original.get("type") == "account.created" and isinstance(original.get("account_id"), str):
                seeded_event["account_id"] = original["account_id"]
        case.body = body
    return case


def _events(body: Any) -> list[dict]:
    items = body.get("events") if isinstance(body, dict) and isinstance(body.get("events"), list) else [body]
    return [item for item in items if isinstance(item, dict)]


def _with_body(pair):
    case, body = pair
    case.body = body
    return case


@dataclass
class OperationStats:
    positive: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))  # variant -> statuses
    negative: Counter = field(default_factory=Counter)
    undocumented: Counter = field(default_factory=Counter)  # positive answers whose status is not listed
    nonconforming: dict[str, str] = field(default_factory=dict)  # what -> the first request showing it
    seconds: float = 0.0

    def accepted(self, variant: str | None = None) -> int:
        # A 5xx reached the handler too, but it is a failure, not an acceptance.
        return sum(n for v, statuses in self.positive.items() if variant in (None, v)
                   for status, n in statuses.items()
                   if status not in REJECTED and isinstance(status, int) and status < 500)

    def total(self, variant: str | None = None) -> int:
        return sum(sum(statuses.values()) for v, statuses in self.positive.items() if variant in (None, v))


def _order(operation) -> tuple:
    # Reads first, then writes; last what changes acme or the seeded rows for everything after it:
    # the events, then the clock runs that process them, then the erasure (it wants a terminated
    # account).
    late = ("/annulment", "/assign", "/retry", "/v1/events", "/v1/clock/run", "/personal-data")
    method = operation.method.upper()
    rank = next((i for i, suffix in enumerate(late) if operation.path.endswith(suffix)), None)
    if rank is not None:
        return 2, rank, operation.path
    if method == "DELETE":
        return 3, 0, operation.path
    return (0 if method == "GET" else 1), 0, operation.path


def _path_combinations(operation, values: dict[str, list]) -> list[dict[str, Any] | None]:
    names = [p.name for p in operation.path_parameters]
    if not names:
        return [None]
    missing = [n for n in names if n not in values]
    assert not missing, f"{operation.label}: no seeded value for {missing}"
    return [dict(zip(names, combo)) for combo in itertools.product(*(values[n] for n in names))]


def _tag(variant: str, strategy):
    return strategy.map(lambda case: (variant, case))


def _positive_variants(operation, values: dict[str, list]) -> list:
    mode = GenerationMode.POSITIVE
    query_names = {p.name for p in operation.query}
    known = {**SEED_QUERY, **SEED_QUERY_FOR.get(operation.label, {})}
    seeded_query = {k: v for k, v in known.items() if k in query_names} or None
    variants = []
    for path in _path_combinations(operation, values):
        variants.append(_tag("generated", operation.as_strategy(mode, path_parameters=path, headers=AUTH)))
        if operation.label == BANK_STATEMENTS:
            seeded = operation.as_strategy(mode, headers=AUTH, body=_CAMT, media_type="application/xml")
        elif operation.label == STRIPE_WEBHOOK:
            seeded = st.tuples(operation.as_strategy(mode, headers=AUTH), _STRIPE_EVENT).map(_with_body)
        else:
            seeded = operation.as_strategy(mode, path_parameters=path, headers=AUTH,
                                           query=seeded_query).map(_with_seeded_body)
        variants.append(_tag("seeded", seeded))
    if operation.path_parameters:
        variants.append(_tag("any-path", operation.as_strategy(mode, headers=AUTH)))
    return variants


def _negative_variants(operation, values: dict[str, list]) -> list:
    mode = GenerationMode.NEGATIVE
    variants = [_tag("negative", operation.as_strategy(mode, path_parameters=path, headers=AUTH))
                for path in _path_combinations(operation, values)]
    if operation.path_parameters:
        variants.append(_tag("negative", operation.as_strategy(mode, headers=AUTH)))
    return variants


def _request(case) -> str:
    try:
        text = case.as_curl_command(headers=AUTH)
    except Exception as exc:  # pragma: no cover - only for the report
        text = f"{case.method} {case.formatted_path} ({exc})"
    text = text.replace("-H 'Authorization: [Filtered]' ", "-H 'Authorization: Bearer $BILLING_ADMIN_KEY' ")
    if case.operation.label == STRIPE_WEBHOOK:
        text += "   (sent with a valid Stripe-Signature: t=<now>,v1=HMAC-SHA256(STRIPE_WEBHOOK_SECRET, '<t>.' + body))"
    return text


def _send(case):
    if case.operation.label == STRIPE_WEBHOOK:
        # Stripe signs the raw body: sign exactly what is sent, so the handler gets past the check
        # and what it does with the event is tested.
        payload = case.body if isinstance(case.body, bytes) else json.dumps(case.body).encode()
        signature = sign_payload(payload, TEST_WEBHOOK_SECRET, int(time.time()))
        return case.call(headers={"Stripe-Signature": signature}, data=payload)
    return case.call()


def _run(operation, strategy, examples: int, stats: OperationStats, server_errors: dict, positive: bool):
    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
              print_blob=False)
    @given(tagged=strategy)
    def run(tagged):
        variant, case = tagged
        counter = stats.positive[variant] if positive else stats.negative
        try:
            response = _send(case)
        except Exception as exc:  # the app raised: a real server answers 500 (ServerErrorMiddleware)
            counter["500 (raised)"] += 1
            server_errors[(operation.label, f"500: {type(exc).__name__}: {exc}")].append(_request(case))
            return
        counter[response.status_code] += 1
        try:
            case.validate_response(response, checks=[not_a_server_error])
        except FailureGroup:
            server_errors[(operation.label, f"{response.status_code}: {response.text[:200]}")].append(_request(case))
        if not positive:
            return
        for check in (status_code_conformance, content_type_conformance, response_schema_conformance):
            try:
                case.validate_response(response, checks=[check])
            except FailureGroup as exc:
                if check is status_code_conformance:
                    stats.undocumented[response.status_code] += 1
                    if response.status_code < 400:
                        stats.nonconforming.setdefault(f"undocumented {response.status_code}", _request(case))
                else:
                    stats.nonconforming.setdefault(check.__name__, f"{_request(case)}\n        "
                                                                   f"{' '.join(str(exc).split())[:300]}")

    run()


def _fuzz(operation, values: dict[str, list], stats: OperationStats, server_errors: dict) -> None:
    _run(operation, st.one_of(_positive_variants(operation, values)), POSITIVE_EXAMPLES, stats, server_errors,
         positive=True)
    try:
        _run(operation, st.one_of(_negative_variants(operation, values)), NEGATIVE_EXAMPLES, stats,
             server_errors, positive=False)
    except Unsatisfiable:
        # Nothing in the operation can be made invalid (no parameter, no body): no negative case.
        stats.negative["none possible"] = 0


def _counts(counter: Counter) -> str:
    return " ".join(f"{k}:{v}" for k, v in sorted(counter.items(), key=lambda kv: str(kv[0]))) or "-"


def _table(engine: str, stats: dict[str, OperationStats], elapsed: float) -> str:
    width = max(len(label) for label in stats)
    lines = ["", f"API contract fuzz on {engine} ({elapsed:.1f} s): positive requests accepted/total "
                 f"(accepted = answered <500 and not {sorted(REJECTED)}), per variant "
                 f"generated | seeded | any-path; then statuses; negative statuses; undocumented statuses",
             f"  {'operation':<{width}}  all    gen    seed   any    "]
    for label, s in stats.items():
        cells = "  ".join(f"{s.accepted(v):>2}/{s.total(v):<2}" if s.total(v) else "  -  "
                          for v in ("generated", "seeded", "any-path"))
        statuses = Counter()
        for counter in s.positive.values():
            statuses.update(counter)
        undocumented = ",".join(str(k) for k in sorted(s.undocumented)) or "-"
        lines.append(f"  {label:<{width}}  {s.accepted():>2}/{s.total():<3} {cells}  pos[{_counts(statuses)}]  "
                     f"neg[{_counts(s.negative)}]  undocumented[{undocumented}]  {s.seconds:.1f}s")
    lines.append(f"  all {len(stats)} operations: {sum(s.accepted() for s in stats.values())}/"
                 f"{sum(s.total() for s in stats.values())} positive requests accepted "
                 f"(generated {sum(s.accepted('generated') for s in stats.values())}/"
                 f"{sum(s.total('generated') for s in stats.values())}), "
                 f"{sum(sum(s.negative.values()) for s in stats.values())} negative requests")
    return "\n".join(lines)


def test_no_server_error_and_every_handler_reached(seeded):
    started = time.monotonic()
    schema = schemathesis.openapi.from_asgi("/openapi.json", seeded.app)
    operations = sorted((result.ok() for result in schema.get_all_operations()), key=_order)
    assert len(operations) > 30, [op.label for op in operations]
    stats: dict[str, OperationStats] = {}
    server_errors: dict[tuple[str, str], list[str]] = defaultdict(list)  # (operation, answer) -> requests
    for operation in operations:
        t0 = time.monotonic()
        stats[operation.label] = OperationStats()
        _fuzz(operation, seeded.values, stats[operation.label], server_errors)
        stats[operation.label].seconds = time.monotonic() - t0
    report = _table(seeded.engine, stats, time.monotonic() - started)
    nonconforming = [f"    {label}: {name}: {example}" for label, s in stats.items()
                     for name, example in s.nonconforming.items()]
    if nonconforming:
        report += "\n  answers that do not conform to the document (first request of each):\n" + "\n".join(nonconforming)
    errors = [f"    {label} -> {answer} ({len(requests)}x), e.g.\n" + "\n".join(f"        {r}" for r in requests[:2])
              for (label, answer), requests in server_errors.items()]
    if errors:
        report += "\n  5xx answers:\n" + "\n".join(errors)
    REPORTS.append(report)  # printed at the end of the run (conftest.pytest_terminal_summary)

    assert not errors, "5xx answers:\n" + "\n".join(errors)
    unreached = [label for label, s in stats.items() if s.accepted() == 0 and label not in NOT_REACHABLE]
    assert not unreached, f"no request got past validation and auth: {unreached}"
    now_reached = [label for label in NOT_REACHABLE if label in stats and stats[label].accepted()]
    assert not now_reached, f"these operations are reached now; take them off NOT_REACHABLE: {now_reached}"
    undocumented_success = [f"{label}: {name}" for label, s in stats.items() for name in s.nonconforming
                            if name.startswith("undocumented")
                            and (label, int(name.split()[1])) not in DOCUMENT_GAPS]
    assert not undocumented_success, f"2xx/3xx answers the document does not list: {undocumented_success}"
    other = [f"{label}: {name}" for label, s in stats.items() for name in s.nonconforming
             if not name.startswith("undocumented")]
    assert not other, f"answers that do not match the document: {other}"
