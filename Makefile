# Two commands for a new user: `make run` (demo) and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
SAO_VERSION := 8.0.11

.PHONY: run test install sao chromium pdf-libs bench clean-db

# make run settings (environment): PORT=8000 ROUTER_PORT_NORTH=18728
# ROUTER_PORT_SOUTH=18738 VAR_DIR=var DATABASE_URI=sqlite:// (scripts/run.sh)
VAR_DIR ?= var

run: install sao pdf-libs
	bash scripts/run.sh

test: install sao chromium pdf-libs
	bash scripts/test.sh

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

sao: var/sao/package/index.html var/sao/package/custom.js

# the module's fixes of the web client (isp_billing/static/custom.js)
var/sao/package/custom.js: isp_billing/static/custom.js var/sao/package/index.html
	cp isp_billing/static/custom.js $@

var/sao/package/index.html:
	@command -v npm >/dev/null || { echo "npm (Node.js) is required to install the web client"; exit 1; }
	mkdir -p var/sao
	cd var/sao && npm pack --silent tryton-sao@$(SAO_VERSION) >/dev/null \
		&& tar xzf tryton-sao-$(SAO_VERSION).tgz \
		&& cd package && npm install --silent --omit=dev --legacy-peer-deps --no-audit --no-fund
	touch var/sao/package/custom.css
	test -f $@

# Debian chromium drives the browser test (never a downloaded browser).
chromium:
	@test -x /usr/bin/chromium || { \
		echo "installing Debian chromium for the browser test"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "could not install chromium: the browser test will be reported as failed"; }

# Pango for weasyprint, which turns the HTML reports into PDF (Debian
# chromium pulls it in too); without it the PDF reports fail.
pdf-libs:
	@/sbin/ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0.so.0' || { \
		echo "installing Pango for the PDF reports (weasyprint)"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			libpango-1.0-0 libpangoft2-1.0-0 >/dev/null) \
		|| echo "could not install Pango: the PDF reports will fail"; }

bench: install pdf-libs
	bash scripts/bench.sh

clean-db:
	rm -rf $(VAR_DIR)/db $(VAR_DIR)/sim var/cache
