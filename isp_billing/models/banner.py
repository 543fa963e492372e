"""The banner shown on the login pages (the web client's login dialog and
the customer portal): a text and/or an image with an active period.

The public route serving it is in ../banner_route.py (imported below so
that it is registered when trytond loads the module); it and the portal
call :meth:`Banner.current`.
"""
from collections import namedtuple

from trytond.i18n import gettext
from trytond.model import ModelSQL, ModelView, fields

from .. import banner_route  # noqa: F401 (registers the route)
from ..exceptions import BannerValidationError
from ..times import utcnow

#: the largest image accepted (it is sent inline to every login page)
MAX_IMAGE_KB = 512

#: (signature test, mimetype) of the pictures a browser shows
_IMAGE_TYPES = [
    (lambda d: d.startswith(b'\x89PNG\r\n\x1a\n'), 'image/png'),
    (lambda d: d.startswith(b'\xff\xd8\xff'), 'image/jpeg'),
    (lambda d: d[:6] in (b'GIF87a', b'GIF89a'), 'image/gif'),
    (lambda d: d[:4] == b'RIFF' and d[8:12] == b'WEBP', 'image/webp'),
    ]

CurrentBanner = namedtuple('CurrentBanner', ['text', 'image', 'mimetype'])


def image_mimetype(data):
    "The mimetype of a PNG, JPEG, GIF or WebP picture; None otherwise"
    data = bytes(data or b'')
    for test, mimetype in _IMAGE_TYPES:
        if test(data):
            return mimetype
    return None


class Banner(ModelSQL, ModelView):
    "Login Banner"
    __name__ = 'isp.banner'
    __string__ = "Login Banner"
    _rec_name = 'name'

    name = fields.Char("Name", required=True,
        help="For staff only; not shown.")
    text = fields.Text("Text",
        help="Shown as plain text: HTML is not interpreted.")
    image = fields.Binary("Image", filename='image_filename',
        help=f"PNG, JPEG, GIF or WebP, at most {MAX_IMAGE_KB} kB.")
    image_filename = fields.Char("Image File Name")
    active_from = fields.DateTime("Active From",
        help="Empty: since always.")
    active_to = fields.DateTime("Active To",
        help="Empty: until further notice.")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._order = [('active_from', 'DESC NULLS LAST'), ('id', 'DESC')]

    @classmethod
    def validate(cls, banners):
        super().validate(banners)
        for banner in banners:
            banner.check_banner()

    def check_banner(self):
        if (self.active_from and self.active_to
                and self.active_to <= self.active_from):
            raise BannerValidationError(gettext(
                    'isp_billing.msg_banner_period', banner=self.rec_name))
        if not (self.text or '').strip() and not self.image:
            raise BannerValidationError(gettext(
                    'isp_billing.msg_banner_empty'))
        if self.image:
            if not image_mimetype(self.image):
                raise BannerValidationError(gettext(
                        'isp_billing.msg_banner_image_type'))
            size = len(self.image)
            if size > MAX_IMAGE_KB * 1024:
                raise BannerValidationError(gettext(
                        'isp_billing.msg_banner_image_size',
                        size=(size + 1023) // 1024, max=MAX_IMAGE_KB))

    @classmethod
    def current(cls, now=None):
        """The banner to show now (text, image bytes, mimetype) or None.
        Of several active banners, the one started last wins."""
        now = now or utcnow()
        banners = cls.search([
                ['OR', ('active_from', '=', None),
                    ('active_from', '<=', now)],
                ['OR', ('active_to', '=', None), ('active_to', '>', now)],
                ], order=[('active_from', 'DESC NULLS LAST'), ('id', 'DESC')],
            limit=1)
        if not banners:
            return None
        banner, = banners
        image = bytes(banner.image) if banner.image else None
        return CurrentBanner(banner.text or '', image,
            image_mimetype(image) if image else None)
