"""Messages in the web client: a support agent composes a message to a
group, previews the recipients in the Send wizard and sends it; the queued
deliveries run after the request (background thread, no worker) and the
message ends Done. Screenshots: message_preview.png, message_done.png."""
import time

from playwright.sync_api import TimeoutError

from .browser_tools import BrowserTestCase


class MessageTestCase(BrowserTestCase):
    "Compose, preview and send a message"

    def test_support_sends_message_to_group(self):
        page = self.page
        self.login('support', 'support-demo-2026')
        page.locator('#menu').get_by_text('ISP Billing', exact=True).wait_for()
        self.open_menu('ISP Billing', 'Messages')
        self.wait_active_tab('Messages')
        page.locator('.tab-pane.active').get_by_title(
            'New', exact=False).first.click()
        deadline = time.monotonic() + 30
        while not self.has_field('Subject'):
            self.assertLess(time.monotonic(), deadline, 'no message form')
            time.sleep(0.2)
        self.wait_idle()
        # the choices first: a redraw of the form can drop a text typed
        # before it was committed (focus out)
        self.field('Send To').select_option(label='By Customer Type')
        self.wait_idle()
        self.field('Customer Type').select_option(label='Organization')
        self.field('Email').uncheck()
        self.wait_idle()
        self.field('Subject').fill('Browser test message')
        self.field('Subject').press('Tab')
        self.field('Text').fill('Hello from the browser test.')
        self.field('Text').press('Tab')
        self.wait_idle()
        page.locator('.tab-pane.active').get_by_title(
            'Save', exact=False).first.click()
        try:
            page.get_by_text('Record saved.').first.wait_for()
        except TimeoutError:
            self.screenshot('message_not_saved.png')
            raise
        self.wait_idle()
        dialog = page.locator('.modal-dialog:visible').filter(
            has_text='Send Message')
        for attempt in range(3):
            page.locator('.tab-pane.active button').get_by_text(
                'Send...').click()
            try:
                dialog.wait_for(timeout=10000)
                break
            except TimeoutError:
                if attempt == 2:
                    self.screenshot('message_no_wizard.png')
                    raise
        self.wait_idle()
        count = dialog.locator('input').evaluate_all(
            'els => els.map(e => e.value)')
        # the demo's organizations: the last 4 customers
        self.assertIn('4', count)
        self.assertEqual(
            dialog.locator('tbody tr:visible').count(), 4)
        self.screenshot('message_preview.png')
        dialog.locator('button').get_by_text('Send', exact=True).click()
        dialog.wait_for(state='hidden')
        page.wait_for_function(
            "() => !document.querySelector('.modal-backdrop')")
        self.wait_idle()
        # the deliveries are written after the request: reload until done
        deadline = time.monotonic() + 60
        while self.field_value('State') != 'Done':
            if time.monotonic() > deadline:
                self.screenshot('message_not_done.png')
                self.fail('the message is not done: %s'
                    % self.field_value('State'))
            try:
                page.locator('.tab-pane.active').get_by_title(
                    'Reload', exact=False).first.click(timeout=5000)
            except TimeoutError:    # a closing dialog or a notification
                continue
            self.wait_idle()
            time.sleep(0.5)
        self.assertEqual(self.field_value('Recipients'), '4')
        self.assertEqual(self.field_value('Sent'), '4')
        self.screenshot('message_done.png')
