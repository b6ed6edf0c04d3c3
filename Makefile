# The two commands of the README: `make quickstart` and `make test`.
# Both set up the environment first (idempotent).
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.df2s2_d2-setup
PIP := $(PY) -m pip install --quiet --disable-pip-version-check -c install/constraints.txt

.PHONY: setup test quickstart clean

setup: $(STAMP)

$(STAMP): setup.py install/constraints.txt install/detectron2_fallback.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) pip setuptools
	$(PIP) --no-build-isolation -e ".[dev]"
	$(PY) install/detectron2_fallback.py
	$(PY) -c "import df2s2_d2, detectron2; print('df2s2_d2 ready; detectron2', detectron2.__version__)"
	touch $(STAMP)

test: setup
	$(PY) -m pytest tests

quickstart: setup
	$(PY) tools/quickstart.py

clean:
	rm -rf $(VENV) build *.egg-info
