# `make run` sets everything up (loading the seed data into an empty database) and serves the API on SQLite.
# `make test` runs the whole test suite (set DATABASE_URL to run it on PostgreSQL).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8000
# Parallel test workers; `make test PYTEST_WORKERS=0` runs in one process. Tests marked with
# one xdist_group run in one worker (tests/test_replicas.py).
PYTEST_WORKERS ?= 2

.PHONY: install install-dev run test lint schema clean

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

# The schema's linters come from npm (tests/lint); without npm their tests are skipped.
$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt tests/lint/package-lock.json
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@if command -v npm >/dev/null; then npm ci --prefix tests/lint --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the schema lint tests will be skipped"; fi
	touch $@

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_seed
	$(BIN)/python manage.py create_local_admin
	@echo "Serving on http://127.0.0.1:$(PORT)/api/ (docs: /api/docs/, admin: /admin/)"
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

test: install-dev
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

schema: install
	$(BIN)/python manage.py spectacular --validate --fail-on-warn --file schema.yaml

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache
