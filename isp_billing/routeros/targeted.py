"""Targeted sync: bring only some services' entries to the desired state.

A payment or a single change does not need the whole router.  For the
given service ids this reads, per managed menu, only the rows that matter
-- one ``print`` with a query ``?comment=isp-billing:<id>`` or
``?name=<login>`` per id/login, OR-ed on the API query stack, every menu's
print sent together in one round trip -- then
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

    def run(self):
        # every menu's rows of these services, read in one round trip
        requests, plan = [], []
        for kind in self.kinds:
            menus = MENUS[kind]
            users = self.users[kind]
            terms = ['comment=%s' % comment_for(i) for i in self.service_ids]
            terms += ['name=%s' % name
                for name in sorted({u.name for u in users})]
            needed = {u.profile for u in users}
            profiles = [p for p in self.profiles[kind] if p.name in needed]
            first = len(requests)
            requests += [(menus.users, menus.user_fields,
                    or_query(terms[start:start + MAX_QUERY_TERMS]))
                for start in range(0, len(terms), MAX_QUERY_TERMS)]
            count = len(requests) - first
            if profiles:
                requests.append((menus.profiles, menus.profile_fields,
                        or_query(['name=%s' % name for name in sorted(
                                    {p.name for p in profiles})])))
            plan.append((menus, profiles, first, count))
        answers = self.session.print_many(requests)
        for menus, profiles, first, count in plan:
            self.reconcile_kind(menus, profiles, answers[first:first + count],
                answers[first + count] if profiles else None)

    def reconcile_kind(self, menus, profiles, user_answers, profile_rows):
        "user_answers: each user print's rows or RouterTrap"
        users = self.users[menus.kind]
        trap = next((a for a in user_answers if isinstance(a, RouterTrap)),
            None)
        if trap is not None:
            # e.g. no hotspot package: fine unless we need the menu
            for user in users:
                self.report.fail(user.service_id, trap.router_message)
            return
        rows = {}
        for answer in user_answers:
            for row in answer:
                rows.setdefault(row.get('.id'), row)
        rows = list(rows.values())
        ids = set(self.service_ids)
        ours, held = [], {}
        for row in rows:
            service_id = parse_comment(row.get('comment'))
            if service_id is None or service_id in ids:
                ours.append(row)
            else:
                held.setdefault(row.get('name'), service_id)
        missing = self.ensure_profiles(menus, profiles, rows=profile_rows)
        kick = self.reconcile_users(menus, users, ours, missing, held)
        if kick:
            self.kick(menus, kick, or_query(
                    ['%s=%s' % (menus.active_user_key, name)
                        for name in sorted(kick)]))
