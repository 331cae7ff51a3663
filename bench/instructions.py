"""Instructions per account of the cycle's ordinary day, counted by valgrind (callgrind), SQLite.

On a shared machine the wall and CPU seconds of the same run move by a third from one run to the
next; the count of executed instructions does not (two runs of the same code differ by < 0.5 %).
So a change to the cycle's CPU work is judged by this count, and the timed figures of
bench/cycle.py are taken once at the end.

For each size (default 1,000 and 3,000 accounts) it seeds a SQLite database as bench/cycle.py does
and runs the first day (not counted), then counts the instructions of a fresh interpreter that
runs the next day, an ordinary day (charges only), in one process (fewer than 10 chunks: no
workers). The difference of the two counts divided by the difference of the accounts is the
figure: the interpreter's start and imports cancel out. It needs valgrind (Debian package
`valgrind`) and takes about four minutes. `--code DIR` counts another checkout of the code (a git
worktree of an older commit, say) against the same databases.

    .venv/bin/python bench/instructions.py
    .venv/bin/python bench/instructions.py --code /tmp/wt-base
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from datetime import timedelta

import common as c
import cycle

_RUN = """
import sys
from datetime import date
from billing.cycle.run import run_cycle
from billing.db.session import make_engine, make_session_factory
run_cycle(make_session_factory(make_engine(sys.argv[1])), date.fromisoformat(sys.argv[2]))
"""


def count(code: str, database: str, until: str) -> int:
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
                          "-c", _RUN, f"sqlite:///{database}", until],
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": code})
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    refs = re.search(r"Collected : (\d+)", out.stderr)
    return int(refs.group(1))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1000,3000", help="two account counts (default 1000,3000)")
    p.add_argument("--code", default=c.ROOT, help="the checkout whose code is counted (default this one)")
    args = p.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian package valgrind)")
    small, big = (int(x) for x in args.sizes.split(","))
    c.offline_env()
    until = (cycle.FIRST_DAY + timedelta(days=1)).isoformat()
    counts = {}
    with tempfile.TemporaryDirectory(prefix="billing-instructions-") as tmp:
        for n in (small, big):
            seeded = os.path.join(tmp, f"seeded{n}.db")
            cycle.seed(f"sqlite:///{seeded}", n)
            cycle.cycle_child(f"sqlite:///{seeded}", cycle.FIRST_DAY, 1)
            work = os.path.join(tmp, f"run{n}.db")
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(seeded + suffix):
                    shutil.copy(seeded + suffix, work + suffix)
            c.note(f"counting the ordinary day of {n} accounts")
            counts[n] = count(os.path.abspath(args.code), work, until)
    per_account = (counts[big] - counts[small]) / (big - small)
    print(json.dumps({"bench": "instructions", "figure": "ordinary day, instructions per account (SQLite)",
                      "value": round(per_account), "code": os.path.abspath(args.code),
                      "counts": {str(k): v for k, v in counts.items()}}))


if __name__ == "__main__":
    main()
