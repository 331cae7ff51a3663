"""`billing simulate FILE`: run a scenario (YAML or JSON) against an in-memory database through the
same HTTP API the CRM uses, then print the ledger, documents and state per day, or check the
expected figures and exit non-zero on a difference. Finance can write a case without Python.

Scenario format:

    plans: [{code, name, currency, monthly_seat_price, discount_percent?, prices_include_vat?}]
    steps:
      - events: [{id, type, account_id, occurred_at, data}]     # posted as one batch
      - run: 2026-03-16                                           # the daily cycle through that day
      - expect:                                                    # checked after the steps before it
          account: acme
          state: awaiting_payment                                  # any field of GET /v1/accounts/{id}
          balance: "-645"
          documents: [{kind: proforma, gross: "10312"}]            # subset match, in order of issue
          ledger_sum: {kind: charge, amount: "-2578"}              # sum of the entries of a kind
          statement: {month: 2026-03, closing_balance: "-2578"}
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

ADMIN = "simulation-admin"


def load(path: str | Path) -> dict[str, Any]:
    text = Path(path).read_text(encoding="utf-8")
    data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    if not isinstance(data, dict) or "steps" not in data:
        raise ValueError(f"{path}: a scenario has 'plans' and 'steps'")
    return data


def _json_ready(value: Any) -> Any:
    """YAML turns 2026-03-16 into a date; the API wants the text."""
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


class Simulation:
    def __init__(self) -> None:
        from fastapi.testclient import TestClient

        from billing.http.app import create_app

        os.environ.setdefault("BILLING_ADMIN_KEY", ADMIN)
        self.headers = {"Authorization": f"Bearer {os.environ['BILLING_ADMIN_KEY']}"}
        self._dir = tempfile.TemporaryDirectory(prefix="billing-sim-")
        self.app = create_app(f"sqlite:///{self._dir.name}/simulation.db")
        self.client = TestClient(self.app)
        self.failures: list[str] = []
        self.days: list[dict[str, Any]] = []

    def close(self) -> None:
        self.client.close()
        self.app.state.engine.dispose()
        self._dir.cleanup()

    def call(self, method: str, path: str, body: Any = None) -> Any:
        response = self.client.request(method, path, json=_json_ready(body), headers=self.headers)
        if response.status_code >= 400:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json()

    def accounts(self) -> list[str]:
        from sqlalchemy import select

        from billing.db.models import Account

        with self.app.state.factory() as session:
            return list(session.scalars(select(Account.id).order_by(Account.id)))

    def run(self, scenario: dict[str, Any]) -> None:
        for plan in scenario.get("plans", []):
            self.call("POST", "/v1/plans", plan)
        for number, step in enumerate(scenario["steps"], 1):
            if "events" in step:
                self.call("POST", "/v1/events", {"events": step["events"]})
            if "run" in step:
                until = _json_ready(step["run"])
                self.call("POST", "/v1/clock/run", {"until": until})
                self.days.append({"until": until, "accounts": {a: self.call("GET", f"/v1/accounts/{a}")
                                                                for a in self.accounts()}})
            if "expect" in step:
                self.check(number, step["expect"])

    def check(self, number: int, expect: dict[str, Any]) -> None:
        account = expect["account"]
        actual = self.call("GET", f"/v1/accounts/{account}")
        for key, wanted in expect.items():
            if key in ("account", "documents", "ledger_sum", "statement"):
                continue
            self._same(number, f"{account}.{key}", actual.get(key), wanted)
        if "documents" in expect:
            docs = self.call("GET", f"/v1/accounts/{account}/documents")["documents"]
            for index, wanted in enumerate(expect["documents"]):
                if index >= len(docs):
                    self.failures.append(f"step {number}: {account} has no document #{index + 1}")
                    continue
                for key, value in wanted.items():
                    self._same(number, f"{account}.documents[{index}].{key}", docs[index].get(key), value)
        if "ledger_sum" in expect:
            wanted = expect["ledger_sum"]
            entries = self.call("GET", f"/v1/accounts/{account}/ledger")["entries"]
            total = sum((Decimal(e["amount"]) for e in entries if e["kind"] == wanted["kind"]), Decimal(0))
            self._same(number, f"{account}.ledger_sum[{wanted['kind']}]", str(total), wanted["amount"])
        if "statement" in expect:
            wanted = dict(expect["statement"])
            month = _json_ready(wanted.pop("month"))
            statement = self.call("GET", f"/v1/accounts/{account}/statements/{month}")
            for key, value in wanted.items():
                self._same(number, f"{account}.statement[{month}].{key}", statement.get(key), value)

    def _same(self, number: int, what: str, actual: Any, wanted: Any) -> None:
        wanted = _json_ready(wanted)
        if isinstance(wanted, (int, float)) and not isinstance(wanted, bool) and isinstance(actual, str):
            wanted = str(wanted)
        if actual != wanted:
            self.failures.append(f"step {number}: {what} is {actual!r}, expected {wanted!r}")

    def table(self) -> str:
        rows = ["day         account      state             access     balance   seats"]
        for day in self.days:
            for account, view in day["accounts"].items():
                rows.append(f"{day['until']:<11} {account:<12} {view['state']:<17} {view['access']:<10} "
                            f"{view['balance']:>8} {view['seats']:>6}")
        for account in self.accounts():
            rows.append("")
            rows.append(f"ledger of {account}")
            for entry in self.call("GET", f"/v1/accounts/{account}/ledger")["entries"]:
                rows.append(f"  {entry['date']}  {entry['kind']:<18} {entry['amount']:>9}  → {entry['balance_after']:>9}")
            rows.append(f"documents of {account}")
            for doc in self.call("GET", f"/v1/accounts/{account}/documents")["documents"]:
                rows.append(f"  {doc['number']:<16} {doc['kind']:<12} {doc['issue_date']}  gross {doc['gross']:>9} "
                            f"{doc['currency']}  {doc['status']}")
        return "\n".join(rows)


def simulate(path: str, check_only: bool = False) -> int:
    scenario = load(path)
    simulation = Simulation()
    try:
        simulation.run(scenario)
        if not check_only:
            print(simulation.table())
        for failure in simulation.failures:
            print(f"DIFFERENCE {failure}", file=sys.stderr)
        return 1 if simulation.failures else 0
    finally:
        simulation.close()
