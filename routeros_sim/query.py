"""Print query words evaluated on a boolean stack (as the RouterOS API answers it).

The stack "initially contains an infinite amount of true values"; we keep a
finite list and treat anything below its bottom as ``True``.  A query fails
when any value left on the stack is false.

UNCONFIRMED choices (documented in README): ``<``/``>`` compare as integers
when both sides are integers, else as strings; booleans are compared
semantically (yes/true, no/false), because librouteros sends ``?=disabled=no``
while the router prints ``false``.
"""

from __future__ import annotations

import re
from typing import Callable, Mapping

_BOOL = {"yes": "true", "true": "true", "no": "false", "false": "false"}
_INT = re.compile(r"-?\d+\Z")


class QueryError(Exception):
    """A query word the simulator cannot parse."""


def _eq(actual: str, wanted: str) -> bool:
    if actual == wanted:
        return True
    a, w = _BOOL.get(actual), _BOOL.get(wanted)
    return a is not None and a == w


def _cmp(actual: str, wanted: str) -> int:
    if _INT.match(actual) and _INT.match(wanted):
        a, w = int(actual), int(wanted)
    else:
        a, w = actual, wanted
    return (a > w) - (a < w)


def _term(word: str) -> Callable[[Mapping[str, str]], bool]:
    """Compile one non-``#`` query word (without the leading ``?``)."""
    if word.startswith("="):  # ?=name=value
        name, _, value = word[1:].partition("=")
        return lambda row: name in row and _eq(row[name], value)
    if word.startswith("-"):  # ?-name
        name = word[1:]
        return lambda row: name not in row
    if word.startswith("<") or word.startswith(">"):
        op = word[0]
        name, sep, value = word[1:].partition("=")
        sign = -1 if op == "<" else 1
        return lambda row: name in row and _cmp(row[name], value) == sign
    name, sep, value = word.partition("=")
    if not sep:  # ?name
        return lambda row: name in row
    return lambda row: name in row and _eq(row[name], value)


def _stack_ops(ops: str):
    """Parse a ``?#`` operation string into a list of (op, index) tuples."""
    out = []
    i = 0
    prev_index = False
    while i < len(ops):
        ch = ops[i]
        if ch.isdigit():
            j = i
            while j < len(ops) and ops[j].isdigit():
                j += 1
            idx = int(ops[i:j])
            out.append(("idx_end" if j == len(ops) else "idx", idx))
            i = j
            prev_index = True
            continue
        if ch == ".":
            if not prev_index:
                out.append(("dup", 0))
        elif ch in "!&|":
            out.append((ch, 0))
        else:
            raise QueryError(f"bad query operation {ch!r}")
        prev_index = False
        i += 1
    return out


def compile_query(words: list[str]) -> Callable[[Mapping[str, str]], bool] | None:
    """Compile query words (each without its leading ``?``) into a row predicate.

    Returns None when there is no query (match everything).
    """
    if not words:
        return None
    program = []
    for word in words:
        if word.startswith("#"):
            program.append(("ops", _stack_ops(word[1:])))
        else:
            program.append(("push", _term(word)))

    # Fast path: only pushes => implicit AND.
    if all(kind == "push" for kind, _ in program):
        terms = [t for _, t in program]
        if len(terms) == 1:
            return terms[0]
        return lambda row: all(t(row) for t in terms)

    def run(row: Mapping[str, str]) -> bool:
        stack: list[bool] = []

        def pop() -> bool:
            return stack.pop() if stack else True

        def at(idx: int) -> bool:
            return stack[-1 - idx] if idx < len(stack) else True

        for kind, arg in program:
            if kind == "push":
                stack.append(arg(row))
                continue
            for op, idx in arg:
                if op == "idx":
                    stack.append(at(idx))
                elif op == "idx_end":
                    value = at(idx)
                    stack[:] = [value]
                elif op == "dup":
                    stack.append(at(0))
                elif op == "!":
                    stack.append(not pop())
                elif op == "&":
                    b, a = pop(), pop()
                    stack.append(a and b)
                elif op == "|":
                    b, a = pop(), pop()
                    stack.append(a or b)
        return all(stack)

    return run
