# Front door. `make test` and `make serve` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8000
STACK ?= dev

.PHONY: test serve smoke load lint lock plan plan-update checkov bench clean vendor-docs-ui api-docs screenshots prometheus-rules

$(STAMP): requirements/service.txt requirements/infra.txt requirements/dev.txt requirements/constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements/dev.txt -c requirements/constraints.txt
	touch $(STAMP)

# Re-pin every transitive dependency after changing a requirements/*.txt pin (needs PyPI).
lock:
	rm -rf build/lock-venv
	$(PYTHON) -m venv build/lock-venv
	build/lock-venv/bin/python -m pip install --quiet -r requirements/dev.txt -r requirements/datadog.txt
	build/lock-venv/bin/python -m pip check
	head -3 requirements/constraints.txt > build/constraints.txt
	build/lock-venv/bin/python -m pip freeze --exclude-editable >> build/constraints.txt
	mv build/constraints.txt requirements/constraints.txt
	rm -rf build/lock-venv

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

serve: $(STAMP)
	$(PY) -m service migrate
	$(PY) -m service serve --host 127.0.0.1 --port $(PORT)

# Against the local `make serve` on $(PORT) (tokens from the local key; docs/ops.md for a stack).
# make smoke [ARGS="--profile lte --budget-ms 400"]; make load [ARGS="--max-p95-ms 100"].
smoke: $(STAMP)
	$(PY) -m ops.smoke "http://127.0.0.1:$(PORT)" --requests 200 \
	  --token "$$($(PY) -m service token smoke-admin --admin)" $(ARGS)

load: $(STAMP)
	$(PY) -m ops.load "http://127.0.0.1:$(PORT)" --mint-local \
	  --users 50 --spawn-rate 10 --duration 60s $(ARGS)

# Swagger UI for /docs, vendored from npm (needs npm): make vendor-docs-ui [SWAGGER_UI_VERSION=5.x.y]
vendor-docs-ui: $(STAMP)
	$(PY) -m ops.vendor_docs_ui $(if $(SWAGGER_UI_VERSION),--version $(SWAGGER_UI_VERSION))

# docs/api.md, generated from the OpenAPI document (a test fails when it drifts).
api-docs: $(STAMP)
	$(PY) -m service.openapi --markdown > docs/api.md

# docs/admin/*.png: the admin panel's pages, taken by its browser tests (chromium, see README).
screenshots: $(STAMP)
	ADMIN_SCREENSHOTS=docs/admin $(PY) -m pytest tests/service/admin/test_browser.py -q $(PYTEST_ARGS)

# ops/prometheus/: rules, blackbox module and promtool tests from the Datadog monitors' source
# (a test fails when they drift).
prometheus-rules: $(STAMP)
	$(PY) -m ops.prometheus_files

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy service components

# Offline plan (no CLI, no credentials): resources by component, outputs, policy, cost.
# make plan STACK=prod [ARGS=--json]; make plan-update refreshes tests/plan/snapshots.
plan: $(STAMP)
	@$(PY) -m ops.plan $(STACK) $(ARGS)

plan-update: $(STAMP)
	$(PY) -m ops.plan --update-snapshots

# The real checkov on the stack exported as a Terraform plan; fails on any failure that
# policy/checkov_skips.yaml does not explain. checkov gets its own venv (its pins conflict with ours).
CHECKOV_VENV ?= .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

$(CHECKOV_STAMP): requirements/checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r requirements/checkov.txt
	touch $(CHECKOV_STAMP)

checkov: $(STAMP) $(CHECKOV_STAMP)
	$(PY) -m ops.checkov_scan $(STACK) --checkov $(CHECKOV_VENV)/bin/checkov

# Not a test: throwaway PostgreSQL + the real server + wrk; see docs/bench.md.
bench: $(STAMP)
	$(PY) bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) build .data .pytest_cache .mypy_cache .ruff_cache
