"""Turn one parsed API command into a reply (as the RouterOS API answers it).

The reply is returned as pre-encoded ``!re`` bodies plus ``!trap``/``!done``
parts so the server only has to add ``.tag`` and the sentence framing; a
print of 10,000 rows re-uses a per-row encoding cache (rows not touched since
the last print cost one dict lookup).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import MultiTrap, SimError, Trap
from .menus import DIRS, MENUS, PRINT_ARGS
from .protocol import encode_sentence
from .query import QueryError, compile_query
from .state import RouterState


@dataclass
class Reply:
    bodies: list = field(default_factory=list)   # encoded words of each !re (no header/terminator)
    done: list = field(default_factory=list)     # extra words of !done (e.g. '=ret=*1')
    traps: list = field(default_factory=list)    # Trap objects
    empty: bool = False                          # send !empty before !done (7.18+)


def encode_row(row: dict, props: list | None = None) -> bytes:
    """Attribute words of one ``!re`` (all properties, or the ``.proplist`` ones in its order)."""
    if props is None:
        return encode_sentence(f"={k}={v}" for k, v in row.items())[:-1]
    return encode_sentence(f"={p}={row[p]}" for p in props if p in row)[:-1]


def _unknown_path(command: str) -> Exception:
    """Two traps for a bad menu segment, ``no such command`` for a bad last word (§1.8)."""
    segs = command[1:].split("/")
    cur = ""
    for seg in segs[:-1]:
        cur += "/" + seg
        if cur not in DIRS:
            return MultiTrap(Trap(f"no such command or directory ({seg})", 0),
                             Trap("no such command prefix"))
    if cur + "/" + segs[-1] in DIRS or cur in MENUS:
        return Trap("no such command", 0)
    return MultiTrap(Trap(f"no such command or directory ({segs[-1]})", 0),
                     Trap("no such command prefix"))


def execute(state: RouterState, command: str, attrs: dict, queries: list[str]) -> Reply:
    """Run a post-login command; every failure becomes traps in the reply."""
    try:
        return _execute(state, command, attrs, queries)
    except MultiTrap as e:
        return Reply(traps=list(e.traps))
    except Trap as e:
        return Reply(traps=[e])


def _execute(state: RouterState, command: str, attrs: dict, queries: list[str]) -> Reply:
    path, _, cmd = command.rpartition("/")
    menu = MENUS.get(path)
    if menu is None:
        raise _unknown_path(command)
    if cmd not in menu.commands:
        raise Trap("no such command", 0)  # UNCONFIRMED text/category (§1.8)
    if cmd == "print":
        return _print(state, path, attrs, queries)
    if cmd == "add":
        return Reply(done=[f"=ret={state.add(path, attrs)}"])
    if cmd == "set":
        state.set(path, attrs)
    elif cmd == "remove":
        state.remove(path, attrs)
    elif cmd in ("enable", "disable"):
        state.set_disabled(path, attrs, cmd == "disable")
    elif cmd == "reset-counters":
        state.reset_counters(path, attrs)
    elif cmd == "login":  # /ip/hotspot/active/login
        unknown = set(attrs) - {"user", "password", "ip", "mac-address", "domain"}
        if unknown:
            raise Trap("unknown parameter")
        try:
            state.login(attrs.get("user", ""), "hotspot", address=attrs.get("ip"),
                        mac=attrs.get("mac-address"), password=attrs.get("password", ""))
        except SimError as e:
            raise Trap(f"failure: {e}") from None  # UNCONFIRMED text
    return Reply()


def _print(state: RouterState, path: str, attrs: dict, queries: list[str]) -> Reply:
    unknown = set(attrs) - PRINT_ARGS
    if unknown:
        raise Trap("unknown parameter")
    proplist = attrs.get(".proplist")
    props = [p for p in proplist.split(",") if p] if proplist is not None else None
    count_only = "count-only" in attrs
    try:
        pred = compile_query(queries)
    except QueryError as e:
        raise Trap(str(e)) from None
    reply = Reply()
    with state.lock:
        if path in ("/system/identity", "/system/resource"):
            rows = [(None, state.view(path))]
            table = None
        else:
            table = state.tables[path]
            live = table.live_ids
            volatile = table.menu.volatile
            rows = ((rid, state.view(path, rid, row) if (volatile or rid in live) else row)
                    for rid, row in table.rows.items())
        count = 0
        bodies = reply.bodies
        enc = table.enc if table is not None else None
        for rid, row in rows:
            if pred is not None and not pred(row):
                continue
            count += 1
            if count_only:
                continue
            if props is not None:
                bodies.append(encode_row(row, props))
            elif enc is not None and rid not in table.live_ids and not table.menu.volatile:
                body = enc.get(rid)
                if body is None:
                    body = enc[rid] = encode_row(row)
                bodies.append(body)
            else:
                bodies.append(encode_row(row))
    if count_only:
        reply.done = [f"=ret={count}"]
    elif count == 0 and state.version >= (7, 18, 0):
        reply.empty = True
    return reply
