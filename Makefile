# The README's two commands are `make run` and `make test`; both start with `make install`.
VENV ?= .venv
PYTHON ?= python3
STAMP := $(VENV)/.install-stamp
NODE_STAMP := node_modules/.install-stamp
STIK := $(VENV)/bin/stik
DEMO_PARTNERS ?= 2000

.PHONY: install run test lint bench clean messages

install: $(STAMP) $(NODE_STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

run: install
	$(STIK) db upgrade
	$(STIK) demo-data --partners $(DEMO_PARTNERS) --if-empty
	$(STIK) serve

test: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: install
	$(VENV)/bin/python bench/import.py --quick

clean:
	rm -rf $(VENV) node_modules

# Extract the workspace's texts and merge them into each language's catalogue.
messages: install
	mkdir -p var
	$(VENV)/bin/pybabel extract -F agent_ui/babel.cfg -k gettext --no-location -o var/messages.pot agent_ui customer_view
	$(VENV)/bin/pybabel update -i var/messages.pot -d agent_ui/locale --no-fuzzy-matching --width 88 --ignore-obsolete
