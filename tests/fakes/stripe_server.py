"""A loopback stand-in for api.stripe.com, enough for billing.payments.stripe_gateway.

It speaks what the official library sends (form-encoded bodies with `a[b][0][c]` keys, Bearer
auth, Idempotency-Key) and answers JSON shaped like Stripe's objects, so tests drive the real
`stripe` package. Idempotency follows Stripe: a key replays its first answer for the same
endpoint and parameters and is a 400 `idempotency_error` otherwise. Webhook helpers sign
events the way Stripe does: `t=<ts>,v1=hex(HMAC-SHA256(secret, f"{ts}.{body}"))`.

The card on file: customers, payment methods (retrieve, attach, detach), and payment intents
created with `off_session=true&confirm=true`, which succeed or answer a 402 card_error as the
saved card says (`decline(pm_id, code)`, like Stripe's declining test cards). A Checkout session
with a customer and `payment_intent_data[setup_future_usage]` attaches its card to the customer
when `complete_session` pays it.
"""
from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

TEST_API_KEY = "sk_test_fake_123"
TEST_WEBHOOK_SECRET = "whsec_test_fake_456"
VISA = {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}


class StripeFailure(Exception):
    def __init__(self, status: int, error_type: str, message: str, code: str | None = None):
        super().__init__(message)
        self.status, self.error_type, self.code = status, error_type, code


