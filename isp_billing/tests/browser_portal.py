"""The customer portal in chromium, on the shared demo server: a demo
customer logs in, opens every page, sends a request that support answers
(over JSON-RPC, as the web client saves a reply), reads the reply, downloads
a bill; one page at a phone's size. Screenshots: var/test/screenshots/
portal-*.png."""
import time

from ..demo import PORTAL_CUSTOMERS
from .browser_tools import BrowserTestCase

PHONE = {'width': 390, 'height': 844}


class PortalBrowserTestCase(BrowserTestCase):
    "A customer's visit to the portal"

    def portal(self, path=''):
        return f'{self.url}demo/isp_billing/portal/{path}'

    def portal_login(self, page):
        _, email, password = PORTAL_CUSTOMERS[0]
        page.goto(self.portal('login'))
        page.fill('#email', email)
        page.fill('#password', password)
        page.click('#login')
        page.wait_for_selector('h1:has-text("My services")')

    def test_customer_visit(self):
        "Log in, every page, a request answered by staff, a bill downloaded"
        page = self.page
        name = PORTAL_CUSTOMERS[0][0]
        page.goto(self.portal())
        page.wait_for_selector('h1:has-text("Log in")')
        self.screenshot('portal-login.png')
        self.portal_login(page)
        self.assertIn(f'Logged in as {name}', page.inner_text('main'))
        self.assertTrue(page.locator('.service').count() >= 1)
        self.screenshot('portal-services.png')

        for link, title, shot in [
                ('Usage', 'Usage month by month', 'portal-usage.png'),
                ('Payments', 'Payments and bills', 'portal-payments.png'),
                ('My details', 'My details', 'portal-details.png'),
                ('Requests', 'Requests', 'portal-requests.png'),
                ]:
            page.click(f'nav a:has-text("{link}")')
            page.wait_for_selector(f'h1:has-text("{title}")')
            self.screenshot(shot)
            if link == 'Usage':
                self.assertGreaterEqual(
                    page.locator('svg.chart rect').count(), 2)

        # an empty subject: a clear message, then a real request
        page.fill('#text', 'My connection drops every evening.')
        page.click('#send')
        page.wait_for_selector('.alert.error:has-text("Write a subject.")')
        subject = 'Drops every evening %d' % time.time()
        page.fill('#subject', subject)
        page.select_option('#kind', 'complaint')
        page.click('#send')
        page.wait_for_selector('.alert.message:has-text("request was sent")')
        self.assertIn(subject, page.inner_text('table.requests'))

        # support answers in the inbox (a reply line saved with the form)
        session = self.rpc_login('support', 'support-demo-2026')
        found = self.rpc('model.isp.request.search',
            [('subject', '=', subject)], 0, None, None, {},
            session=session)
        request_id, = found['result']
        mails = len(self.mails)
        response = self.rpc('model.isp.request.write', [request_id], {
                'replies': [('create', [{
                                'text': 'We replaced your access point.'}])],
                }, {}, session=session)
        self.assertNotIn('error', response)
        deadline = time.monotonic() + 10
        while len(self.mails) <= mails and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(len(self.mails), mails + 1)
        self.assertIn('We replaced your access point.',
            self.mails[-1].get_body().get_content())

        page.click(f'a:has-text("{subject}")')
        page.wait_for_selector('.reply:has-text("We replaced your access")')
        self.assertIn('Answered', page.inner_text('main'))
        self.screenshot('portal-request-answered.png')

        # a bill, as the invoice report renders it
        page.click('nav a:has-text("Payments")')
        page.wait_for_selector('a.bill')
        with page.expect_download() as download_info:
            page.locator('a.bill').first.click()
        download = download_info.value
        self.assertTrue(download.suggested_filename.startswith('bill-'))
        path = download.path()
        with open(path, 'rb') as f:
            self.assertGreater(len(f.read()), 100)

        page.click('#logout')
        page.wait_for_selector('.alert.message:has-text("logged out")')

    def test_phone(self):
        "The services and payments pages at a phone's width"
        page = self.browser.new_page(viewport=PHONE)
        self.addCleanup(page.close)
        self.portal_login(page)
        width = page.evaluate('document.documentElement.scrollWidth')
        self.assertLessEqual(width, PHONE['width'])
        page.screenshot(path=self.screenshot_path('portal-phone-services.png'),
            full_page=True)
        page.click('nav a:has-text("Payments")')
        page.wait_for_selector('h1:has-text("Payments and bills")')
        page.screenshot(path=self.screenshot_path('portal-phone-payments.png'),
            full_page=True)

    def screenshot_path(self, name):
        import os
        from .browser_tools import SHOTS
        return os.path.join(SHOTS, name)
