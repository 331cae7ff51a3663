"""`billing nav submit`: send what the NAV outbox holds and poll until each report settles."""
from __future__ import annotations

from dataclasses import asdict, is_dataclass

from sqlalchemy.orm import sessionmaker


def submit(factory: sessionmaker, timeout_s: float = 600.0) -> dict:
    from nav_reporting.client import NavClient, NavConfig
    from nav_reporting.worker import run_until_settled

    config = NavConfig.from_env()
    if not config.configured:
        return {"submitted": False,
                "reason": "NAV credentials missing (NAV_LOGIN, NAV_PASSWORD, NAV_SIGNATURE_KEY, "
                          "NAV_EXCHANGE_KEY, NAV_TAX_NUMBER); documents stay queued"}
    client = NavClient(config)
    try:
        report = run_until_settled(factory, client, timeout_s=timeout_s)
    finally:
        client.close()
    return asdict(report) if is_dataclass(report) else {"report": str(report)}
