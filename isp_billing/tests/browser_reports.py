"""The staff reports through the web client: the wizard from ISP Billing >
Reports, its Excel and PDF buttons, and the files the browser downloads."""
import io
import os

import openpyxl
from pypdf import PdfReader

from .browser_tools import SHOTS, BrowserTestCase


class ReportsBrowserTestCase(BrowserTestCase):
    "Staff download reports from sao"

    def run_report(self, menu, button, filename):
        "Open the report's wizard, press button, download the file"
        page = self.page
        page.locator('#menu').get_by_text('ISP Billing', exact=True).wait_for()
        self.open_menu('ISP Billing', 'Reports', menu)
        dialog = page.locator('.modal-dialog:visible').filter(
            has=page.get_by_role('button', name=button))
        dialog.wait_for()
        self.wait_idle()
        self.screenshot('report_wizard_%s.png' % button.lower())
        # sao shows a Download dialog whose link clicks itself
        with page.expect_download(timeout=60000) as info:
            dialog.get_by_role('button', name=button).click()
        download = info.value
        self.assertEqual(download.suggested_filename, filename)
        path = os.path.join(SHOTS, filename)
        download.save_as(path)
        with open(path, 'rb') as f:
            return f.read()

    def test_revenue_to_excel(self):
        "An accountant downloads the revenue workbook"
        self.login('accountant', 'accountant-demo-2026')
        content = self.run_report('Revenue Report', 'Excel', 'Revenue.xlsx')
        book = openpyxl.load_workbook(io.BytesIO(content), data_only=True)
        self.assertEqual(book.sheetnames, ['By Payment Method', 'By Day',
                'By Customer Type', 'Detail'])
        sheet = book['Detail']
        self.assertIn('Revenue', sheet['A1'].value)
        self.assertEqual(sheet['A4'].value, 'Date')
        self.assertEqual(sheet['K4'].value, 'Registered By')

    def test_customers_to_pdf(self):
        "Support downloads the customers PDF; revenue is not theirs"
        page = self.page
        self.login('support', 'support-demo-2026')
        content = self.run_report('Customers Report', 'PDF', 'Customers.pdf')
        self.assertTrue(content.startswith(b'%PDF'))
        text = '\n'.join(p.extract_text()
            for p in PdfReader(io.BytesIO(content)).pages)
        for expected in ['Customers', 'By Customer Type', 'By Router',
                'Customer List', 'Amina Njoroge']:
            self.assertIn(expected, text)
        menu = page.locator('#menu')
        self.assertEqual(menu.get_by_text('Revenue Report', exact=True)
            .count(), 0)
        self.assertEqual(menu.get_by_text('Payment Information', exact=True)
            .count(), 0)
