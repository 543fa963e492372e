"""Desired-state reconcile of one router.

1. read what the router holds: one ``print`` (with ``.proplist``) per
   managed menu -- never one call per customer;
2. ensure plan profiles exist with the right rate (add or set; profiles
   are never removed, profiles outside the desired set never touched);
3. apply only the difference to customer logins: remove owned entries no
   longer wanted, ``set`` only the differing fields, ``add`` what is
   missing;
4. kick the active sessions of users that were just disabled, removed or
   moved to another plan (one ``print`` of the active menu, only if there
   is somebody to kick).

Ownership is the comment ``isp-billing:<service id>``: owned entries are
matched by service id (so a changed login is a rename), entries without it
are never changed.  A ``!trap`` fails only its own item; a lost connection
or a timeout raises the typed error with ``.report`` holding what was done.
The number of commands is O(changes): an unchanged router costs the prints.
"""
from dataclasses import dataclass, field

from .connection import session_for
from .desired import KINDS, parse_comment
from .errors import RouterError, RouterTrap
from .menus import (
    MENUS, differing, parse_bool, profile_attributes, user_attributes)

__all__ = ['ReconcileReport', 'reconcile', 'NAME_TAKEN', 'NAME_HELD']

NAME_TAKEN = 'name taken by an entry not managed by isp-billing'
NAME_HELD = ('login name "%s" is held on the router by the entry of '
    'service %s')


@dataclass
class ReconcileReport:
    """What one reconcile did.  Users are listed by service id, profiles
    by name; ``failed`` holds ``(service id or profile name, reason)``."""
    added: list = field(default_factory=list)
    changed: list = field(default_factory=list)
    removed: list = field(default_factory=list)
    kicked: list = field(default_factory=list)
    profiles_added: list = field(default_factory=list)
    profiles_changed: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    commands: int = 0

    @property
    def ok(self):
        return not self.failed

    @property
    def failed_ids(self):
        return {key for key, _ in self.failed}

    def fail(self, key, reason):
        self.failed.append((key, reason))

    def summary(self):
        return ('%d added, %d changed, %d removed, %d kicked, '
            '%d profiles added, %d profiles changed, %d failed, '
            '%d commands' % (len(self.added), len(self.changed),
                len(self.removed), len(self.kicked),
                len(self.profiles_added), len(self.profiles_changed),
                len(self.failed), self.commands))


def reconcile(target, users, profiles, kinds=KINDS, sweep_sessions=False):
    """Bring one router to the desired state.

    ``target`` is a RouterConfig (a connection is opened and closed), a
    logged-in librouteros Api or a RouterSession.  ``kinds`` are the kinds
    of service this router carries; only their menus are read.

    ``sweep_sessions`` also reads the active menus (one more print per
    kind) and disconnects any session of a disabled service: it heals a
    kick lost with a connection that dropped right after the disable.
    Meant for the scheduled reconcile, not for every sync.
    """
    return run_sync(target, lambda session, report: _Reconcile(
            session, report, users, profiles, kinds, sweep_sessions))


def run_sync(target, make):
    """Run ``make(session, report).run()`` in a session on ``target``;
    return the report, also attached to a RouterError as ``.report``"""
    report = ReconcileReport()
    try:
        with session_for(target) as session:
            start = session.commands
            try:
                make(session, report).run()
            finally:
                report.commands = session.commands - start
    except RouterError as error:
        error.report = report
        raise
    return report


