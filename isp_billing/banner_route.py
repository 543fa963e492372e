"""Public, read-only HTTP route of the login banner:
GET /<db>/isp_billing/banner -> {"text": "...", "image": "data:..." | null}.

The web client's login dialog fetches it (static/custom.js) and shows the
text with jQuery .text(), never as HTML. It runs as user 0 (no session
before login) and reads only the current banner (isp.banner.current).
Imported by models/banner.py so that it is registered with the module.
"""
import base64
import json

from trytond.protocols.wrappers import (
    Response, with_pool, with_transaction)
from trytond.wsgi import app


def banner_json(banner):
    "The JSON body for a CurrentBanner (or None)"
    if banner is None:
        return {'text': '', 'image': None}
    image = None
    if banner.image:
        image = 'data:%s;base64,%s' % (banner.mimetype,
            base64.b64encode(banner.image).decode('ascii'))
    return {'text': banner.text or '', 'image': image}


@app.route('/<database_name>/isp_billing/banner', methods={'GET'})
@with_pool
@with_transaction()
def banner(request, pool):
    try:
        Banner = pool.get('isp.banner')
    except KeyError:
        # the module is installed but not activated in this database
        current = None
    else:
        current = Banner.current()
    return Response(json.dumps(banner_json(current)),
        content_type='application/json', headers={
            'Cache-Control': 'no-cache',
            'X-Content-Type-Options': 'nosniff',
            })
