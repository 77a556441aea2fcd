# Two commands for a fresh clone: `make run` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app statsservice
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 5005
PYTEST_ARGS ?=

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
	$(BIN)/pytest -q $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