class _Reconcile:

    def __init__(self, session, report, users, profiles, kinds,
            sweep_sessions=False):
        self.session = session
        self.sweep_sessions = sweep_sessions
        self.report = report
        self.kinds = tuple(kinds)
        self.users = {kind: [] for kind in self.kinds}
        self.profiles = {kind: [] for kind in self.kinds}
        seen_ids, seen_names = {}, {}
        for user in users:
            if user.kind not in self.users:
                report.fail(user.service_id, 'this router does not carry '
                    '%s services' % user.kind)
                continue
            if user.service_id in seen_ids:
                report.fail(user.service_id, 'service listed twice')
                continue
            key = (user.kind, user.name)
            if key in seen_names:
                report.fail(user.service_id, 'login name "%s" is also used '
                    'by service %s' % (user.name, seen_names[key]))
                continue
            seen_ids[user.service_id] = True
            seen_names[key] = user.service_id
            self.users[user.kind].append(user)
        for profile in profiles:
            if profile.kind in self.profiles:
                self.profiles[profile.kind].append(profile)

    def run(self):
        # what the router holds, every menu read in one round trip
        requests = []
        for kind in self.kinds:
            menus = MENUS[kind]
            requests.append((menus.users, menus.user_fields, ()))
            if self.profiles[kind]:
                requests.append((menus.profiles, menus.profile_fields, ()))
        answers = iter(self.session.print_many(requests))
        for kind in self.kinds:
            rows = next(answers)
            profile_rows = next(answers) if self.profiles[kind] else []
            self.reconcile_kind(MENUS[kind], rows, profile_rows)

    def reconcile_kind(self, menus, rows, profile_rows):
        "rows, profile_rows: what the router printed, or its RouterTrap"
        users = self.users[menus.kind]
        profiles = self.profiles[menus.kind]
        if isinstance(rows, RouterTrap):
            # e.g. no hotspot package: fine unless we need the menu
            for user in users:
                self.report.fail(user.service_id, rows.router_message)
            return
        missing_profiles = self.ensure_profiles(
            menus, profiles, rows=profile_rows)
        kick = self.reconcile_users(menus, users, rows, missing_profiles)
        if self.sweep_sessions:
            for user in users:
                if user.disabled:
                    kick.setdefault(user.name, user.service_id)
        if kick:
            self.kick(menus, kick)

    def ensure_profiles(self, menus, profiles, queries=(), rows=None):
        """Add/set plan profiles; return {name: reason} of the desired
        profiles that do not exist on the router after this step.
        ``queries`` narrow the print to the profiles wanted; ``rows`` are
        the profiles already printed (or the RouterTrap of that print)."""
        if not profiles:
            return {}
        try:
            if rows is None:
                rows = self.session.print(
                    menus.profiles, menus.profile_fields, queries)
            elif isinstance(rows, RouterTrap):
                raise rows
        except RouterTrap as error:
            for profile in profiles:
                self.report.fail(profile.name, error.router_message)
            return {p.name: error.router_message for p in profiles}
        existing = {row.get('name'): row for row in rows}
        missing = {}
        for profile in profiles:
            attrs = profile_attributes(profile)
            row = existing.get(profile.name)
            try:
                if row is None:
                    self.session.add(menus.profiles, differing(
                        attrs, {}, menus.profile_defaults, on_add=True))
                    self.report.profiles_added.append(profile.name)
                else:
                    changes = differing(attrs, row, menus.profile_defaults)
                    if changes:
                        self.session.set(menus.profiles, row['.id'], changes)
                        self.report.profiles_changed.append(profile.name)
            except RouterTrap as error:
                self.report.fail(profile.name, error.router_message)
                if row is None:
                    missing[profile.name] = error.router_message
        return missing

    def reconcile_users(self, menus, users, rows, missing_profiles,
            held=None):
        """Apply the user difference; return {router name: service id} of
        the sessions to kick.  ``held`` maps login names to the service
        whose entry (not among ``rows``) holds them: taken names."""
        held = held or {}
        owned, extra, unowned = {}, [], {}
        for row in rows:
            service_id = parse_comment(row.get('comment'))
            if service_id is None:
                unowned.setdefault(row.get('name'), row)
            elif service_id in owned:
                extra.append((service_id, row))
            else:
                owned[service_id] = row
        wanted = {user.service_id for user in users}
        kick = {}
        # removals first: they free login names the others may need
        for service_id, row in list(owned.items()) + extra:
            if service_id in wanted and owned[service_id] is row:
                continue
            try:
                self.session.remove(menus.users, row['.id'])
            except RouterTrap as error:
                self.report.fail(service_id, error.router_message)
                continue
            if service_id not in wanted:
                if service_id not in self.report.removed:
                    self.report.removed.append(service_id)
                kick[row.get('name')] = service_id
        adds = []
        for user in users:
            if user.profile in missing_profiles:
                self.report.fail(user.service_id, 'plan profile "%s" is '
                    'missing on the router: %s'
                    % (user.profile, missing_profiles[user.profile]))
                continue
            row = owned.get(user.service_id)
            if row is None:
                adds.append(user)
                continue
            attrs = user_attributes(user)
            changes = differing(attrs, row, menus.user_defaults)
            if not changes:
                continue
            if 'name' in changes and user.name in unowned:
                self.report.fail(user.service_id, NAME_TAKEN)
                continue
            if 'name' in changes and user.name in held:
                self.report.fail(user.service_id, NAME_HELD
                    % (user.name, held[user.name]))
                continue
            try:
                self.session.set(menus.users, row['.id'], changes)
            except RouterTrap as error:
                self.report.fail(user.service_id, error.router_message)
                continue
            self.report.changed.append(user.service_id)
            was_disabled = parse_bool(
                row.get('disabled', menus.user_defaults['disabled']))
            if (user.disabled and not was_disabled) or 'profile' in changes:
                kick[row.get('name')] = user.service_id
        for user in adds:
            if user.name in unowned:
                self.report.fail(user.service_id, NAME_TAKEN)
                continue
            if user.name in held:
                self.report.fail(user.service_id, NAME_HELD
                    % (user.name, held[user.name]))
                continue
            attrs = differing(user_attributes(user), {}, menus.user_defaults,
                on_add=True)
            try:
                self.session.add(menus.users, attrs)
            except RouterTrap as error:
                self.report.fail(user.service_id, error.router_message)
                continue
            self.report.added.append(user.service_id)
        return kick

    def kick(self, menus, kick, queries=()):
        key = menus.active_user_key
        try:
            sessions = self.session.print(
                menus.active, ('.id', key), queries)
        except RouterTrap as error:
            for service_id in set(kick.values()):
                self.report.fail(service_id, 'could not list active '
                    'sessions to disconnect: %s' % error.router_message)
            return
        for row in sessions:
            service_id = kick.get(row.get(key))
            if service_id is None:
                continue
            try:
                self.session.remove(menus.active, row['.id'])
            except RouterTrap as error:
                if 'no such item' in (error.router_message or ''):
                    continue  # the session ended meanwhile
                self.report.fail(service_id, 'could not disconnect the '
                    'active session: %s' % error.router_message)
                continue
            if service_id not in self.report.kicked:
                self.report.kicked.append(service_id)
