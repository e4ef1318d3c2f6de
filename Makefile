# One source of truth for set-up: the README, .ci/run and developers call these targets.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# python3.13 where present (the seed's target), else any Python >= 3.11.
PYTHON ?= $(shell for p in python3.13 $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13) python3.12 python3.11 python3; do \
	"$$p" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo "$$p"; break; }; done)

.PHONY: install system-deps demo compose-demo test lint bench crd proto clean kind-up deploy e2e

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: Python >= 3.11 not found" >&2; exit 3; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@# An editable install is not byte-compiled; under PYTHONDONTWRITEBYTECODE nothing ever is.
	$(BIN)/python -m compileall -q operator >/dev/null
	touch $(STAMP)

# The system packages the demo and the tests need: redis-server, and PostgreSQL's server (the
# history tests initdb a throwaway cluster of their own; nothing is set up in the system one).
system-deps:
	@packages=""; \
	command -v redis-server >/dev/null || packages="$$packages redis-server"; \
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || packages="$$packages postgresql"; \
	if [ -n "$$packages" ]; then \
		echo "installing$$packages (apt)"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$packages >/dev/null; \
	fi

demo: install system-deps
	$(BIN)/test-coordinator demo

# The demo stack as a compose project (compose.yaml; needs Docker and a registry for the base
# images): up, crash the risk monitor from test-coordinator's own container, down again.
COMPOSE ?= docker compose
compose-demo:
	$(COMPOSE) up -d --build && $(COMPOSE) run --rm chaos; \
		status=$$?; $(COMPOSE) down --timeout 5; exit $$status

test: install system-deps
	$(BIN)/pytest

lint: install
	$(BIN)/ruff format --check operator tests bench
	$(BIN)/ruff check operator tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

# valgrind counts the instructions each CLI runs before its first service starts (bench/cli.py).
bench: install system-deps
	@command -v valgrind >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null; }
	$(BIN)/python -m bench

crd: install
	$(BIN)/test-coordinator crd > crds/chaosscenario.yaml

# Kubernetes (needs kind, kubectl and Docker): a kind cluster with the image built and loaded,
# the CRD and the operator deployed, and the demo trading stack in namespace `trading`.
KIND_CLUSTER ?= test-coordinator
IMAGE ?= test-coordinator:dev
kind-up:
	kind get clusters | grep -qx $(KIND_CLUSTER) || kind create cluster --name $(KIND_CLUSTER)
	docker build -t $(IMAGE) .
	kind load docker-image $(IMAGE) --name $(KIND_CLUSTER)
	$(MAKE) deploy
	kubectl apply -k manifests/demo/

deploy:
	kubectl apply -f crds/
	kubectl wait --for condition=established --timeout=60s crd/chaosscenarios.chaos.tse.dev
	kubectl apply -k manifests/
	kubectl -n test-coordinator-system rollout status deployment/test-coordinator --timeout=120s

# The operator flows against the cluster KUBECONFIG points at (make kind-up first).
e2e: install
	KUBECONFIG=$${KUBECONFIG:-$$HOME/.kube/config} $(BIN)/pytest tests/e2e

# The generated gRPC modules are committed; tests/unit/demo/test_protos.py fails when they drift.
proto: install
	$(BIN)/python -m grpc_tools.protoc -Ioperator --python_out=operator --pyi_out=operator \
		--grpc_python_out=operator operator/test_coordinator/demo/protos/trading.proto

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
