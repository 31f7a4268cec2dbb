# Two commands set everything up on a fresh machine with Python 3.11+:
#   make demo   — create .venv, install, run the baseline scenario and print its KPIs
#   make test   — create .venv, install, run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test test-all install clean-venv

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/o2c-sim run baseline

test: $(STAMP)
	$(BIN)/python -m pytest

# also the tests marked slow (full-size validation runs), which `make test` leaves out
test-all: $(STAMP)
	$(BIN)/python -m pytest -m ""

clean-venv:
	rm -rf $(VENV)
