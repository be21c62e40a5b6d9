# The template's two commands: `make demo` and `make test`.
# Both bootstrap .venv from requirements-dev.txt on first use.
VENV := .venv
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed
DEMO_DIR := .demo

.PHONY: demo test lint clean

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
	PATH="$(BIN):$$PATH" $(BIN)/python -m pytest

lint: $(STAMP)  ## Lint the hooks and the template's tests
	$(BIN)/ruff check hooks tests
	$(BIN)/ruff format --check hooks tests

clean:
	rm -rf $(VENV) $(DEMO_DIR)
