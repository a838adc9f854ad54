# Two commands on a fresh machine: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# OpenMP threads spinning for a core make torch crawl on small shared machines (see util.py).
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: setup demo test all clean-results

setup: $(STAMP)

# Reinstall when the pins change; the editable install makes `import util, dataset` work from any folder.
$(STAMP): requirements.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

demo: setup
	$(PY) run_all.py --demo

test: setup
	$(PY) -m pytest -q

all: setup
	$(PY) run_all.py

clean-results:
	rm -rf results/*/ results/SUMMARY.md
