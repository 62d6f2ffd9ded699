# The two commands a fresh machine needs: `make book` and `make test`.
# Both create .venv/ from requirements-lock.txt on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NB ?= $(shell find chapters -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' | sort)
export PYTHONHASHSEED := 0

.PHONY: help venv test test-package test-notebooks book notebooks lock clean

help:
	@echo "make book       build the HTML book into _build/html (from stored outputs)"
	@echo "make test       run the package tests and nbval over every notebook"
	@echo "make notebooks  re-run every notebook (or NB=path) and store its outputs and timing"

venv: $(VENV)/.installed

$(VENV)/.installed: requirements-lock.txt pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-lock.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 > /dev/null
	touch $@

test: test-package test-notebooks

# pytest exits 5 when it collects no test; that is not a failure of the book.
test-package: venv
	$(BIN)/python -m pytest tests -q || [ $$? -eq 5 ]

test-notebooks: venv
	$(BIN)/python -m pytest --nbval -q $(NB) || [ $$? -eq 5 ]

book: venv
	$(BIN)/jupyter-book build . -W -n --keep-going

notebooks: venv
	$(BIN)/python tools/run_notebooks.py $(NB)

lock: venv
	$(BIN)/python -m pip freeze --exclude-editable | sed 's/+cpu$$//' > requirements-lock.txt

clean:
	rm -rf _build
