"""Where the time went between two cProfile dumps (e.g. month 2 and month 36 of the history phase).

    .venv/bin/python bench/profdiff.py A.prof B.prof [--top 25] [--by tottime|cumtime] [--match TEXT]

Prints, per function, seconds in A, in B and B − A, sorted by the growth; several files per side
can be given comma-separated (their times are averaged).
"""
from __future__ import annotations

import argparse
import pstats


def load(paths: str) -> dict:
    """{function: (calls, tottime, cumtime)} averaged over the comma-separated dumps."""
    files = [p for p in paths.split(",") if p]
    total: dict = {}
    for path in files:
        for func, (cc, nc, tt, ct, _callers) in pstats.Stats(path).stats.items():
            calls, t, cum = total.get(func, (0, 0.0, 0.0))
            total[func] = (calls + nc, t + tt, cum + ct)
    return {f: (c / len(files), t / len(files), ct / len(files)) for f, (c, t, ct) in total.items()}


def name(func) -> str:
    path, line, fn = func
    for cut in ("/site-packages/", "/work/main/"):
        if cut in path:
            path = path.split(cut, 1)[1]
    return f"{path}:{line}({fn})"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--by", choices=("tottime", "cumtime"), default="cumtime")
    p.add_argument("--match", default=None, help="only functions whose location contains this")
    args = p.parse_args()
    a, b = load(args.a), load(args.b)
    index = 1 if args.by == "tottime" else 2
    rows = []
    for func in set(a) | set(b):
        if args.match and args.match not in name(func):
            continue
        x, y = a.get(func, (0, 0.0, 0.0)), b.get(func, (0, 0.0, 0.0))
        rows.append((y[index] - x[index], x[index], y[index], x[0], y[0], name(func)))
    rows.sort(reverse=True)
    ta = sum(v[1] for v in a.values())
    tb = sum(v[1] for v in b.values())
    print(f"total tottime: A {ta:.3f} s, B {tb:.3f} s, B − A {tb - ta:+.3f} s ({args.by} below)")
    print(f"{'B − A':>8} {'A':>8} {'B':>8} {'calls A':>9} {'calls B':>9}  function")
    for d, x, y, ca, cb, n in rows[:args.top]:
        print(f"{d:+8.3f} {x:8.3f} {y:8.3f} {ca:9.0f} {cb:9.0f}  {n}")


if __name__ == "__main__":
    main()
