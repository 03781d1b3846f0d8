# Shot Studio — two commands: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PYTEST_ARGS ?=

.PHONY: run test install install-dev check clean-var messages bench

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(PIP) install -q ".[dev]"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## Install, migrate, seed the demo once, start Redis + web + worker on 127.0.0.1 (PORT=8000).
run: install
	@$(PY) -m studio.embedded run

## Install the dev extras and run the whole suite (DATABASE_URL / REDIS_URL if set; else SQLite + embedded Redis).
test: install-dev
	$(PY) -m studio.embedded exec -- $(PY) -m pytest $(PYTEST_ARGS)

check: install-dev
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

messages: install-dev
	$(PY) manage.py makemessages -l zh_Hans -d django --ignore ".venv/*" --ignore "var/*"
	$(PY) manage.py makemessages -l zh_Hans -d djangojs --ignore ".venv/*" --ignore "var/*" --ignore "test-artifacts/*"
	$(PY) manage.py compilemessages --ignore ".venv/*"

bench: install-dev
	$(PY) -m studio.embedded exec -- $(PY) bench/run_all.py

clean-var:
	rm -rf var/
