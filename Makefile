# Tailwatch: `make up` runs the app on the embedded default; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install browser up test lint format bench soak fake-llm clean

install: $(STAMP)

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	touch $(STAMP)

# The local demo serves the collapse lab at /lab/v1 (off unless enabled; see the README).
up: export TAILWATCH_LAB_ENABLED ?= 1
up: install
	mkdir -p -m 700 var
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py bootstrap
	exec $(BIN)/honcho start -f Procfile

# The browser tests drive Debian's Chromium through Playwright (never `playwright install`).
browser:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

test: install browser
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python manage.py makemigrations --check --dry-run

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# bench_pages.py needs PostgreSQL; it creates and fills this database once.
export BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/tailwatch_bench

bench: install
	$(BIN)/python -m benchmarks

# The soak needs PostgreSQL and Redis; it drops and creates this database and empties this Redis db.
# A smaller one: make soak SOAK_ARGS="--endpoints 5 --prompts 20".
export SOAK_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/tailwatch_soak
export SOAK_REDIS_URL ?= redis://127.0.0.1:6379/12
SOAK_ARGS ?=

soak: install
	$(BIN)/python scripts/soak.py $(SOAK_ARGS)

fake-llm: install
	$(BIN)/python manage.py fake_llm --port 8100

clean:
	rm -rf $(VENV) var
