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
	@echo "First run: creating $(VENV) and installing o2c-sim into it (a few minutes; later runs start at once)."
	@$(PYTHON) -c 'import ensurepip' 2>/dev/null || { echo "$(PYTHON) cannot create a venv: install python3-venv (Debian/Ubuntu: apt-get install python3-venv)"; exit 1; }
	@echo "  1/4 creating $(VENV) with $(PYTHON)"
	@$(PYTHON) -m venv $(VENV)
	@echo "  2/4 upgrading pip"
	@$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "  3/4 installing o2c-sim and its dependencies (SimPy, pandas, statsmodels, Jupyter, Voila, Dask, pytest, Playwright ...)"
	@$(BIN)/python -m pip install --quiet -e ".[test]"
	@echo "  4/4 registering the Jupyter kernel the reports run on"
	@$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)
	@echo "Installed into $(VENV)."

demo: $(STAMP)
	$(BIN)/o2c-sim run baseline

# on every core: pyproject.toml's pytest addopts run pytest-xdist with -n auto (`-n 0`: one process)
test: $(STAMP)
	$(BIN)/python -m pytest

# also the tests marked slow (full-size validation runs), which `make test` leaves out
test-all: $(STAMP)
	$(BIN)/python -m pytest -m ""

clean-venv:
	rm -rf $(VENV)
