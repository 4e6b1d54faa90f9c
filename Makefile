# Two commands for a new machine: `make run` serves Lyo, `make test` runs every test.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint format install bench audit clean

$(STAMP): requirements/base.txt requirements/production.txt requirements/local.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements/local.txt
	touch $(STAMP)

install: $(STAMP)

## Serve Lyo at http://127.0.0.1:8000 with embedded defaults (SQLite, no other server needed).
run: install
	DJANGO_SETTINGS_MODULE=lyo.settings.local $(BIN)/python manage.py migrate --noinput
	DJANGO_SETTINGS_MODULE=lyo.settings.local $(BIN)/python manage.py seed_demo
	DJANGO_SETTINGS_MODULE=lyo.settings.local $(BIN)/python manage.py runserver 127.0.0.1:8000

## The whole test suite, against PostgreSQL and Redis on localhost (see README); starts them
## (and RabbitMQ) when installed but stopped, or says in one line what is missing.
test: install
	bash tools/services.sh
	$(BIN)/pytest -n $${PYTEST_WORKERS:-2} --create-db $(PYTEST_ARGS)

## Load benchmark against PostgreSQL and Redis with production settings (see bench/run.py and
## README "Performance"). Options: BENCH_ARGS="--only feed --skip-scale --duration 5".
bench: install
	command -v wrk >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq --no-install-recommends wrk)
	$(BIN)/python -m bench $(BENCH_ARGS)

## Known vulnerabilities in the installed packages (pip-audit; see tests/security/dependency_audit.py).
audit: install
	$(BIN)/python -m tests.security.dependency_audit

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) staticfiles .pytest_cache .ruff_cache .coverage

.PHONY: check-deploy image image-smoke

## Validate the deployment files: compose, the Dockerfile (hadolint), Prometheus config and alerts,
## shell scripts (shellcheck).
check-deploy: install
	bash docker/check.sh

## Build the production image (needs a Docker engine): docker/Dockerfile, see docs/operations.md.
image:
	docker build -f docker/Dockerfile -t lyo:local .

## Build the image without a Docker engine (buildah, a debootstrap base) and run it hardened behind
## nginx: release step, web x 2, worker, beat, an API journey, one web killed (docs/operations.md).
image-smoke: install
	$(BIN)/python -m tests.deploy.image_smoke $(IMAGE_SMOKE_ARGS)
