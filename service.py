"""The command line (`billing serve | run | demo | nav submit | mail send | export | simulate | accounts show`).
The application itself is billing.http.app.create_app, re-exported here for `service:create_app`."""
from __future__ import annotations

import argparse
import gc
import json
import logging
import os
import sys
from datetime import date

from billing import logs
from billing.cycle.run import run_cycle
from billing.db.session import create_schema, make_engine, make_session_factory
from billing.http import auth
from billing.http.app import create_app
from billing.progress import progress
from billing.views import accounts as account_views

__all__ = ["create_app", "main"]

log = logging.getLogger("billing.service")


def _cmd_serve(args) -> None:
    import uvicorn

    logs.configure()
    generated = auth.ensure_admin_key()
    if generated:
        log.warning("BILLING_ADMIN_KEY not set; this process uses the admin key %s", generated)
    app = create_app()
    if os.environ.get("BILLING_WORKERS", "1") == "1":
        from billing.ops.scheduler import start_scheduler

        start_scheduler(app.state.factory, with_cycle=os.environ.get("BILLING_SCHEDULER") == "1")
    # Everything loaded so far (FastAPI, SQLAlchemy, pydantic schemas, lxml, reportlab, ...) lives as
    # long as the process: move it out of the collector's sight. Otherwise every full collection
    # walks those ~130,000 objects again, 30-90 ms in the middle of a request (measured on a
    # 1,000-event batch); afterwards a full collection only walks what requests left behind.
    gc.collect()
    gc.freeze()
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", log_config=None)


def _cmd_run(args) -> None:
    logs.configure()
    engine = make_engine()
    create_schema(engine)
    factory = make_session_factory(engine)
    result = run_cycle(factory, date.fromisoformat(args.until),
                       progress=lambda chunks: progress(chunks, "chunks of accounts", "chunk"))
    print(json.dumps(result))


def _cmd_demo(args) -> None:
    from billing.tools.demo import seed_demo

    engine = make_engine()
    create_schema(engine)
    print(json.dumps(seed_demo(make_session_factory(engine)), indent=2))


def _cmd_nav(args) -> None:
    from nav_reporting.cli import submit

    engine = make_engine()
    create_schema(engine)
    print(json.dumps(submit(make_session_factory(engine), timeout_s=args.timeout), indent=2))


def _cmd_mail_send(args) -> None:
    from billing.mail.outbox import send_pending

    logs.configure()
    engine = make_engine()
    create_schema(engine)
    print(json.dumps(send_pending(make_session_factory(engine))))


def _cmd_accounts_show(args) -> None:
    engine = make_engine()
    create_schema(engine)
    with make_session_factory(engine)() as session:
        print(json.dumps(account_views.account_view(session, args.id), indent=2))


def _cmd_simulate(args) -> None:
    from billing.tools.simulate import simulate

    sys.exit(simulate(args.file, check_only=args.check))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="billing", description="Seat billing service")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=_cmd_serve)
    run = sub.add_parser("run", help="run the daily cycle through a day")
    run.add_argument("--until", required=True)
    run.set_defaults(func=_cmd_run)
    demo = sub.add_parser("demo", help="load a small demo tenant")
    demo.set_defaults(func=_cmd_demo)
    nav = sub.add_parser("nav", help="NAV Online Számla reporting")
    nav_sub = nav.add_subparsers(dest="nav_command", required=True)
    submit = nav_sub.add_parser("submit", help="send the NAV outbox and poll until settled")
    submit.add_argument("--timeout", type=float, default=300.0)
    submit.set_defaults(func=_cmd_nav)
    mail = sub.add_parser("mail", help="the customer's messages")
    mail_sub = mail.add_subparsers(dest="mail_command", required=True)
    mail_sub.add_parser("send", help="send what the mail outbox holds (SMTP_URL, else .eml files in MAIL_DIR)") \
        .set_defaults(func=_cmd_mail_send)
    from billing.ops.exports import add_export_arguments, cmd_export

    export = sub.add_parser("export", help="accountant exports (CSV, XLSX, ZIP of PDFs and NAV XML)")
    add_export_arguments(export)
    export.set_defaults(func=cmd_export)
    simulate = sub.add_parser("simulate", help="run a scenario file against an in-memory database")
    simulate.add_argument("file")
    simulate.add_argument("--check", action="store_true", help="only check the expected figures")
    simulate.set_defaults(func=_cmd_simulate)
    accounts = sub.add_parser("accounts", help="inspect accounts")
    accounts_sub = accounts.add_subparsers(dest="accounts_command", required=True)
    show = accounts_sub.add_parser("show")
    show.add_argument("id")
    show.set_defaults(func=_cmd_accounts_show)
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
