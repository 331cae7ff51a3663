"""Fixtures of the process-level end-to-end tests: a real `billing serve` subprocess per test, on
the database `db_url` gives (SQLite file or a fresh PostgreSQL database), talked to over TCP only.

Own helpers on purpose (not imported from other test modules, which may move)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
ADMIN = "e2e-process-admin-key"

# Variables of the developer's shell that would change what the served process does: outside
# services (NAV, Stripe, MNB, VIES, mail), the scheduler and workers, other keys, the seller block.
_SCRUBBED_PREFIXES = ("NAV_", "STRIPE_", "MNB_", "VIES_", "BILLING_", "SELLER_", "CHECKOUT_", "SMTP_", "MAIL_")
_SCRUBBED = {"DATABASE_URL", "TEST_POSTGRES_URL"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_command(port: int) -> list[str]:
    script = Path(sys.executable).with_name("billing")
    if script.exists():
        return [str(script), "serve", "--host", "127.0.0.1", "--port", str(port)]
    return [sys.executable, "-m", "service", "serve", "--host", "127.0.0.1", "--port", str(port)]


class ServedBilling:
    """One `billing serve` process. `start()` waits until GET /health answers over the socket."""

    def __init__(self, db_url: str, workdir: Path, extra_env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"serve-{self.port}.log"
        env = {k: v for k, v in os.environ.items()
               if k not in _SCRUBBED and not k.startswith(_SCRUBBED_PREFIXES)}
        env.update({
            "DATABASE_URL": db_url,
            "BILLING_ADMIN_KEY": ADMIN,
            "BILLING_WORKERS": "0",  # no background NAV/webhook ticks: the test drives everything
            "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]),
            **(extra_env or {}),
        })
        self.env = env
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None
        self._log = None

    def start(self, timeout_s: float = 60.0) -> ServedBilling:
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop())
        # cwd outside the checkout: nothing the process writes by default lands in the repo.
        self.proc = subprocess.Popen(_serve_command(self.port), env=self.env, cwd=self.workdir,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"billing serve exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"billing serve did not answer /health in {timeout_s} s:\n{self.log()}")
            time.sleep(0.1)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        """Terminate (SIGTERM: uvicorn shuts down cleanly), wait; kill if it hangs."""
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=5)
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def client(self, key: str = ADMIN) -> Http:
        return Http(self.base_url, key)


class Http:
    """httpx over TCP with a bearer key; helpers read like the contract."""

    def __init__(self, base_url: str, key: str) -> None:
        self.http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=120)

    def close(self) -> None:
        self.http.close()

    def get(self, path: str, expect: int | None = 200, **kw) -> httpx.Response:
        response = self.http.get(path, **kw)
        if expect is not None:
            assert response.status_code == expect, f"GET {path}: {response.status_code} {response.text[:2000]}"
        return response

    def post(self, path: str, body=None, expect: int | tuple[int, ...] | None = None, **kw) -> httpx.Response:
        response = self.http.post(path, json=body, **kw)
        if expect is not None:
            wanted = expect if isinstance(expect, tuple) else (expect,)
            assert response.status_code in wanted, f"POST {path}: {response.status_code} {response.text[:2000]}"
        return response

    def events(self, *events: dict) -> dict:
        return self.post("/v1/events", {"events": list(events)}, expect=(200, 201)).json()

    def run(self, until: str) -> dict:
        return self.post("/v1/clock/run", {"until": until}, expect=200).json()

    def account(self, account_id: str) -> dict:
        return self.get(f"/v1/accounts/{account_id}").json()

    def documents(self, account_id: str, kind: str | None = None) -> list[dict]:
        docs = self.get(f"/v1/accounts/{account_id}/documents").json()["documents"]
        return [d for d in docs if kind is None or d["kind"] == kind]

    def ledger(self, account_id: str) -> list[dict]:
        return self.get(f"/v1/accounts/{account_id}/ledger").json()["entries"]


@pytest.fixture
def serve(db_url, tmp_path):
    """serve(**extra_env) starts a `billing serve` process on `db_url`; every process started is
    terminated and waited for at teardown, whatever the test did."""
    started: list[ServedBilling] = []
    clients: list[Http] = []

    def start(**extra_env: str) -> ServedBilling:
        server = ServedBilling(db_url, tmp_path, extra_env)
        started.append(server)  # before start(): a process that hangs at start-up is stopped too
        server.start()
        original = server.client

        def client(key: str = ADMIN) -> Http:
            http = original(key)
            clients.append(http)
            return http

        server.client = client
        return server

    try:
        yield start
    finally:
        for http in clients:
            http.close()
        for server in started:
            server.stop()


# --- the story both tests tell ------------------------------------------------------------------

# The seller's own valid number, set explicitly (it is also billing/config.py's default); the buyer
# has CONTRACT §7's 12345676-2-41, and §6 refuses a buyer whose tax number is the seller's
# (check digit: 2·9+3·7+4·3+5·1+6·9+7·3+8·3 = 183 → 10 − 3 = 7).
SELLER_TAX_NUMBER = "23456787-2-42"
SELLER_ENV = {"SELLER_TAX_NUMBER": SELLER_TAX_NUMBER, "SELLER_EU_VAT_NUMBER": "HU23456787"}
BUYER_TAX_NUMBER = "12345676-2-41"
ADDRESS = {"postal_code": "1111", "city": "Budapest", "street": "Fő utca 1."}


def created(account_id: str, name: str, at: str = "2026-03-02T10:00:00+01:00", plan: str = "pro") -> dict:
    return {"id": f"created-{account_id}", "type": "account.created", "account_id": account_id,
            "occurred_at": at,
            "data": {"name": name, "email": f"billing@{account_id}.example", "country": "HU", "currency": "HUF",
                     "plan": plan, "locale": "hu", "tax_number": BUYER_TAX_NUMBER, "address": ADDRESS}}


def seat(account_id: str, user: str, at: str = "2026-03-02T10:05:00+01:00") -> dict:
    return {"id": f"seat-{account_id}-{user}", "type": "seat.activated", "account_id": account_id,
            "occurred_at": at, "data": {"user_id": user}}


def payment(account_id: str, amount: str, reference: str, at: str = "2026-03-18T09:00:00+01:00") -> dict:
    return {"id": f"pay-{account_id}-{reference}", "type": "payment.received", "account_id": account_id,
            "occurred_at": at, "data": {"amount": amount, "currency": "HUF", "method": "bank_transfer",
                                        "reference": reference}}


def terminated(account_id: str, at: str) -> dict:
    return {"id": f"terminated-{account_id}", "type": "account.terminated", "account_id": account_id,
            "occurred_at": at, "data": {"by": "customer"}}


PLAN = {"code": "pro", "name": "Pro", "currency": "HUF", "monthly_seat_price": "9990"}


def bill_until_first_invoice(c: Http, account_id: str = "bolt") -> tuple[str, str]:
    """Plan, account with 2 seats on 2 March, the first proforma on 16 March, paid on 18 March:
    returns (proforma number, invoice number). The figures are derived in test_journey.py."""
    c.post("/v1/plans", PLAN, expect=201)
    c.events(created(account_id, "Bolt Kft."), seat(account_id, "u1"), seat(account_id, "u2"))
    c.run("2026-03-16")
    [proforma] = c.documents(account_id, "proforma")
    assert proforma["gross"] == "10312"  # R(2 × 9,990 × 16/31)
    c.events(payment(account_id, "10312", proforma["number"]))
    c.run("2026-03-18")
    [invoice] = c.documents(account_id, "invoice")
    assert (invoice["issue_date"], invoice["gross"]) == ("2026-03-18", "10312")
    return proforma["number"], invoice["number"]


@pytest.fixture
def nav_sim():
    """The loopback NAV Online Számla 3.0 simulator (tests/fakes), for the seller's taxpayer id:
    it checks envelopes, password hash, signatures and every InvoiceData against the XSDs."""
    from tests.fakes.nav_simulator import NavSimulator

    with NavSimulator(tax_number=SELLER_TAX_NUMBER[:8]) as simulator:
        yield simulator
