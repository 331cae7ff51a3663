"""What one account's state costs to decode and encode at month 2 and month 36 (issue #19).

Builds one account (10 seats, every proforma paid two days after issue, bench/history.py) on a
throwaway SQLite file, takes its stored state at month 2 and at month 36, and times, per state,
what the cycle does with it once per account and run: orjson.loads, AccountState.from_json,
.copy() (advance works on a copy), .to_json() and orjson dumps; plus the state's JSON bytes and
record counts. One JSON line per month; best of --repeat rounds of --number calls.

    .venv/bin/python bench/state_codec.py
"""
from __future__ import annotations

import sys
import timeit
from datetime import date

import common as c
import history as h


def _held_bytes(text_state: str, data: dict, state) -> dict[str, float]:
    """tracemalloc: the bytes one account holds while the cycle prepares it (the decoded JSON
    dict the driver gives, the AccountState, its copy, the new state's JSON text)."""
    import tracemalloc

    from billing.db import jsoncodec
    from billing.domain.state import AccountState

    out = {}
    n = 200
    for name, make in (("dict", lambda: jsoncodec.loads(text_state)), ("state", lambda: AccountState.from_json(data)),
                       ("copy", state.copy), ("json_text", lambda: jsoncodec.dumps(state.to_json()))):
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        kept = [make() for _ in range(n)]
        out[f"{name}_bytes"] = (tracemalloc.get_traced_memory()[0] - before) / n
        tracemalloc.stop()
        del kept
    return out


def main() -> None:
    p = c.parser(__doc__.splitlines()[0])
    p.add_argument("--months", default="2,36")
    p.add_argument("--number", type=int, default=2000)
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args()
    c.offline_env()
    from sqlalchemy import text

    from billing.db import jsoncodec
    from billing.domain.state import AccountState

    created = date(2026, 3, 2)
    with c.Databases() as dbs:
        url = dbs.url("sqlite", "codec")
        engine, factory = c.fresh_schema(url)
        h.seed(factory, ["acc000001"], created, 10)
        run = h.in_process_runner(factory, 1)
        start = created
        for months in (int(x) for x in args.months.split(",")):
            year, month = h.month_of(created, months)
            day = date(year, month, 15)
            h.build(factory, run, start, day, [created] if start == created else [], progress=False)
            start = day + date.resolution
            with engine.connect() as conn:
                text_state = conn.execute(text("select state from account_states")).scalar()
            if not isinstance(text_state, str):
                text_state = jsoncodec.dumps(text_state)
            data = jsoncodec.loads(text_state)
            state = AccountState.from_json(data)
            timings = {}
            for name, fn in (("loads", lambda: jsoncodec.loads(text_state)),
                             ("from_json", lambda: AccountState.from_json(data)),
                             ("copy", state.copy),
                             ("to_json", state.to_json),
                             ("dumps", lambda: jsoncodec.dumps(state.to_json()))):
                best = min(timeit.repeat(fn, number=args.number, repeat=args.repeat)) / args.number
                timings[f"{name}_us"] = best * 1e6
            timings["dumps_us"] -= timings["to_json_us"]  # dumps alone
            memory = _held_bytes(text_state, data, state)
            total = sum(timings.values())
            c.emit("state_codec", f"state decode+copy+encode us per account, month {months}", total, "us",
                   json_bytes=len(text_state.encode()), proformas=len(state.proformas),
                   payments=len(state.payments), invoices=len(state.invoices),
                   lines_kept=sum(len(pf.lines) for pf in state.proformas), **timings, **memory)
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
