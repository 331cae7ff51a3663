"""Background work inside `billing serve`: the NAV outbox, the customer's mail and the CRM webhooks
every minute, and with BILLING_SCHEDULER=1 also the daily cycle through today (off by default, so a
test or a migration can drive the business clock itself). Each step is safe from several processes
at once."""
from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.orm import sessionmaker

log = logging.getLogger("billing.scheduler")


def tick(factory: sessionmaker, with_cycle: bool) -> None:
    from billing.cycle.run import run_cycle
    from billing.dates import budapest_today
    from billing.db.base import utcnow

    if with_cycle:
        run_cycle(factory, budapest_today())
    try:
        from nav_reporting.client import NavClient, NavConfig
        from nav_reporting.worker import poll, submit_pending

        config = NavConfig.from_env()
        if config.configured:
            client = NavClient(config)
            try:
                submit_pending(factory, client, utcnow())
                poll(factory, client)
            finally:
                client.close()
    except Exception:  # one failing outside service must not stop the others
        log.exception("NAV step failed")
    try:
        from billing.mail.outbox import send_pending

        send_pending(factory)  # the customer's messages: retries whose time has come, claims run out
    except Exception:
        log.exception("mail step failed")
    try:
        from billing.webhooks.delivery import deliver_pending

        deliver_pending(factory)
    except Exception:
        log.exception("webhook delivery failed")


def start_scheduler(factory: sessionmaker, with_cycle: bool, interval_s: float = 60.0) -> threading.Thread:
    def loop() -> None:
        while True:
            try:
                tick(factory, with_cycle)
            except Exception:
                log.exception("scheduled tick failed")
            time.sleep(interval_s)

    thread = threading.Thread(target=loop, name="billing-scheduler", daemon=True)
    thread.start()
    return thread
