# Two commands for a fresh clone: `make run` and `make test`. Each installs what it needs:
# `make run` (and serve, migrate, demo) only the service's dependencies; test, lint, bench, load and
# faults add the development extras (pytest, ruff, playwright, locust...).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app statsservice
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
# where make run (and make serve, unless GUNICORN_BIND is set) listens: make run HOST=0.0.0.0 PORT=8080
HOST   ?= 127.0.0.1
PORT   ?= 5005
PYTEST_ARGS ?=
JUNIT ?=

.PHONY: install install-run run serve migrate test lint demo bench clean

# install: everything a developer needs; install-run: what serving the hub needs, nothing more
install: $(DEV_STAMP)
install-run: $(RUN_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $(RUN_STAMP)

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[dev]'
	touch $(DEV_STAMP) $(RUN_STAMP)

# the schema, then the public release of every final day not released yet (what the dashboard shows)
migrate: install-run
	$(FLASK) db upgrade
	$(FLASK) stats_release

run: migrate
	@echo "Dashboard: http://$(HOST):$(PORT)/ (empty? 'make demo' fills the hub with demo data)"
	$(FLASK) run --host $(HOST) --port $(PORT)

DEMO_ARGS ?=
demo: migrate
	$(FLASK) stats_demo $(DEMO_ARGS)

serve: migrate
	GUNICORN_BIND="$${GUNICORN_BIND:-$(HOST):$(PORT)}" $(BIN)/gunicorn -c contrib/gunicorn.conf.py 'statsservice:create_app()'

# JOBS=N: N pytest-xdist workers, each test file on one worker (on PostgreSQL each worker has a
# database of its own, tests/conftest.py); .ci/run uses JOBS=2.
JOBS ?=
test: install
	$(BIN)/pytest -q $(if $(JOBS),-n $(JOBS) --dist loadfile) $(if $(JUNIT),--junitxml=$(JUNIT)) $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Processors benchmark: ingest and processed queries on gunicorn + a private PostgreSQL, sizes S and M
# (a few minutes each; BENCH_ARGS="--sizes L" for the large set); figures in docs/PERFORMANCE.md.
# Each size is measured first at BENCH_BASELINE (the last revision that stored per-record rollups),
# then at this checkout, in the same run; BENCH_BASELINE= skips it.
BENCH_BASELINE ?= f03d1e4
BENCH_ARGS ?= --sizes S,M $(if $(BENCH_BASELINE),--baseline $(BENCH_BASELINE))
bench: install
	$(BIN)/python -m bench.processors $(BENCH_ARGS)

# The Front Office's real traffic (bench/fo.py): 5-record uploads from 1, 4 and 8 Front Offices,
# one request per instance of 1-100 analyses, and the Global dashboard's requests with `anrs` on 50,000
# records, first at FO_BASELINE (the old service) then at this checkout; figures in docs/PERFORMANCE.md.
# FO_ARGS="--sizes M,L" adds the large set; FO_ARGS=--smoke is the tiny run CI makes (about 2 minutes).
FO_BASELINE ?= f03d1e4
FO_ARGS ?= --sizes M
bench-fo: install
	$(BIN)/python -m bench.fo $(FO_ARGS) $(if $(FO_BASELINE),--baseline $(FO_BASELINE))

# One app node against two on one PostgreSQL + one Redis (rate-limit counters shared); a few minutes.
# SCALE_OUT_ARGS, e.g. --size 4x2 --auth-requests 20 (the smoke size of .ci/checks.d/make-targets.sh).
SCALE_OUT_ARGS ?=
bench-scale-out: install
	$(BIN)/python -m bench.scale_out $(SCALE_OUT_ARGS)

# Differential privacy (FEDERATION_DP): error of a year of monthly releases at 30 and 100
# organisations against the goals, on a scratch SQLite hub; figures in docs/PRIVACY.md.
# DP_ARGS, e.g. --epsilons 4,64 or --smoke (CI: 5 organisations, 2 months).
DP_ARGS ?=
bench-dp: install
	$(BIN)/python -m bench.dp_error $(DP_ARGS)

# Cyber weather: detection of injected changes, false warnings on flat series, weather.json latency
# (figures in docs/weather.md; several minutes). `make bench-weather WEATHER_ARGS=--smoke`: seconds.
WEATHER_ARGS ?=
bench-weather: install
	$(BIN)/python -m bench.weather $(WEATHER_ARGS)

# A global hub fed by 1,000 local hubs (a night, then a year for 100 of them), its dashboard and
# weather afterwards, database size (figures in docs/PERFORMANCE.md; tens of minutes).
# `make bench-global GLOBAL_ARGS=--smoke`: seconds.
GLOBAL_ARGS ?=
bench-global: install
	$(BIN)/python -m bench.global_hubs $(GLOBAL_ARGS)

.PHONY: load faults bench-scale-out bench-dp bench-weather bench-fo bench-global
# Load test: 200 Front Offices uploading, 20 dashboard readers, on gunicorn + a private PostgreSQL
# (a few minutes); figures in docs/PERFORMANCE.md. LOAD_ARGS, e.g. --front-offices 20 --nights 1.
LOAD_ARGS ?=
load: install
	$(BIN)/python -m bench.load $(LOAD_ARGS)

# The fault tests alone: SIGKILL mid-upload, PostgreSQL restarted, global hub killed mid-push, slow clients.
# FAULTS_ARGS: more pytest options (--collect-only: what .ci/checks.d/make-targets.sh checks).
FAULTS_ARGS ?=
faults: install
	$(BIN)/pytest -q -p no:cacheprovider tests/test_faults_kill.py tests/test_faults_postgres.py \
		tests/test_faults_federation.py tests/test_faults_slowloris.py $(FAULTS_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
