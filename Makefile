# edgec: `make demo` and `make test` set everything up from a clean clone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.edgec-installed

.PHONY: setup system-deps venv test test-fast demo bench lint clean

setup: system-deps venv

system-deps:
	@scripts/install-system-deps.sh

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[test,tvm,ethosu]'
	@touch $(STAMP)

# Two pytest-xdist workers; tests/conftest.py keeps each module with shared build fixtures on one worker.
TEST_JOBS ?= 2
PYTEST    := $(VENV)/bin/pytest -q -n $(TEST_JOBS)

test: setup
	$(PYTEST) --durations=15

test-fast: setup
	$(PYTEST) -m "not hil and not slow"

demo: setup
	@scripts/demo.sh

bench: setup
	for b in bench/*.py; do $(PY) $$b || exit 1; done

lint: venv
	$(VENV)/bin/ruff check edgec tests bench models

clean:
	rm -rf build out models/build
