"""Record rules that depend on the routers assigned to the staff user, and
the scheduled actions of the module.

ir.rule domains only see the user's groups (trytond/ir/rule.py
_get_context), so the ids of the routers assigned to the current user are
added to the rule context, and to the rule cache key so that one user's
result is never served to another.
"""
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction

#: models whose record rules read ``isp_router_ids`` (isp.usage,
#: isp.usage.counter and isp.router.status follow the rules of their service
#: or router through __access__)
ROUTER_RULE_MODELS = {
    'isp.service', 'isp.router', 'party.party', 'isp.service.payment',
    'isp.service.extension', 'account.invoice', 'account.invoice.line',
    'isp.request', 'isp.router-res.user',
    }
ROUTER_RULE_MODELS |= {'isp.message.delivery'}


def assigned_router_ids(user_id):
    "Return the ids of the routers assigned to the user (empty: all routers)"
    pool = Pool()
    RouterUser = pool.get('isp.router-res.user')
    table = RouterUser.__table__()
    cursor = Transaction().connection.cursor()
    cursor.execute(*table.select(
            table.router, where=table.user == user_id))
    return sorted(r for r, in cursor)


class Rule(metaclass=PoolMeta):
    __name__ = 'ir.rule'

    @classmethod
    def _get_context(cls, model_name):
        context = super()._get_context(model_name)
        if model_name in ROUTER_RULE_MODELS:
            context['isp_router_ids'] = assigned_router_ids(
                Transaction().user)
        return context

    @classmethod
    def _get_cache_key(cls, model_names):
        key = super()._get_cache_key(model_names)
        if set(model_names) & ROUTER_RULE_MODELS:
            key = (*key, Transaction().user)
        return key


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.extend([
                ('isp.service|expire_due', "Expire Services Past Paid Time"),
                ('isp.router|cron_sync', "Synchronize Routers"),
                ('isp.router|cron_refresh_status', "Refresh Router Status"),
                ('isp.usage|collect_all', "Collect Router Usage"),
                ])
