"""Benchmark: print 10,000 hotspot users from routeros_sim via librouteros.

Writes the result to var/bench/bench_sim.txt (no assertions on time).
Run from the repository root: ``.venv/bin/python bench/bench_sim.py``.
"""

from __future__ import annotations

import os
import platform
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from librouteros import connect  # noqa: E402
from librouteros.query import Key  # noqa: E402

from routeros_sim import RouterSim  # noqa: E402

N = 10000


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> int:
    lines = [f"routeros_sim bench, python {platform.python_version()}, {platform.machine()}"]
    with RouterSim(version="7.18") as sim:
        t, _ = timed(lambda: [sim.add_row("/ip/hotspot/user", name=f"user{i:05d}", password=f"pw{i}",
                                          profile="default", limit_uptime="1h") for i in range(N)])
        lines.append(f"add_row x{N} (Python API): {t:.3f} s")
        api = connect("127.0.0.1", "admin", "", port=sim.port)
        users = api.path("ip", "hotspot", "user")
        for attempt in (1, 2):
            t, rows = timed(lambda: list(users))
            lines.append(f"print {len(rows)} users via librouteros (run {attempt}): {t:.3f} s")
        t, rows = timed(lambda: list(users.select(Key(".id"), Key("name"), Key("bytes-in"), Key("bytes-out"))))
        lines.append(f"print {len(rows)} users with .proplist=.id,name,bytes-in,bytes-out: {t:.3f} s")
        t, rows = timed(lambda: list(users.select(Key(".id")).where(Key("name") == f"user{N - 1:05d}")))
        lines.append(f"query one user by name among {N}: {t:.3f} s")
        t, _ = timed(lambda: [users.add(name=f"api{i}", password="x") for i in range(1000)])
        lines.append(f"add x1000 via librouteros: {t:.3f} s")
        api.close()
    text = "\n".join(lines) + "\n"
    print(text, end="")
    out = os.path.join(ROOT, "var", "bench", "bench_sim.txt")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as fh:
        fh.write(text)
    print(f"written to {os.path.relpath(out, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
