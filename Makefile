# Two commands on a fresh machine (Python 3.11+):
#   make demo   - installs the runtime and runs the whole service on bundled sample tickets
#   make test   - installs the test tools (and the optional hybrid-retrieval extra, which the tests
#                 cover), then runs the gates: ruff, mypy, and the test suite with its branch-coverage
#                 floor (needs PostgreSQL and Redis)
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test bench model clean

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt requirements-semantic.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt -r requirements-semantic.txt
	touch $@

demo: $(VENV)/.runtime
	$(PY) -m bot demo

# The coverage floor is below what the suite measures in-process (92 % of branches on
# 2026-12-04): lowering it needs a reason in the commit that does so.
COVERAGE_FLOOR ?= 90

test: $(VENV)/.dev
	$(PY) -m ruff check .
	$(PY) -m mypy
	$(PY) -m pytest --cov --cov-report=term-missing:skip-covered --cov-fail-under=$(COVERAGE_FLOOR)

bench: $(VENV)/.dev
	$(PY) bench/requests_per_ticket.py
	$(PY) bench/retrieval.py
	$(PY) bench/train_speed.py
	$(PY) bench/slow_clients.py

# Retrain the bundled triage model from config/training/default.yaml (reproducible).
model: $(VENV)/.runtime
	$(PY) -m bot.triage.build_default

clean:
	rm -rf $(VENV) instance .pytest_cache
