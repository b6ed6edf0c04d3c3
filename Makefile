# The commands of the README: `make quickstart`, `make test` and `make test-upstream`.
# Each sets up its environment first (idempotent: a stamp file marks it done).
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.df2s2_d2-setup
# Marks an environment that `make setup` created. Any other (`make VENV=/your/env`)
# is a user's own: install/install_missing.py adds what it lacks and changes nothing.
OWN := $(VENV)/.df2s2_d2-created
PIP := $(PY) -m pip install --quiet --disable-pip-version-check -c install/constraints.txt

# `make test-upstream`: the suite on Detectron2 main built from source, in its own
# environment. The source: DETECTRON2_SRC (folder or .tar.gz), else the archive
# beside this clone in ../shared/detectron2/.
UPSTREAM_VENV ?= .venv-upstream
UPSTREAM_SRC = $(abspath $(or $(DETECTRON2_SRC),$(lastword $(sort \
	$(wildcard ../shared/detectron2/detectron2-*.tar.gz)))))

.PHONY: setup test test-upstream quickstart clean

setup: $(STAMP)

$(STAMP): setup.py install/constraints.txt $(wildcard install/*.py)
	@if [ ! -x $(PY) ]; then echo "creating $(VENV)"; $(PYTHON) -m venv $(VENV) && touch $(OWN); fi
	@if [ -e $(OWN) ]; then \
	  set -x; $(PIP) pip setuptools && $(PIP) --no-build-isolation -e ".[dev]"; \
	else \
	  set -x; $(PY) install/install_missing.py; \
	fi
	DETECTRON2_SRC="$(DETECTRON2_SRC)" $(PY) install/install_detectron2.py
	$(PY) -c "import df2s2_d2, detectron2; print('df2s2_d2 ready; detectron2', detectron2.__version__, detectron2.__file__)"
	touch $(STAMP)

test: setup
	$(PY) -m pytest -rs tests

# The stock tools' tests read DETECTRON2_SRC for Detectron2's tools/ (benchmark.py
# also needs psutil).
test-upstream:
	@test -e "$(UPSTREAM_SRC)" || { echo "No Detectron2 source: set DETECTRON2_SRC to a folder or .tar.gz of it"; exit 1; }
	$(MAKE) setup VENV=$(UPSTREAM_VENV) DETECTRON2_SRC=$(UPSTREAM_SRC)
	$(UPSTREAM_VENV)/bin/python -c "import psutil" 2>/dev/null || \
	  $(UPSTREAM_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -c install/constraints.txt psutil
	$(UPSTREAM_VENV)/bin/python -c "from detectron2 import _C; assert not getattr(_C, 'PYTHON_ONLY', False), 'not a source build'"
	DETECTRON2_SRC=$(UPSTREAM_SRC) $(UPSTREAM_VENV)/bin/python -m pytest -rs tests

quickstart: setup
	$(PY) tools/quickstart.py

clean:
	rm -rf $(VENV) $(UPSTREAM_VENV) build *.egg-info
