# The two commands of the README: `make run` and `make test`. Nothing else is needed
# on a fresh machine but Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTANCE := instance
export SURVEILLANCE_CONFIG ?= $(INSTANCE)/config.toml

.PHONY: run test bench clean

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
$(INSTANCE)/config.toml:
	mkdir -p $(INSTANCE)
	printf '# Made by `make run` for the demo; see config.example.toml for every key.\n[patients]\naccept_synthetic_ids = true\n\n[database]\nurl = "sqlite:///$(INSTANCE)/surveillance.db"\n' > $@

run: $(VENV)/.installed $(INSTANCE)/config.toml
	$(BIN)/surveillance db upgrade
	$(BIN)/surveillance demo
	$(BIN)/surveillance worklist --clinic DEMO

test: $(VENV)/.installed-test
	$(BIN)/pytest $(PYTEST_ARGS)

bench: $(VENV)/.installed-test
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .hypothesis
