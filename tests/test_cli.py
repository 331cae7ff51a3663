"""The operator's command line: demo, run, accounts show, export, simulate (exit codes included)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SCENARIOS = Path(__file__).parent / "scenarios"


def billing(*args, db, check=True):
    env = {**os.environ, "DATABASE_URL": db, "BILLING_ADMIN_KEY": "cli-admin"}
    result = subprocess.run([sys.executable, "-c", "import service; service.main()", *args], env=env,
                            capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def test_demo_run_show_and_export(tmp_path):
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    demo = json.loads(billing("demo", db=db).stdout)
    assert demo["accounts"] == ["acme", "carpati"]
    assert json.loads(billing("run", "--until", demo["cycle"]["until"], db=db).stdout)["accounts_processed"] == 0
    shown = json.loads(billing("accounts", "show", "acme", db=db).stdout)
    assert shown["state"] == "awaiting_payment" and shown["seats"] == 3
    out = tmp_path / "export"
    files = json.loads(billing("export", "--out", str(out), db=db).stdout)["files"]
    assert {Path(f).suffix for f in files} == {".csv", ".xlsx", ".zip"}
    assert all(Path(f).stat().st_size > 0 for f in files)
    nav = json.loads(billing("nav", "submit", db=db).stdout)
    assert nav["submitted"] is False and "NAV credentials missing" in nav["reason"]


def test_simulate_checks_and_fails_on_a_difference(tmp_path):
    db = f"sqlite:///{tmp_path / 'unused.db'}"
    ok = billing("simulate", str(SCENARIOS / "expiry.yaml"), db=db)
    assert "ledger of lazy" in ok.stdout
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text((SCENARIOS / "expiry.yaml").read_text().replace('"3973"', '"1"'))
    failed = billing("simulate", "--check", str(wrong), db=db, check=False)
    assert failed.returncode == 1 and "DIFFERENCE" in failed.stderr