def decode_form(body: str) -> dict[str, Any]:
    """`line_items[0][price_data][currency]=huf` -> {"line_items": [{"price_data": {...}}]}."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists_from_indexed(root)


def _lists_from_indexed(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _lists_from_indexed(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def sign_payload(payload: bytes, secret: str, timestamp: int) -> str:
    """The Stripe-Signature header value Stripe would send for this body at this time."""
    signed = f"{timestamp}.".encode() + payload
    return f"t={timestamp},v1={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}"


class FakeStripe:
    def __init__(self, api_key: str = TEST_API_KEY, webhook_secret: str = TEST_WEBHOOK_SECRET):
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.sessions: dict[str, dict] = {}
        self.payment_intents: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.customers: dict[str, dict] = {}
        self.payment_methods: dict[str, dict] = {}
        self._declines: dict[str, str] = {}  # payment method id -> the card_error code it answers
        self.requests: list[tuple[str, str, dict, str | None]] = []  # method, path, params, key
        self.refund_status = "succeeded"  # what a new refund reports; tests may set "pending"
        self.drop_responses = 0  # answer nothing to the next N requests (after processing them)
        self._idempotent: dict[str, tuple[str, dict, int, dict]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> "FakeStripe":
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}_test_{next(self._ids):06d}"

    # -- request handling ------------------------------------------------------------------
    def handle(self, method: str, path: str, params: dict, key: str | None) -> tuple[int, dict]:
        with self._lock:  # one request at a time: Stripe serialises same-key requests too
            self.requests.append((method, path, params, key))
            if key is not None and method == "POST":
                return self._idempotent_answer(method, path, params, key)
            return self._answer(method, path, params)

    def _idempotent_answer(self, method, path, params, key) -> tuple[int, dict]:
        endpoint = f"{method} {path}"
        if key in self._idempotent:
            first_endpoint, first_params, status, body = self._idempotent[key]
            if first_endpoint != endpoint:
                return _error(400, "idempotency_error",
                              "Keys for idempotent requests can only be used for the same "
                              "endpoint they were first used for.")
            if first_params != params:
                return _error(400, "idempotency_error",
                              "Keys for idempotent requests can only be used with the same "
                              f"parameters they were first used with. Try using a key other "
                              f"than '{key}' if you meant to execute a different request.")
            return status, body
        status, body = self._answer(method, path, params)
        self._idempotent[key] = (endpoint, params, status, body)
        return status, body

    def _answer(self, method: str, path: str, params: dict) -> tuple[int, dict]:
        try:
            if method == "POST" and path == "/v1/checkout/sessions":
                return 200, self._create_session(params)
            if method == "POST" and path == "/v1/refunds":
                return 200, self._create_refund(params)
            if method == "POST" and path == "/v1/customers":
                return 200, self._create_customer(params)
            if method == "POST" and path == "/v1/payment_intents":
                return self._create_intent(params)
            attach = re.fullmatch(r"/v1/payment_methods/([^/]+)/(attach|detach)", path)
            if method == "POST" and attach:
                return 200, self._attach(attach.group(1), params.get("customer") if attach.group(2) == "attach" else None)
            if method == "GET" and path.startswith("/v1/payment_intents/"):
                return 200, self._get_intent(path[len("/v1/payment_intents/"):], params)
            if method == "GET":
                for prefix, store in (("/v1/checkout/sessions/", self.sessions),
                                      ("/v1/refunds/", self.refunds),
                                      ("/v1/customers/", self.customers),
                                      ("/v1/payment_methods/", self.payment_methods)):
                    if path.startswith(prefix):
                        return 200, self._get(store, path[len(prefix):])
            return _error(404, "invalid_request_error", f"Unrecognized request URL ({method}: {path}).")
        except StripeFailure as failure:
            return _error(failure.status, failure.error_type, str(failure), failure.code)

    def _get(self, store: dict, object_id: str) -> dict:
        if object_id not in store:
            raise StripeFailure(404, "invalid_request_error", f"No such object: '{object_id}'",
                                "resource_missing")
        return store[object_id]

    def _create_session(self, params: dict) -> dict:
        if params.get("mode") != "payment":
            raise StripeFailure(400, "invalid_request_error", "Only mode=payment is faked")
        items = params.get("line_items") or []
        if not items:
            raise StripeFailure(400, "invalid_request_error", "Missing required param: line_items.",
                                "parameter_missing")
        currencies = {item["price_data"]["currency"] for item in items}
        if len(currencies) != 1:
            raise StripeFailure(400, "invalid_request_error", "line items in several currencies")
        total = sum(int(item["price_data"]["unit_amount"]) * int(item.get("quantity", 1))
                    for item in items)
        session_id = self._new_id("cs")
        now = int(time.time())
        session = {
            "id": session_id, "object": "checkout.session", "mode": "payment",
            "amount_subtotal": total, "amount_total": total, "currency": currencies.pop(),
            "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata", {}),
            "payment_intent": None,  # created when the customer pays, as Stripe does now
            "payment_status": "unpaid", "status": "open",
            "success_url": params.get("success_url"), "cancel_url": params.get("cancel_url"),
            "url": f"{self.base_url}/c/pay/{session_id}",
            "created": now, "expires_at": now + 24 * 3600, "livemode": False,
            "customer": params.get("customer"),
            "_payment_intent_metadata": params.get("payment_intent_data", {}).get("metadata", {}),
            "_setup_future_usage": params.get("payment_intent_data", {}).get("setup_future_usage"),
        }
        if session["customer"] is not None:
            self._get(self.customers, session["customer"])
        self.sessions[session_id] = session
        return _public(session)

    def _create_refund(self, params: dict) -> dict:
        intent = self.payment_intents.get(params.get("payment_intent", ""))
        if intent is None:
            raise StripeFailure(400, "invalid_request_error",
                                f"No such payment_intent: '{params.get('payment_intent')}'",
                                "resource_missing")
        refunded = sum(r["amount"] for r in self.refunds.values()
                       if r["payment_intent"] == intent["id"] and r["status"] != "failed")
        remaining = intent["amount_received"] - refunded
        amount = int(params.get("amount", remaining))
        if amount <= 0 or amount > remaining:
            raise StripeFailure(400, "invalid_request_error",
                                f"Refund amount ({amount}) is greater than unrefunded amount "
                                f"on charge ({remaining})", "amount_too_large")
        refund = {
            "id": self._new_id("re"), "object": "refund", "amount": amount,
            "currency": intent["currency"], "payment_intent": intent["id"],
            "charge": intent["latest_charge"], "metadata": params.get("metadata", {}),
            "status": self.refund_status, "created": int(time.time()),
        }
        self.refunds[refund["id"]] = refund
        return refund

    # -- the card on file ------------------------------------------------------------------
    def _create_customer(self, params: dict) -> dict:
        customer = {"id": self._new_id("cus"), "object": "customer", "created": int(time.time()),
                    "metadata": params.get("metadata", {}), "email": params.get("email"), "livemode": False}
        self.customers[customer["id"]] = customer
        return customer

    def _attach(self, method_id: str, customer: str | None) -> dict:
        method = self._get(self.payment_methods, method_id)
        if customer is not None:
            self._get(self.customers, customer)
        elif method["customer"] is None:
            raise StripeFailure(400, "invalid_request_error", "The payment method you provided is not "
                                "attached to a customer so detachment is impossible.")
        method["customer"] = customer
        return method

    def _get_intent(self, intent_id: str, params: dict) -> dict:
        intent = dict(self._get(self.payment_intents, intent_id))
        if "payment_method" in (params.get("expand") or []) and intent.get("payment_method"):
            intent["payment_method"] = self.payment_methods[intent["payment_method"]]
        return intent

    def _create_intent(self, params: dict) -> tuple[int, dict]:
        """Only the saved-card form: confirm now, customer not present."""
        if params.get("off_session") != "true" or params.get("confirm") != "true":
            raise StripeFailure(400, "invalid_request_error", "Only off_session confirmed intents are faked")
        customer = self._get(self.customers, params.get("customer", ""))
        method = self._get(self.payment_methods, params.get("payment_method", ""))
        if method["customer"] != customer["id"]:
            raise StripeFailure(400, "invalid_request_error", "The provided PaymentMethod was previously used "
                                "without being attached to a Customer or was detached from a Customer, and "
                                "may not be used again.")
        amount = int(params["amount"])
        decline = self._declines.get(method["id"])
        later = decline == "processing"  # Stripe settles it later; payment_intent.succeeded tells
        decline = None if later else decline
        intent = {"id": self._new_id("pi"), "object": "payment_intent", "amount": amount,
                  "amount_received": 0 if decline else amount, "currency": params["currency"],
                  "customer": customer["id"], "payment_method": method["id"], "off_session": True,
                  "status": "requires_payment_method" if decline else "processing" if later else "succeeded",
                  "metadata": params.get("metadata", {}), "description": params.get("description"),
                  "latest_charge": self._new_id("ch"), "created": int(time.time()), "livemode": False,
                  "setup_future_usage": None}
        self.payment_intents[intent["id"]] = intent
        if decline is None:
            return 200, intent
        error = {"type": "card_error", "code": decline, "message": "Your card was declined.",
                 "payment_intent": intent, "payment_method": method}
        if decline == "card_declined":
            error["decline_code"] = "insufficient_funds"
        return 402, {"error": error}

    def decline(self, payment_method_id: str, code: str | None = "card_declined") -> None:
        """From now on this card answers a card_error `code` (card_declined, authentication_required,
        ...); "processing": its charges stay processing (see settle); None makes it pay again."""
        with self._lock:
            if code is None:
                self._declines.pop(payment_method_id, None)
            else:
                self._declines[payment_method_id] = code

    def off_session_intents(self) -> list[dict]:
        """The off-session charges asked for, in order (declined ones included)."""
        with self._lock:
            return [dict(i) for i in self.payment_intents.values() if i.get("off_session")]

    def intent_event(self, intent_id: str, *, created: int | None = None) -> dict:
        """payment_intent.succeeded for an intent, as Stripe sends it after an off-session charge
        (a processing one succeeds now)."""
        with self._lock:
            intent = self.payment_intents[intent_id]
            if intent["status"] == "processing":
                intent.update(status="succeeded", amount_received=intent["amount"])
            return self.event("payment_intent.succeeded", dict(intent), created)

    # -- what the customer and Stripe do behind the API ------------------------------------
    def complete_session(self, session_id: str, *, created: int | None = None,
                         card: dict | None = None) -> list[dict]:
        """The customer paid (with `card`, default VISA): the session becomes paid and gets a
        payment intent; a session made for a customer with setup_future_usage keeps the card,
        attached to that customer. Returns the two events Stripe sends for it
        (checkout.session.completed, payment_intent.succeeded)."""
        created = int(time.time()) if created is None else created
        with self._lock:
            session = self.sessions[session_id]
            keep = session["customer"] is not None and session["_setup_future_usage"] is not None
            method = {"id": self._new_id("pm"), "object": "payment_method", "type": "card",
                      "card": dict(card or VISA), "customer": session["customer"] if keep else None,
                      "created": created, "livemode": False}
            self.payment_methods[method["id"]] = method
            intent = {
                "id": self._new_id("pi"), "object": "payment_intent",
                "amount": session["amount_total"], "amount_received": session["amount_total"],
                "currency": session["currency"], "status": "succeeded",
                "metadata": session["_payment_intent_metadata"],
                "customer": session["customer"], "payment_method": method["id"],
                "setup_future_usage": session["_setup_future_usage"],
                "latest_charge": self._new_id("ch"), "created": created, "livemode": False,
            }
            self.payment_intents[intent["id"]] = intent
            session.update(payment_intent=intent["id"], payment_status="paid", status="complete")
            return [self.event("checkout.session.completed", _public(session), created),
                    self.event("payment_intent.succeeded", dict(intent), created)]

    def refund_event(self, refund_id: str, status: str, *, created: int | None = None) -> dict:
        """Stripe settles a refund: its status changes and refund.updated is sent."""
        with self._lock:
            self.refunds[refund_id]["status"] = status
            refund = dict(self.refunds[refund_id])
        return self.event("refund.updated", refund, created)

    def event(self, event_type: str, obj: dict, created: int | None = None) -> dict:
        return {
            "id": self._new_id("evt"), "object": "event", "api_version": "2025-01-27.acacia",
            "created": int(time.time()) if created is None else created, "type": event_type,
            "data": {"object": obj}, "livemode": False, "pending_webhooks": 1,
        }

    def webhook(self, event: dict, *, timestamp: int | None = None,
                secret: str | None = None) -> tuple[bytes, str]:
        """The raw body and Stripe-Signature header of a webhook delivery of `event`."""
        payload = json.dumps(event, indent=2).encode()  # Stripe pretty-prints its bodies
        timestamp = int(time.time()) if timestamp is None else timestamp
        return payload, sign_payload(payload, secret or self.webhook_secret, timestamp)


def _public(obj: dict) -> dict:
    return {key: value for key, value in obj.items() if not key.startswith("_")}


def _error(status: int, error_type: str, message: str, code: str | None = None) -> tuple[int, dict]:
    error = {"type": error_type, "message": message}
    if code:
        error["code"] = code
    return status, {"error": error}


def _handler_for(fake: FakeStripe) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep pytest output clean
            pass

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            url = urlsplit(self.path)
            params = decode_form(body if method == "POST" else url.query)
            if self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                status, answer = _error(401, "invalid_request_error", "Invalid API Key provided")
            else:
                status, answer = fake.handle(method, url.path, params,
                                             self.headers.get("Idempotency-Key"))
            with fake._lock:
                drop = fake.drop_responses > 0
                fake.drop_responses -= int(drop)
            if drop:  # processed, but the client never hears back: a lost response
                self.close_connection = True
                return
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Request-Id", f"req_{fake._new_id('fake')}")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler
