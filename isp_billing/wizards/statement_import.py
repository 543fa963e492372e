"""Import Statement (account_statement): a bank file is imported once, and
its payments are matched to the customers' bills right away."""
from trytond.pool import Pool, PoolMeta


class StatementImport(metaclass=PoolMeta):
    __name__ = 'account.statement.import'

    def do_import_(self, action):
        # replaces the standard step (parse, save, open) to check the file
        # was not imported before and to match its payments: see
        # account.statement isp_save_imported
        pool = Pool()
        Statement = pool.get('account.statement')
        statements = list(
            getattr(self, 'parse_%s' % self.start.file_format)())
        Statement.isp_save_imported(statements, self.start.file_)
        self.start.file_ = None
        data = {'res_id': list(map(int, statements))}
        if len(statements) == 1:
            action['views'].reverse()
        return action, data
