"""Reconcile many routers at once, each failure isolated.

Routers are slow and independent, so they are synced in parallel threads
(the work is waiting on sockets), with a bound so that a fleet of hundreds
does not open hundreds of sessions at once.
"""
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .desired import KINDS
from .errors import RouterError
from .reconcile import reconcile

__all__ = ['RouterResult', 'reconcile_many', 'run_parallel']


@dataclass
class RouterResult:
    """Outcome for one router: ``report`` on success, else ``error`` (a
    RouterError, whose ``.report`` says what was done before it)."""
    config: object
    report: object = None
    error: Exception | None = None

    @property
    def ok(self):
        return self.error is None and self.report is not None \
            and self.report.ok


def _run(job, sweep_sessions=False):
    config, users, profiles, *rest = job
    kinds = rest[0] if rest else KINDS
    try:
        return RouterResult(config, report=reconcile(
            config, users, profiles, kinds, sweep_sessions))
    except RouterError as error:
        return RouterResult(config, report=error.report, error=error)
    except Exception as error:   # a bug must not stop the other routers
        return RouterResult(config, error=error)


def reconcile_many(jobs, max_workers=8, sweep_sessions=False):
    """Reconcile ``jobs`` = iterable of ``(config, users, profiles[,
    kinds])``; return a RouterResult per job, in job order."""
    return [result for _, result, _ in run_parallel(
            lambda job: _run(job, sweep_sessions), jobs, max_workers)]


def run_parallel(function, items, max_workers=8):
    """Call ``function(item)`` for every item in threads (the work is
    waiting on router sockets), at most max_workers at once; return
    ``[(item, result, error)]`` in order, each failure isolated."""
    items = list(items)
    if not items:
        return []

    def call(item):
        try:
            return item, function(item), None
        except Exception as error:   # isolated per item, reported
            return item, None, error
    if len(items) == 1:
        return [call(items[0])]
    with ThreadPoolExecutor(
            max_workers=max(1, min(max_workers, len(items))),
            thread_name_prefix='isp-router') as pool:
        return list(pool.map(call, items))
