# The two commands a new user needs: `make up` (or `make demo`) and `make test`. `make help` lists the rest.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export UV_PYTHON_DOWNLOADS := never
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
KAFKA_PORT ?= 19092
export KAFKA_PORT
KAFKA_BOOTSTRAP ?= 127.0.0.1:$(KAFKA_PORT)
export KAFKA_BOOTSTRAP

.PHONY: help install kafka postgres sqs infra up demo down status test test-unit test-integration test-e2e lint fmt schemas bench

help: ## list targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(UV):
	python3 -m pip install --quiet --user uv || python3 -m pip install --quiet uv

install: $(UV) ## install uv and every Python package of the workspace (from uv.lock)
	$(UV) sync --all-packages --frozen --quiet

kafka: install ## start the local Kafka broker (jars from Maven Central) and create the registry's topics
	infra/kafka/kafka.sh start
	$(UV) run --frozen python infra/kafka/create_topics.py $(KAFKA_BOOTSTRAP)

postgres: ## start the local PostgreSQL 15 cluster and create the project's role and database
	infra/postgres/postgres.sh start

sqs: ## start the local ElasticMQ (SQS, jars from Maven Central) with the notifications queue and its dead letters
	infra/elasticmq/elasticmq.sh start

infra: kafka postgres sqs

up: infra sqs ## start Kafka, PostgreSQL, the SP-API sandbox and every service in the background
	$(UV) run --frozen python infra/stack.py up

demo: up sqs ## connect a seller through Amazon's consent page (the sandbox) and drive orders through the system
	$(UV) run --frozen python infra/demo.py

down: ## stop what `make up` started (services, sandbox, Kafka, PostgreSQL, ElasticMQ)
	-$(UV) run --frozen python infra/stack.py down
	infra/elasticmq/elasticmq.sh stop
	infra/kafka/kafka.sh stop
	infra/postgres/postgres.sh stop

status: ## show what is running and where
	-$(UV) run --frozen python infra/stack.py status
	-infra/kafka/kafka.sh status
	-infra/postgres/postgres.sh status
	-infra/elasticmq/elasticmq.sh status

test: infra sqs ## install everything, start Kafka, PostgreSQL and ElasticMQ if needed, run unit, integration and e2e tests
	$(UV) run --frozen pytest tests/unit tests/integration tests/e2e

test-unit: install ## unit tests only (no infrastructure)
	$(UV) run --frozen pytest tests/unit

test-integration: infra ## integration tests against real Kafka, PostgreSQL and ElasticMQ
	$(UV) run --frozen pytest tests/integration

test-e2e: infra ## end-to-end tests: services as processes
	$(UV) run --frozen pytest tests/e2e

lint: install ## ruff, mypy on libs, import-linter dependency rules, deptry on every workspace package
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy
	$(UV) run --frozen lint-imports
	@# Each package against its own pyproject, so a package leaning on another's dependencies fails.
	@set -e; for pkg in libs/*/ services/*/ sandbox/; do \
	  [ -f $$pkg/pyproject.toml ] && [ -d $$pkg/src ] || continue; \
	  echo "deptry $$pkg"; (cd $$pkg && $(UV) run --frozen deptry --no-ansi src); \
	done
	deploy/k8s/check.sh

fmt: install ## format and autofix
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

schemas: install ## regenerate the published JSON Schemas and AsyncAPI document of libs/contracts
	$(UV) run --frozen python -m contracts schemas

bench: infra ## run the benchmarks under bench/ (each prints its numbers and its same-run baseline)
	$(UV) run --frozen python bench/kafka_baseline.py
	$(UV) run --frozen python bench/orders_ingest.py
	$(UV) run --frozen python bench/spapi_throughput.py
	$(UV) run --frozen python bench/app_limits.py
	$(UV) run --frozen python bench/scheduler.py
	$(UV) run --frozen python bench/catalog_sync.py
	$(UV) run --frozen python bench/pii_redactor.py
	$(UV) run --frozen python bench/stock_publisher.py
	$(UV) run --frozen python bench/shipment_relay.py
