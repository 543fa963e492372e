"""CLI: serve N simulated routers on 127.0.0.1 until SIGINT/SIGTERM.

``python -m routeros_sim --routers N --base-port P --version 7.18 [--tls] [--state FILE]``

Router i (1-based) is ``MikroTik-i`` on port ``P+i-1``; with ``--tls`` its
API-SSL port is ``P+100+i-1``.  ``--state FILE``: with one router the state is
FILE itself; with several, FILE is a prefix: ``<FILE stem>-<i><suffix>``
(``fleet.json`` -> ``fleet-1.json``, ``fleet-2.json``...).  State is saved
shortly after each change and on exit.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from .router import Fleet


def state_files(path: str | None, n: int):
    if not path:
        return None
    if n == 1:
        return [path]
    stem, suffix = os.path.splitext(path)
    return [f"{stem}-{i + 1}{suffix}" for i in range(n)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m routeros_sim", description=__doc__.split("\n\n")[0])
    ap.add_argument("--routers", type=int, default=1)
    ap.add_argument("--base-port", type=int, default=8728)
    ap.add_argument("--version", default="7.18", help="RouterOS version, e.g. 6.33, 6.45, 7.18")
    ap.add_argument("--tls", action="store_true", help="also serve API-SSL on base-port+100+i")
    ap.add_argument("--tls-mode", choices=("cert", "adh"), default="cert")
    ap.add_argument("--state", metavar="FILE", help="JSON state file (prefix when --routers > 1)")
    ap.add_argument("--user", default="admin")
    ap.add_argument("--password", default="")
    ap.add_argument("--host", default="127.0.0.1")
    args = ap.parse_args(argv)
    if args.routers < 1:
        ap.error("--routers must be >= 1")

    fleet = Fleet(n=args.routers, base_port=args.base_port, version=args.version,
                  tls=args.tls_mode if args.tls else None, username=args.user, password=args.password,
                  host=args.host, state_files=state_files(args.state, args.routers))
    fleet.start()
    for r in fleet.routers:
        tls = f" api-ssl={r.host}:{r.tls_port} ({r.tls})" if r.tls else ""
        print(f"{r.identity} {r.host}:{r.port} version={r.version}{tls} "
              f"user={args.user} password={args.password!r}", flush=True)

    done = threading.Event()

    def _stop(signum, frame):
        done.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    while not done.wait(0.5):
        pass
    fleet.stop()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
