# The two commands a fresh machine needs: `make book` and `make test`.
# Both create .venv/ from requirements-lock.txt on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Colab's stack (requirements-colab.txt): every notebook must also run there.
COLAB_VENV := .venv-colab
COLAB_BIN := $(COLAB_VENV)/bin
NB ?= $(shell find chapters -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' | sort)
export PYTHONHASHSEED := 0

.PHONY: help venv venv-colab test test-package test-notebooks test-colab test-browser screenshots book publish-check publish-sync release notebooks bench format lock clean

help:
	@echo "make book       build the HTML book into _build/html (from stored outputs)"
	@echo "make test       run the package tests and nbval over every notebook, on the lock"
	@echo "                file's stack and on Colab's (requirements-colab.txt), then build"
	@echo "                the book and test it in Chromium (skipped, saying so, without one)"
	@echo "make screenshots     PNGs of one page per chapter, light and dark, in _build/screenshots"
	@echo "make notebooks  re-run every notebook (or NB=path) and store its outputs and timing"
	@echo "make bench      time training and generation of the GPT-2 and Llama presets in both"
	@echo "                frameworks; prints a table (tools/bench.py --help: sizes, peak)"
	@echo "make format     format notebook code to the page width (ruff, pyproject.toml)"
	@echo "make publish-check   check that links, setup cells and the built book follow"
	@echo "                _config.yml's repository.url and the package version"
	@echo "make publish-sync    make them follow it (after editing repository.url)"
	@echo "make release VERSION=X.Y.Z   set the version and every setup cell's tag"

venv: $(VENV)/.installed

$(VENV)/.installed: requirements-lock.txt pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-lock.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 > /dev/null
	touch $@

venv-colab: $(COLAB_VENV)/.installed

$(COLAB_VENV)/.installed: requirements-colab.txt pyproject.toml
	test -d $(COLAB_VENV) || $(PYTHON) -m venv $(COLAB_VENV)
	$(COLAB_BIN)/python -m pip install --quiet --upgrade pip
	$(COLAB_BIN)/python -m pip install --quiet -r requirements-colab.txt
	$(COLAB_BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

test: test-package test-notebooks test-colab book test-browser

# pytest exits 5 when it collects no test; that is not a failure of the book.
# The exercises' solutions (tests/test_solutions.py) run once, on Colab's stack in test-colab:
# that is where readers run them, and twice would add minutes to every CI run.
test-package: venv
	$(BIN)/python -m pytest tests -q --ignore=tests/browser --ignore=tests/test_solutions.py \
		|| [ $$? -eq 5 ]

test-notebooks: venv
	$(BIN)/python -m pytest --nbval -q $(NB) || [ $$? -eq 5 ]

# Colab's stack: stored outputs come from the lock file's stack, so outputs are not compared
# (nbval-lax), but every cell runs and every assert must hold; the package tests run too.
test-colab: venv-colab
	$(COLAB_BIN)/python -m pytest tests -q --ignore=tests/test_notebooks.py --ignore=tests/browser \
		|| [ $$? -eq 5 ]
	$(COLAB_BIN)/python -m pytest --nbval-lax --nbval-current-env -q $(NB) || [ $$? -eq 5 ]

book: venv
	$(BIN)/jupyter-book build . -W -n --keep-going

# The built book (`make book` first) in Chromium (tests/browser): math, tabs, solutions,
# search, launch links, no request off the machine. Without a Chromium, or without a built
# book, they are skipped and pytest says why (-rs); REQUIRE_BROWSER=1 makes that a failure.
test-browser: venv
	$(BIN)/python -m pytest tests/browser -q -rs

screenshots: book
	$(BIN)/python tools/screenshots.py

# After `make book`: also checks the built book's launch links.
publish-check: venv
	$(BIN)/python tools/publish.py check --html

publish-sync: venv
	$(BIN)/python tools/publish.py sync

release: venv
	@test -n "$(VERSION)" || { echo "usage: make release VERSION=X.Y.Z"; exit 2; }
	$(BIN)/python tools/publish.py release $(VERSION)

notebooks: venv
	$(BIN)/python tools/run_notebooks.py $(NB)

# Reports, does not assert: timings depend on the machine and on what else runs on it.
bench: venv
	@$(BIN)/python tools/bench.py

format: venv
	$(BIN)/ruff format $(NB)

lock: venv
	$(BIN)/python -m pip freeze --exclude-editable | sed 's/+cpu$$//' > requirements-lock.txt

clean:
	rm -rf _build
