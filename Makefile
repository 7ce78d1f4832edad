# The two commands of the README: `make run` and `make test`. Nothing else is needed
# on a fresh machine but Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTANCE := instance

.PHONY: run test test-fast lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test]'
	touch $@ $(VENV)/.installed

# The demo's configuration: synthetic national IDs accepted, everything else default.
# (Kept once written: delete it to get the defaults back.)
$(INSTANCE)/config.toml:
	mkdir -p $(INSTANCE)
	printf '# Made by `make run` for the demo; see config.example.toml for every key.\n[patients]\naccept_synthetic_ids = true\n\n[database]\nurl = "sqlite:///$(INSTANCE)/surveillance.db"\n' > $@

HOST ?= 127.0.0.1
PORT ?= 5000

# Only the demo reads the instance folder's configuration: the tests make their own.
run: export SURVEILLANCE_CONFIG ?= $(INSTANCE)/config.toml
run: $(VENV)/.installed $(INSTANCE)/config.toml
	$(BIN)/surveillance db upgrade
	$(BIN)/surveillance demo >/dev/null
	@echo "stop with Ctrl-C; the daily e-mails are written to $(INSTANCE)/outbox/"
	$(BIN)/surveillance serve --worker --host $(HOST) --port $(PORT)

# Two processes (pytest-xdist), one per core: each makes its own databases, so the suite's
# SQLite and PostgreSQL tests run side by side (about 9 minutes, not 30, on 2 cores).
test: export PYTHONDONTWRITEBYTECODE :=
test: $(VENV)/.installed-test
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

# The fast loop (under a minute): the pure tests and everything on SQLite, two processes.
# Left out by marker or directory: PostgreSQL (`postgres`: the engine fixture's second
# backend), the wheel built and installed (`slow`), the exhaustive tables, random histories,
# whole-clinic runs and child processes (`thorough`) and the browser (tests/browser/).
# `make test` runs them all.
# Compiled bytecode is kept between runs even where the environment says not to write it
# (PYTHONDONTWRITEBYTECODE, set by Python's container images): pytest's rewritten test
# modules and the package are then read, not compiled again, by each process (~5 s of CPU).
test-fast: export PYTHONDONTWRITEBYTECODE :=
test-fast: $(VENV)/.installed-test
	$(BIN)/pytest -m "not postgres and not slow and not thorough" --ignore=tests/browser -n 2 -q $(PYTEST_ARGS)

$(VENV)/.installed-lint: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[lint]'
	touch $@ $(VENV)/.installed

# ruff (rules and their reasons in pyproject.toml), the formatting, and mypy on the package.
lint: $(VENV)/.installed-lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: $(VENV)/.installed-test
	$(BIN)/pip install -q -e '.[test,bench]'
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis

# The translation catalogue (babel.cfg says where the texts are): extract every marked text,
# merge it into the bokmål and English catalogues (translations kept, none guessed as
# fuzzy), compile the .mo files that are committed with them. Then translate what is new in
# surveillance/translations/nb/LC_MESSAGES/messages.po and run it again.
TRANSLATIONS := surveillance/translations
# Besides babel's own (_, gettext, ngettext, N_, pgettext, ...): the lazy texts of forms and
# labels, the refusals whose message is a catalogue msgid (InputError's `problem` is its
# third argument; services/exams.py passes it through _require_state), and the import's
# messages with a plural (N_plural).
BABEL_KEYWORDS := -k _l -k lazy_gettext -k InputError:3 -k Conflict:1 -k BadFile:1 \
	-k _Bad:1 -k _require_state:3 -k N_plural:1,2

.PHONY: translations
translations: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg $(BABEL_KEYWORDS) --add-comments=TRANSLATORS: \
		--no-location --sort-output --project=surveillance \
		--version="$$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)" \
		-o $(TRANSLATIONS)/messages.pot .
	$(BIN)/pybabel update -i $(TRANSLATIONS)/messages.pot -d $(TRANSLATIONS) --no-fuzzy-matching
	$(BIN)/pybabel compile -d $(TRANSLATIONS) --statistics
