"""Run every benchmark (each in its own process), print one table, write bench/results/latest.json.

    .venv/bin/python bench/report.py --quick          # a couple of minutes
    .venv/bin/python bench/report.py --only pdf,navxml
    .venv/bin/python bench/report.py --cycle-accounts 2000
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import common as c

BENCHES = ("ingest", "cycle", "pdf", "navxml", "load", "reads", "state_codec")
RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def run_one(name: str, args) -> tuple[list[dict], str | None]:
    cmd = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)), f"{name}.py")]
    if args.quick:
        cmd.append("--quick")
    if name in ("ingest", "cycle", "load", "reads"):
        cmd += ["--engines", args.engines]
    if name == "cycle" and args.cycle_accounts:
        cmd += ["--accounts", str(args.cycle_accounts)]
    c.note(f"running {' '.join(cmd[1:])}")
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": c.ROOT})
    rows = []
    for line in proc.stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            rows.append(json.loads(line))
    error = None if proc.returncode == 0 else f"{name} exited with {proc.returncode}"
    return rows, error


def fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 10 else f"{value:,.0f}"
    return str(value)


def table(rows: list[dict]) -> str:
    head = ("figure", "value", "unit", "baseline", "ratio", "goal", "pass")
    body = [(r["figure"], fmt(r["value"]), r["unit"], fmt(r["baseline"]), fmt(r["ratio"]), r["goal"] or "–",
             fmt(r["pass"])) for r in rows]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    line = lambda cells: "| " + " | ".join(str(x).ljust(w) for x, w in zip(cells, widths)) + " |"  # noqa: E731
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(head), sep] + [line(b) for b in body])


def _commit() -> str:
    """The code measured: HEAD, plus '+dirty' when billing code differs from it (others edit too)."""
    git = lambda *a: subprocess.run(["git", *a], cwd=c.ROOT, capture_output=True, text=True).stdout.strip()  # noqa: E731
    dirty = git("status", "--porcelain", "--", "billing", "invoices", "nav_reporting", "proration", "schemas",
                "service.py")
    return git("rev-parse", "--short", "HEAD") + ("+dirty" if dirty else "")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", default=",".join(BENCHES))
    p.add_argument("--engines", default="sqlite,postgresql")
    p.add_argument("--cycle-accounts", type=int, default=None)
    p.add_argument("--out", default="latest.json", help="file name under bench/results/")
    args = p.parse_args()
    started = time.time()
    commit = _commit()
    rows, errors = [], []
    for name in [n.strip() for n in args.only.split(",") if n.strip()]:
        if name not in BENCHES:
            raise SystemExit(f"unknown benchmark {name}; one of {', '.join(BENCHES)}")
        got, error = run_one(name, args)
        rows += got
        if error:
            errors.append(error)
    print(table(rows))
    for e in errors:
        print(f"ERROR: {e}")
    os.makedirs(RESULTS, exist_ok=True)
    result = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started)),
              "seconds": round(time.time() - started, 1), "quick": args.quick, "machine": c.machine(),
              "commit": commit,
              "figures": rows, "errors": errors}
    out = os.path.join(RESULTS, os.path.basename(args.out))
    with open(out, "w") as f:
        json.dump(result, f, indent=2, ensure_ascii=False)
    print(f"\nmachine: {result['machine']}; code {commit}; {result['seconds']} s; written {out}")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
