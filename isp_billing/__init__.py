"""isp_billing: pre-paid ISP billing for MikroTik routers (Tryton module).

Classes are registered from tryton.cfg. The only import is the customer
portal, which registers its HTTP routes on trytond's WSGI app; it is skipped
when trytond is absent, so that the router driver (isp_billing.routeros) can
be used without trytond.
"""
import importlib.util

if importlib.util.find_spec('trytond') is not None:
    from . import portal  # noqa: F401

