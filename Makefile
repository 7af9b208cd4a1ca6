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
	$(VENV)/bin/pip install -q --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

test: setup
	$(VENV)/bin/pytest -q --durations=15

test-fast: setup
	$(VENV)/bin/pytest -q -m "not hil and not slow"

demo: setup
	@scripts/demo.sh

bench: setup
	for b in bench/*.py; do $(PY) $$b || exit 1; done

lint: venv
	$(VENV)/bin/ruff check edgec tests bench models

clean:
	rm -rf build out models/build
