# eqcourse: `make lab` opens the course, `make test` checks all of it. Both set up .venv first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# JupyterLab refuses to run as root without --allow-root (CI and containers run as root).
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
ARGS ?=
NOTEBOOKS := $(wildcard notebooks/[0-9]*.ipynb)

.PHONY: lab test venv lint unit notebooks reproduce reproduce-fast checkpoints evaluate benchmark clean

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "error: $(PYTHON) not found; install Python 3.11 or run 'make PYTHON=/path/to/python3.11 ...'" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' || { echo "error: $(PYTHON) is not Python 3.11" >&2; exit 1; }
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab --notebook-dir=. --ServerApp.default_url=/lab/tree/notebooks/01_groups.ipynb $(ROOT_FLAG)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(if $(NOTEBOOKS),$(BIN)/nbstripout --verify $(NOTEBOOKS))

unit: $(STAMP)
	$(BIN)/python -m pytest tests -q

notebooks: $(STAMP)
	$(if $(NOTEBOOKS),EQCOURSE_FAST=1 EQCOURSE_PROGRESS=0 MPLBACKEND=Agg $(BIN)/python -m pytest --nbval-lax -q -p no:cacheprovider $(NOTEBOOKS),@echo 'no notebooks yet')

test: lint unit notebooks

reproduce: $(STAMP)
	$(BIN)/python -m eqcourse reproduce $(ARGS)

reproduce-fast: $(STAMP)
	$(BIN)/python -m eqcourse reproduce --fast $(ARGS)

# Retrain everything and replace the shipped checkpoints and results (asks nothing: it says --overwrite).
checkpoints: $(STAMP)
	$(BIN)/python -m eqcourse reproduce --save-checkpoints eqcourse/checkpoints --json eqcourse/checkpoints/results.json --overwrite $(ARGS)

evaluate: $(STAMP)
	$(BIN)/python -m eqcourse evaluate $(ARGS)

benchmark: $(STAMP)
	$(BIN)/python benchmarks/train_step.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache release submitted autograded feedback gradebook.db
