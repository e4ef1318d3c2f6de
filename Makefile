# One source of truth for set-up: the README, .ci/run and developers call these targets.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# python3.13 where present (the seed's target), else any Python >= 3.11.
PYTHON ?= $(shell for p in python3.13 $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13) python3.12 python3.11 python3; do \
	"$$p" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo "$$p"; break; }; done)

.PHONY: install system-deps demo test lint bench crd proto clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: Python >= 3.11 not found" >&2; exit 3; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# redis-server is the one system package the demo and the tests need.
system-deps:
	@command -v redis-server >/dev/null || { \
		echo "installing redis-server (apt)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null; }

demo: install system-deps
	$(BIN)/test-coordinator demo

test: install system-deps
	$(BIN)/pytest

lint: install
	$(BIN)/ruff format --check operator tests bench
	$(BIN)/ruff check operator tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: install system-deps
	$(BIN)/python -m bench

crd: install
	$(BIN)/test-coordinator crd > crds/chaosscenario.yaml

# The generated gRPC modules are committed; tests/unit/demo/test_protos.py fails when they drift.
proto: install
	$(BIN)/python -m grpc_tools.protoc -Ioperator --python_out=operator --pyi_out=operator \
		--grpc_python_out=operator operator/test_coordinator/demo/protos/trading.proto

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
