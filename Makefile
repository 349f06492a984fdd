# bimodal-explorer: `make serve` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5006
ARGS ?=
PYTEST_ARGS ?=

.PHONY: serve test lint install install-test system-deps demo benchmarks clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@# PyPI's newest torch/torchvision do not run on aarch64 CPUs here; pin a pair that does.
	@if [ "$$(uname -m)" = "aarch64" ]; then $(BIN)/pip install "torch==2.9.1" "torchvision==0.24.1"; fi

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# Debian's Chromium for the browser tests (never `playwright install`).
system-deps:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi; \
	  echo "Installing Debian's chromium for the browser tests"; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends chromium; \
	fi

serve: $(VENV)/.installed
	$(BIN)/python -m explorer serve --port $(PORT) $(ARGS)

# ruff's rule set (pyflakes, pycodestyle, isort, bugbear, pyupgrade) is in pyproject.toml.
lint: $(VENV)/.installed-test
	$(BIN)/ruff check .

test: $(VENV)/.installed-test system-deps lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

benchmarks: $(VENV)/.installed-test
	for b in benchmarks/embed.py benchmarks/scale.py benchmarks/serve.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean-venv:
	rm -rf $(VENV)
