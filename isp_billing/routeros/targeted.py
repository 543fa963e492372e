"""Targeted sync: bring only some services' entries to the desired state.

A payment or a single change does not need the whole router.  For the
given service ids this reads, per managed menu, only the rows that matter
-- one ``print`` with a query ``?comment=isp-billing:<id>`` or
``?name=<login>`` per id/login, OR-ed on the API query stack -- then
applies the same difference as the full reconcile (:mod:`.reconcile`):
``set`` the differing fields, ``add`` what is missing, ``remove`` the
entries of ids that should not be on the router any more, ensure the
profiles those users need (one ``print ?name=``), and kick the sessions of
users just disabled, moved to another plan or removed (one ``print`` of the
active menu narrowed to their names).

The number of API commands depends on the number of ids, never on the
size of the router: a payment re-enabling one login costs the prints of
the menus plus one ``set``.  Rows owned by services outside the given ids
are never changed; a login name they hold is refused for this sync (the
full reconcile, which sees everything, sorts such swaps out).
"""
from .desired import KINDS, comment_for, parse_comment
from .errors import RouterTrap
from .menus import MENUS
from .reconcile import _Reconcile, run_sync

__all__ = ['apply_services', 'MAX_QUERY_TERMS']

#: query terms per print: more ids are read with one more print each
MAX_QUERY_TERMS = 50


def or_query(terms):
    """API query words matching any of ``terms`` (``name=value``): each
    term pushes its result on the query stack, ``?#|`` ORs the last two."""
    words = []
    for index, term in enumerate(terms):
        words.append('?' + term)
        if index:
            words.append('?#|')
    return words


def apply_services(target, service_ids, users, profiles, kinds=KINDS):
    """Sync the entries of ``service_ids`` only; return a ReconcileReport.

    ``users`` are the DesiredUsers of those ids that should be on the
    router (an id without one has its entries removed); ``profiles`` the
    DesiredProfiles they use.  ``target`` and the errors are as for
    :func:`.reconcile.reconcile` (``error.report`` holds what was done).
    """
    return run_sync(target, lambda session, report: _Targeted(
            session, report, service_ids, users, profiles, kinds))


class _Targeted(_Reconcile):

    def __init__(self, session, report, service_ids, users, profiles,
            kinds):
        users = list(users)
        super().__init__(session, report, users, profiles, kinds)
        self.service_ids = sorted(
            {int(i) for i in service_ids} | {u.service_id for u in users})

    def print_matching(self, menu, fields, terms):
        "Rows of menu matching any term, MAX_QUERY_TERMS terms per print"
        rows = {}
        for start in range(0, len(terms), MAX_QUERY_TERMS):
            for row in self.session.print(menu, fields,
                    or_query(terms[start:start + MAX_QUERY_TERMS])):
                rows.setdefault(row.get('.id'), row)
        return list(rows.values())

    def run(self):
        for kind in self.kinds:
            self.reconcile_kind(MENUS[kind])

    def reconcile_kind(self, menus):
        users = self.users[menus.kind]
        terms = ['comment=%s' % comment_for(i) for i in self.service_ids]
        terms += ['name=%s' % name
            for name in sorted({u.name for u in users})]
        try:
            rows = self.print_matching(menus.users, menus.user_fields, terms)
        except RouterTrap as error:
            # e.g. no hotspot package: fine unless we need the menu
            for user in users:
                self.report.fail(user.service_id, error.router_message)
            return
        ids = set(self.service_ids)
        ours, held = [], {}
        for row in rows:
            service_id = parse_comment(row.get('comment'))
            if service_id is None or service_id in ids:
                ours.append(row)
            else:
                held.setdefault(row.get('name'), service_id)
        needed = {u.profile for u in users}
        profiles = [p for p in self.profiles[menus.kind] if p.name in needed]
        missing = self.ensure_profiles(menus, profiles, or_query(
                ['name=%s' % name for name in sorted(
                        {p.name for p in profiles})]))
        kick = self.reconcile_users(menus, users, ours, missing, held)
        if kick:
            self.kick(menus, kick, or_query(
                    ['%s=%s' % (menus.active_user_key, name)
                        for name in sorted(kick)]))
