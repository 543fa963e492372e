"""The staff reports as files: each report once as Excel (.xlsx written
with xlsxwriter) and once as PDF (the HTML template report/isp_report.html
that trytond converts with weasyprint).

The figures come from isp.report.data (models/report_data.py); the wizards
(wizards/report.py) pass their filters as the report data. Report.execute
is kept, so the groups of the report action are checked for every call.
"""
import datetime as dt
import io
from decimal import Decimal

from trytond.i18n import gettext
from trytond.pool import Pool
from trytond.report import Report

from ..exceptions import ReportError

#: rows an Excel sheet holds, less the title, filters, header and totals
MAX_ROWS = 1_048_576 - 5


def xlsx_workbook(report):
    """The report as an .xlsx file made for people: a title row with the
    filters used, a bold frozen header with autofilter, typed cells in the
    company's currency and time zone, column widths and a totals row
    holding its values (so readers without recalculation see them)"""
    import xlsxwriter
    from xlsxwriter.utility import xl_rowcol_to_cell
    output = io.BytesIO()
    workbook = xlsxwriter.Workbook(output, {
            'in_memory': True, 'constant_memory': False,
            'strings_to_numbers': False, 'strings_to_formulas': False,
            'strings_to_urls': False})
    digits = report['digits']
    money = '#,##0' + ('.' + '0' * digits if digits else '')
    money = '%s "%s"' % (money, report['symbol'].replace('"', ''))
    formats = {
        'text': workbook.add_format({}),
        'int': workbook.add_format({'num_format': '#,##0'}),
        'days': workbook.add_format({'num_format': '#,##0.00'}),
        'money': workbook.add_format({'num_format': money}),
        'date': workbook.add_format({'num_format': 'yyyy-mm-dd'}),
        'month': workbook.add_format({'num_format': 'yyyy-mm'}),
        'datetime': workbook.add_format({'num_format': 'yyyy-mm-dd hh:mm'}),
        }
    total_formats = {k: workbook.add_format(dict(
                {'bold': True, 'top': 1}, **({'num_format': f.num_format}
                    if f.num_format else {})))
        for k, f in formats.items()}
    title_format = workbook.add_format({'bold': True, 'font_size': 14})
    header_format = workbook.add_format({
            'bold': True, 'bg_color': '#DDDDDD', 'bottom': 1,
            'text_wrap': True, 'valign': 'top'})
    filters = '; '.join('%s: %s' % (k, v) for k, v in report['filters'])
    filters += '; %s (%s)' % (report['printed_at'], report['timezone'])
    for spec in report['sheets']:
        if len(spec['rows']) > MAX_ROWS:
            raise ReportError(gettext('isp_billing.msg_report_too_many_rows',
                    sheet=spec['name'], rows=len(spec['rows']),
                    max=MAX_ROWS))
    used = set()
    for spec in report['sheets']:
        name = spec['name'][:31]
        for char in '[]:*?/\\':
            name = name.replace(char, ' ')
        while name in used:
            name = name[:28] + '~%d' % len(used)
        used.add(name)
        worksheet = workbook.add_worksheet(name)
        columns = spec['columns']
        worksheet.write_string(0, 0, '%s - %s' % (
                report['title'], spec['name']), title_format)
        worksheet.write_string(1, 0, filters)
        header = 3
        for col, column in enumerate(columns):
            worksheet.write_string(header, col, column['label'],
                header_format)
            worksheet.set_column(col, col, column['width'])
        worksheet.freeze_panes(header + 1, 0)
        row = header
        for row, values in enumerate(spec['rows'], header + 1):
            for col, (column, value) in enumerate(zip(columns, values)):
                write_cell(worksheet, row, col, column['kind'], value,
                    formats)
        last = row
        worksheet.autofilter(header, 0, max(last, header),
            len(columns) - 1)
        if spec['totals'] is not None:
            trow = last + 1
            for col, (column, value) in enumerate(
                    zip(columns, spec['totals'])):
                fmt = total_formats[column['kind']]
                if column['kind'] in {'money', 'int', 'days'} and (
                        value is not None):
                    first_cell = xl_rowcol_to_cell(header + 1, col)
                    last_cell = xl_rowcol_to_cell(max(last, header + 1), col)
                    worksheet.write_formula(trow, col,
                        '=SUBTOTAL(9,%s:%s)' % (first_cell, last_cell),
                        fmt, value=float(value))
                elif value is not None:
                    worksheet.write_string(trow, col, str(value), fmt)
                else:
                    worksheet.write_blank(trow, col, None, fmt)
    workbook.close()
    return output.getvalue()


