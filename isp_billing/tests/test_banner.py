"""The login banner: its active period, its validation and the public JSON
route the login dialog reads (werkzeug test client on trytond's WSGI app,
data committed as the route opens its own transaction)."""
import base64
import datetime as dt
import json
import struct
import zlib

from trytond.pool import Pool
from trytond.protocols.wrappers import Response
from trytond.tests.test_tryton import DB_NAME, Client, with_transaction
from trytond.transaction import Transaction
from trytond.wsgi import app

from ..exceptions import BannerValidationError
from ..models.banner import MAX_IMAGE_KB, image_mimetype
from ..times import utcnow
from .tools import IspTestCase

#: a 1x1 transparent PNG
PNG = base64.b64decode(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA'
    '60e6kgAAAABJRU5ErkJggg==')


def png(width, height, rgb):
    "A plain PNG picture of one colour"
    def chunk(kind, data):
        return (struct.pack('>I', len(data)) + kind + data
            + struct.pack('>I', zlib.crc32(kind + data)))
    row = b'\0' + bytes(rgb) * width
    return (b'\x89PNG\r\n\x1a\n'
        + chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0))
        + chunk(b'IDAT', zlib.compress(row * height))
        + chunk(b'IEND', b''))


class BannerTestCase(IspTestCase):
    "Login banner"

    def create(self, **values):
        Banner = Pool().get('isp.banner')
        values.setdefault('name', 'Notice')
        banner, = Banner.create([values])
        return banner

    @with_transaction()
    def test_active_period(self):
        "current() is the banner active now; the latest started wins"
        Banner = Pool().get('isp.banner')
        now = utcnow()
        day = dt.timedelta(days=1)
        self.assertIsNone(Banner.current())
        self.create(text='past', active_from=now - 3 * day,
            active_to=now - day)
        self.create(text='future', active_from=now + day)
        self.assertIsNone(Banner.current())
        self.create(text='always')
        self.assertEqual(Banner.current().text, 'always')
        self.create(text='this week', active_from=now - day,
            active_to=now + 6 * day, image=PNG)
        current = Banner.current()
        self.assertEqual(current.text, 'this week')
        self.assertEqual(current.image, PNG)
        self.assertEqual(current.mimetype, 'image/png')
        # the start is inclusive, the end exclusive
        self.assertEqual(Banner.current(now + day).text, 'future')
        second = dt.timedelta(seconds=1)
        self.assertEqual(Banner.current(now + 6 * day - second).text,
            'future')
        self.assertEqual(Banner.current(now - 4 * day).text, 'always')
        self.assertEqual(Banner.current(now - 2 * day).text, 'past')
        self.assertEqual(Banner.current(now - day - second).text, 'past')
        self.assertEqual(Banner.current(now - day).text, 'this week')

    @with_transaction()
    def test_bad_input(self):
        "End before start, nothing to show, not a picture, too large"
        now = utcnow()
        cases = [
            (dict(text='x', active_from=now, active_to=now), 'ends before'),
            (dict(text='x', active_from=now,
                    active_to=now - dt.timedelta(hours=1)), 'ends before'),
            (dict(text='  '), 'needs a text or an image'),
            (dict(text='x', image=b'<svg onload="alert(1)"/>'),
                'PNG, JPEG, GIF or WebP'),
            (dict(image=PNG + b'\0' * (MAX_IMAGE_KB * 1024)), 'too large'),
            ]
        for values, text in cases:
            with self.subTest(values=sorted(values)):
                with self.assertRaises(BannerValidationError) as cm:
                    self.create(**values)
                self.assertIn(text, cm.exception.message)

    def test_image_mimetype(self):
        "Pictures are recognised by their content, not their name"
        self.assertEqual(image_mimetype(PNG), 'image/png')
        self.assertEqual(image_mimetype(png(2, 2, (0, 0, 0))), 'image/png')
        self.assertEqual(image_mimetype(b'\xff\xd8\xff\xe0rest'), 'image/jpeg')
        self.assertEqual(image_mimetype(b'GIF89a...'), 'image/gif')
        self.assertEqual(image_mimetype(b'RIFF\0\0\0\0WEBPVP8 '), 'image/webp')
        self.assertIsNone(image_mimetype(b'<html>'))
        self.assertIsNone(image_mimetype(None))

    def test_route(self):
        "GET /<db>/isp_billing/banner: the current banner as JSON, public"
        client = Client(app, Response)
        url = '/%s/isp_billing/banner' % DB_NAME

        def get():
            response = client.get(url)
            self.assertEqual(response.status_code, 200)
            self.assertEqual(response.headers['Content-Type'],
                'application/json')
            self.assertEqual(response.headers['Cache-Control'], 'no-cache')
            return json.loads(response.get_data(as_text=True))

        self.assertEqual(get(), {'text': '', 'image': None})
        with Transaction().start(DB_NAME, 0):
            Banner = Pool().get('isp.banner')
            Banner.create([{'name': 'Outage', 'text': '<b>x</b> & "y"',
                        'image': PNG,
                        'active_from': utcnow() - dt.timedelta(hours=1)}])
        try:
            data = get()
            # returned as it is: the login dialog inserts it as text
            self.assertEqual(data['text'], '<b>x</b> & "y"')
            self.assertEqual(data['image'], 'data:image/png;base64,'
                + base64.b64encode(PNG).decode())
            # only GET
            self.assertEqual(client.post(url).status_code, 405)
        finally:
            with Transaction().start(DB_NAME, 0):
                Banner = Pool().get('isp.banner')
                Banner.delete(Banner.search([]))
        self.assertEqual(get(), {'text': '', 'image': None})
