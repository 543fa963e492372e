"""Import Statement (account_statement): a bank file is imported once, and
its payments are matched to the customers' bills right away.

MT940 files of the generic flavour (no bank chosen) get an id per entry
(the bank's reference) and the payer found from the IBAN written in the
entry's text, as the CAMT.053 and OFX imports do."""
from trytond.pool import Pool, PoolMeta

from ..models.statement import ibans, mt940_entry_id


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

    def mt940_origin(self, mt940_statement, transaction):
        origins = super().mt940_origin(mt940_statement, transaction)
        for origin in origins:
            origin.number = mt940_entry_id(transaction)
        return origins

    def mt940_party(self, mt940_statement, transaction):
        pool = Pool()
        AccountNumber = pool.get('bank.account.number')
        party = super().mt940_party(mt940_statement, transaction)
        if party or self.start.mt940_bank:
            return party
        for number in ibans(transaction.description):
            numbers = AccountNumber.search(['OR',
                    ('number', '=', number),
                    ('number_compact', '=', number),
                    ])
            if len(numbers) == 1 and numbers[0].account.owners:
                return numbers[0].account.owners[0]
