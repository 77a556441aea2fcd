# Two commands for a fresh clone: `make run` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app statsservice
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 5005
PYTEST_ARGS ?=
JUNIT ?=

.PHONY: install run serve migrate test lint demo bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

migrate: install
	$(FLASK) db upgrade

run: migrate
	@echo "Dashboard: http://$(HOST):$(PORT)/ (empty? 'make demo' fills the hub with demo data)"
	$(FLASK) run --host $(HOST) --port $(PORT)

DEMO_ARGS ?=
demo: migrate
	$(FLASK) stats_demo $(DEMO_ARGS)

serve: migrate
	$(BIN)/gunicorn -c contrib/gunicorn.conf.py 'statsservice:create_app()'

test: install
	$(BIN)/pytest -q $(if $(JUNIT),--junitxml=$(JUNIT)) $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Processors benchmark: ingest and processed queries on gunicorn + a private PostgreSQL, sizes S and M
# (a few minutes each; BENCH_ARGS="--sizes L" for the large set); figures in docs/PERFORMANCE.md.
BENCH_ARGS ?= --sizes S,M
bench: install
	$(BIN)/python -m bench.processors $(BENCH_ARGS)

# One app node against two on one PostgreSQL + one Redis (rate-limit counters shared); a few minutes.
bench-scale-out: install
	$(BIN)/python -m bench.scale_out

.PHONY: load faults bench-scale-out
# Load test: 200 Front Offices uploading, 20 dashboard readers, on gunicorn + a private PostgreSQL
# (a few minutes); figures in docs/PERFORMANCE.md. LOAD_ARGS, e.g. --front-offices 20 --nights 1.
LOAD_ARGS ?=
load: install
	$(BIN)/python -m bench.load $(LOAD_ARGS)

# The fault tests alone: SIGKILL mid-upload, PostgreSQL restarted, global hub killed mid-push, slow clients.
faults: install
	$(BIN)/pytest -q -p no:cacheprovider tests/test_faults_kill.py tests/test_faults_postgres.py \
		tests/test_faults_federation.py tests/test_faults_slowloris.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
