"""The staff dashboard in sao: it opens at login, its charts are drawn from
the SQL models (SVG shapes, no JavaScript error), a list row opens its
record, and a technician sees only the routers assigned to them."""
from .browser_tools import BrowserTestCase

#: panel titles of the boards (data/dashboard.xml)
CHARTS = ['Customers per Router', 'Monthly Change of Customers',
    'Active Services per Plan', 'Revenue per Month by Payment Method']
LISTS = ["Today's Expired Services", 'Services Expiring in the Next 3 Days',
    'Unpaid Renewal Bills', 'Routers Offline or Out of Sync',
    'Customer Requests to Handle']


class DashboardTestCase(BrowserTestCase):
    "The dashboard as ISP staff see it"

    def panel(self, title):
        return self.page.locator('.tab-pane.active .board-action').filter(
            has=self.page.locator('.panel-heading', has_text=title))

    def wait_dashboard(self, charts):
        "Wait for the home tab and every chart's shapes; the panel titles"
        page = self.page
        page.locator('#menu').get_by_text('ISP Billing', exact=True).wait_for()
        page.locator('#tablist li.active').get_by_text(
            'Dashboard', exact=True).first.wait_for()
        for title in charts:
            # billboard.js draws bars, lines and pie slices as paths
            self.panel(title).locator(
                'svg .bb-chart path').first.wait_for(state='attached')
        self.wait_idle()
        return page.locator(
            '.tab-pane.active .board-action .panel-heading').all_inner_texts()

    def shapes(self, title):
        "Number of drawn shapes (paths with a size) of the chart"
        return self.panel(title).locator('svg .bb-chart path').evaluate_all(
            """els => els.filter(e => {
                const d = e.getAttribute('d') || '';
                return d.length > 0 && d !== 'M0,0';
            }).length""")

    def axis_labels(self, title):
        # (SVG elements have no innerText)
        return self.panel(title).locator(
            'svg .bb-axis-x .tick text').evaluate_all(
            'els => els.map(e => e.textContent.trim())')

    def test_admin_dashboard(self):
        "The administrator lands on the full board; charts hold data"
        self.login('admin', 'admin-isp-demo')
        titles = self.wait_dashboard(CHARTS)
        self.assertEqual(sorted(t.strip() for t in titles),
            sorted(CHARTS + LISTS))
        for title in CHARTS:
            self.assertGreater(self.shapes(title), 0, title)
        # both demo routers, by name (a Many2One, not an id)
        routers = self.axis_labels('Customers per Router')
        self.assertIn('Tower North', routers)
        self.assertIn('Tower South', routers)
        # 12 months on the monthly charts
        self.assertEqual(
            len(self.axis_labels('Monthly Change of Customers')), 12)
        # the series of the revenue chart are the payment methods
        legend = self.panel('Revenue per Month by Payment Method').locator(
            'svg .bb-legend-item text').evaluate_all(
            'els => els.map(e => e.textContent.trim())')
        self.assertIn('Cash', legend)
        # the requests by state, labelled (not raw keys): the demo's open one
        requests = self.panel('Customer Requests to Handle').locator(
            'tbody tr:visible')
        requests.first.wait_for()
        self.assertEqual(requests.count(), 3)
        first = requests.first.inner_text()
        self.assertIn('Open', first)
        self.assertIn('Staff', first)
        self.screenshot('dashboard_admin.png')

        # a list row opens its record: the demo's unpaid bill
        bills = self.panel('Unpaid Renewal Bills').locator('tbody tr:visible')
        bills.first.wait_for()
        cells = bills.first.locator('td:visible').evaluate_all(
            'els => els.map(e => e.textContent.trim())')
        bills.first.locator('td:not(:has(a)):not(:has(input)):visible') \
            .last.dblclick()
        page = self.page
        page.locator('#tablist li.active').get_by_text(
            'Unpaid Renewal Bills').first.wait_for()
        # its tab lists that one bill (its customer), its form opens
        rows = page.locator('.tab-pane.active table tbody tr:visible')
        rows.first.wait_for()
        customer = cells[3]
        self.assertIn(customer, rows.first.inner_text())
        self.assertEqual(rows.count(), 1)
        rows.first.locator('td:not(:has(a)):not(:has(input)):visible') \
            .last.dblclick()
        page.locator('.tab-pane.active').get_by_text(
            'Invoice Date').first.wait_for()
        self.wait_idle()
        page.wait_for_function(
            """name => Array.from(document.querySelectorAll(
                '.tab-pane.active input')).some(e => e.value.includes(name))""",
            arg=customer)
        self.screenshot('dashboard_open_bill.png')

    def test_technician_dashboard(self):
        """The technician (assigned to Tower North) lands on the board
        without revenue, with Tower North's figures only"""
        self.login('technician', 'technician-demo-2026')
        charts = [c for c in CHARTS if not c.startswith('Revenue')]
        titles = self.wait_dashboard(charts)
        self.assertEqual(sorted(t.strip() for t in titles),
            sorted(charts + LISTS))
        for title in charts:
            self.assertGreater(self.shapes(title), 0, title)
        self.assertEqual(self.axis_labels('Customers per Router'),
            ['Tower North'])
        self.screenshot('dashboard_technician.png')