def write_cell(worksheet, row, col, kind, value, formats):
    fmt = formats[kind]
    if value is None or value == '':
        worksheet.write_blank(row, col, None, fmt)
    elif kind in {'money', 'int', 'days'}:
        worksheet.write_number(row, col, float(value), fmt)
    elif kind in {'date', 'month', 'datetime'}:
        worksheet.write_datetime(row, col, value, fmt)
    else:
        worksheet.write_string(row, col, str(value), fmt)


def format_cell(value, kind, digits=2):
    "A value as the PDF prints it"
    if value is None or value == '':
        return ''
    if isinstance(value, str):
        return value
    if kind == 'money':
        return '{:,.{}f}'.format(Decimal(value), digits)
    if kind == 'days':
        return '{:,.2f}'.format(Decimal(value))
    if kind == 'int':
        return '{:,}'.format(value)
    if kind == 'month':
        return value.strftime('%Y-%m')
    if kind == 'datetime' and isinstance(value, dt.datetime):
        return value.strftime('%Y-%m-%d %H:%M')
    if kind == 'date':
        return value.strftime('%Y-%m-%d')
    return str(value)


class IspReport(Report):
    "A staff report computed by isp.report.data (not registered)"
    #: the isp.report.data classmethod giving the report
    data_method = None

    @classmethod
    def get_context(cls, records, header, data):
        ReportData = Pool().get('isp.report.data')
        context = super().get_context(records, header, data)
        context['report'] = getattr(ReportData, cls.data_method)(data)
        context['cell'] = format_cell
        return context


class IspPdfReport(IspReport):
    "The report as PDF (HTML template converted by weasyprint)"
    #: rows a PDF may hold: laying out more takes minutes of a server
    #: thread, and nobody reads them on paper (Excel has no such limit)
    max_rows = 10_000

    @classmethod
    def get_context(cls, records, header, data):
        context = super().get_context(records, header, data)
        rows = sum(len(s['rows']) for s in context['report']['sheets'])
        if rows > cls.max_rows:
            raise ReportError(gettext('isp_billing.msg_report_pdf_too_long',
                    rows=rows, max=cls.max_rows))
        return context


class IspXlsxReport(IspReport):
    "The report as an Excel workbook (the action has no template)"

    @classmethod
    def render(cls, report, report_context):
        return xlsx_workbook(report_context['report'])

    @classmethod
    def convert(cls, report, data, **kwargs):
        return 'xlsx', data


class RevenueXlsx(IspXlsxReport):
    __name__ = 'isp.report.revenue.xlsx'
    data_method = 'revenue'


class RevenuePdf(IspPdfReport):
    __name__ = 'isp.report.revenue.pdf'
    data_method = 'revenue'


class CustomersXlsx(IspXlsxReport):
    __name__ = 'isp.report.customers.xlsx'
    data_method = 'customers'


class CustomersPdf(IspPdfReport):
    __name__ = 'isp.report.customers.pdf'
    data_method = 'customers'


class PlansXlsx(IspXlsxReport):
    __name__ = 'isp.report.plans.xlsx'
    data_method = 'plans'


class PlansPdf(IspPdfReport):
    __name__ = 'isp.report.plans.pdf'
    data_method = 'plans'


class PaymentsXlsx(IspXlsxReport):
    __name__ = 'isp.report.payments.xlsx'
    data_method = 'payments'


class PaymentsPdf(IspPdfReport):
    __name__ = 'isp.report.payments.pdf'
    data_method = 'payments'
