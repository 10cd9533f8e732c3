# Kassa: `make run` starts everything on this machine, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-prerequisites lint bench bench-load lock clean-var ha-drill

$(STAMP): requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/python manage.py runstack

# What the tests need beyond Python (Debian's chromium): installed when root, else named in one line.
test-prerequisites:
	@tools/test-prerequisites

test: test-prerequisites $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/bandit --quiet --configfile pyproject.toml --recursive --exclude ./tests,./.venv,./var,./bench,./deploy/ha .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pip install --quiet --dry-run --require-hashes --no-deps -r requirements.lock

bench: $(STAMP)
	$(BIN)/python -m bench

# Kassa under gunicorn, Celery, PostgreSQL and Redis against a bare DRF baseline (bench/RESULTS.md),
# loaded by Debian's wrk (installed by tools/bench-prerequisites); the seeded database is kept.
bench-load: $(STAMP)
	@tools/bench-prerequisites
	$(BIN)/python -m bench.load --reuse

# The high-availability drill (deploy/ha.md): Patroni on etcd, PgBouncer, HAProxy, Redis with
# Sentinel, two web nodes and two workers on loopback; nodes killed under a sales load.
ha-drill: $(STAMP)
	@deploy/ha/prerequisites
	$(BIN)/python deploy/ha/drill.py

# Re-pin every dependency (with hashes) after editing pyproject.toml.
lock: $(STAMP)
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --extra dev -o requirements.lock pyproject.toml
