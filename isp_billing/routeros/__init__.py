"""MikroTik RouterOS driver of isp-billing (pure Python on librouteros).

This package must never import trytond: the Tryton layer computes the
desired state from the database and hands plain objects to it.
"""
from .connection import (
    LOGIN_METHODS, RouterConfig, connect, open_session, router_info)
from .desired import (
    KINDS, DesiredProfile, DesiredUser, comment_for, parse_comment,
    rate_limit)
from .errors import (
    RouterConnectionLost, RouterError, RouterLoginRefused, RouterTimeout,
    RouterTLSError, RouterTrap, RouterUnreachable)
from .fleet import RouterResult, reconcile_many, run_parallel
from .reconcile import NAME_HELD, NAME_TAKEN, ReconcileReport, reconcile
from .session import RouterSession
from .targeted import apply_services
from .usage import Counter, accumulate, read_counters
from .values import parse_uptime, to_int, to_mib

__all__ = [
    'RouterConfig', 'LOGIN_METHODS', 'connect', 'open_session',
    'router_info', 'RouterSession',
    'KINDS', 'DesiredProfile', 'DesiredUser', 'comment_for',
    'parse_comment', 'rate_limit',
    'RouterError', 'RouterUnreachable', 'RouterTLSError',
    'RouterConnectionLost', 'RouterLoginRefused', 'RouterTimeout',
    'RouterTrap',
    'ReconcileReport', 'reconcile', 'NAME_TAKEN', 'NAME_HELD',
    'apply_services',
    'RouterResult', 'reconcile_many', 'run_parallel',
    'Counter', 'read_counters', 'accumulate',
    'parse_uptime', 'to_int', 'to_mib',
    ]
