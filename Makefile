# Guard: `make run` serves on 127.0.0.1:8000; `make test` runs lint, types, import contracts and tests.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test lint types contracts pytest bench clean
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

# Front-end packages (Swagger UI for /docs) from the npm registry, pinned by package-lock.json. Their
# install scripts are not run: nothing in them is needed, and some phone home.
NODE_STAMP := node_modules/.package-lock.json
NPM := $(or $(shell command -v npm),/usr/bin/npm)

/usr/bin/npm:
	@echo "installing Debian's npm for the front-end packages"
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq npm >/dev/null

$(NODE_STAMP): package.json package-lock.json | $(NPM)
	$(NPM) ci --no-audit --no-fund --ignore-scripts --loglevel=error

run: $(STAMP) $(NODE_STAMP)
	$(BIN)/guard init
	$(BIN)/guard serve --host 127.0.0.1 --port 8000

lint: $(STAMP)
	$(BIN)/ruff check guard api console tests benchmarks
	$(BIN)/ruff format --check guard api console tests benchmarks

types: $(STAMP)
	$(BIN)/mypy guard api console benchmarks

contracts: $(STAMP)
	$(BIN)/lint-imports

# The browser tests drive Debian's Chromium through Playwright; install it when it is absent.
CHROMIUM := /usr/bin/chromium

$(CHROMIUM):
	@echo "installing Debian's chromium for the browser tests"
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null

pytest: $(STAMP) $(NODE_STAMP) $(CHROMIUM)
	$(BIN)/pytest

test: lint types contracts pytest

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) node_modules .mypy_cache .ruff_cache .pytest_cache
