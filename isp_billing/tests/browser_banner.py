"""The login banner in the web client: an administrator sets it over
JSON-RPC, the login dialog shows its text (as text, never as HTML) and its
image. Screenshot: var/test/screenshots/login_banner.png."""
import base64
import datetime as dt

from .browser_tools import BrowserTestCase
from .test_banner import png


class LoginBannerTestCase(BrowserTestCase):
    "Login banner on sao's login dialog"

    def test_banner_on_login_dialog(self):
        admin = self.rpc_login('admin', 'admin-isp-demo')
        start = dt.datetime.now(dt.timezone.utc).replace(
            tzinfo=None, microsecond=0) - dt.timedelta(minutes=1)
        text = '<b>x</b> Maintenance tonight 02:00-03:00'
        picture = png(240, 40, (230, 126, 34))
        response = self.rpc('model.isp.banner.create', [{
                    'name': 'Browser test', 'text': text,
                    'image': {'__class__': 'bytes',
                        'base64': base64.b64encode(picture).decode()},
                    'active_from': self.rpc_datetime(start),
                    }], {}, session=admin)
        self.assertIn('result', response, response)
        banner_id, = response['result']
        self.addCleanup(self.rpc, 'model.isp.banner.delete', [banner_id], {},
            session=admin)

        page = self.page
        page.goto(self.url)
        page.locator('#database:visible').wait_for()
        banner = page.locator('.login-dialog .isp-login-banner')
        banner.wait_for()
        paragraph = banner.locator('.isp-login-banner-text')
        self.assertEqual(paragraph.inner_text(), text)
        # shown as text: no <b> element was made from it
        self.assertEqual(banner.locator('b').count(), 0)
        image = banner.locator('img')
        self.assertEqual(image.count(), 1)
        page.wait_for_function(
            "() => { const i = document.querySelector("
            "'.isp-login-banner img'); return i && i.complete; }")
        self.assertEqual(image.evaluate('e => e.naturalWidth'), 240)
        self.assertTrue(image.is_visible())
        self.screenshot('login_banner.png')

        # logging in still works with the banner above the form
        self.login('admin', 'admin-isp-demo')
        page.locator('#menu').wait_for()
