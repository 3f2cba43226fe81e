# Front door. `make test` and `make serve` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8000
STACK ?= dev

.PHONY: test serve lint plan plan-update checkov bench clean

$(STAMP): requirements/service.txt requirements/infra.txt requirements/dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements/dev.txt
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

serve: $(STAMP)
	$(PY) -m service migrate
	$(PY) -m service serve --host 127.0.0.1 --port $(PORT)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy service

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
