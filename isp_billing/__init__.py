"""isp_billing: pre-paid ISP billing for MikroTik routers (Tryton module).

Classes are registered from tryton.cfg. Keep this file free of imports so
that the router driver (isp_billing.routeros) can be used without trytond.
"""
