# The template's commands: `make demo`, `make test` and `make bench`.
# Each bootstraps .venv from requirements-dev.txt on first use.
VENV := .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed
DEMO_DIR := .demo
# make bench: where to bake, what to pass to `python -m bench.run`, and
# BENCH_SUITE=0 to skip timing the generated test suite.
BENCH_DIR ?= .bench
BENCH_ARGS ?=
BENCH_SUITE ?= 1
export BENCH_DIR BENCH_ARGS BENCH_SUITE

.PHONY: demo test bench lint clean

$(STAMP): requirements-dev.txt
	python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements-dev.txt
	touch $(STAMP)

demo: $(STAMP)  ## Bake the default project and run its demo (no server needed)
	rm -rf $(DEMO_DIR)
	$(BIN)/cookiecutter --no-input --output-dir $(DEMO_DIR) .
	PATH="$(BIN):$$PATH" $(MAKE) --no-print-directory -C $(DEMO_DIR)/my-service demo

test: $(STAMP)  ## The template's test suite: bakes every option, runs the bakes' own tests
	PATH="$(BIN):$$PATH" $(BIN)/python -m pytest -n 2 --dist worksteal

bench: $(STAMP)  ## Bake, install and benchmark the project on this machine's PostgreSQL and MariaDB (Redis broker)
	PATH="$(BIN):$$PATH" $(BIN)/python scripts/bench.py

lint: $(STAMP)  ## Lint the hooks, the scripts, the benchmark and the template's tests
	$(BIN)/ruff check hooks scripts bench tests
	$(BIN)/ruff format --check hooks scripts bench tests

clean:
	rm -rf $(VENV) $(DEMO_DIR) $(BENCH_DIR)
