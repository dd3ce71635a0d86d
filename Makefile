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
	$(BIN)/jupyter lab $(ROOT_FLAG) notebooks/01_groups.ipynb

lint: $(STAMP)
	$(BIN)/ruff check .
	$(if $(NOTEBOOKS),$(BIN)/nbstripout --verify $(NOTEBOOKS))

unit: $(STAMP)
	$(BIN)/python -m pytest tests -q

notebooks: $(STAMP)
	$(if $(NOTEBOOKS),EQCOURSE_FAST=1 EQCOURSE_PROGRESS=0 MPLBACKEND=Agg $(OFFLINE) $(BIN)/python -m pytest --nbval-lax -q -p no:cacheprovider $(NOTEBOOKS),@echo 'no notebooks yet')

test: lint unit notebooks e2e

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
	$(BIN)/python benchmarks/rot_step.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache release submitted autograded feedback source gradebook.db .nbgrader.log

# --- classroom assignments (nbgrader; owner: assignments helper, see docs/teaching.md) ---
# Copies notebooks/NN_*.ipynb to source/NN_*/ and writes the student versions to release/NN_*/.
.PHONY: assignments
assignments: $(STAMP)
	$(BIN)/python scripts/assignments.py $(ARGS)

# --- offline runs, browser walkthrough (owner: Binder/e2e helper, see tests/e2e/test_lab.py) ---
# As root, `notebooks` and `e2e` run in a fresh network namespace with only loopback up: a download
# hidden anywhere in a notebook fails the run, while kernels still talk to Jupyter over 127.0.0.1.
OFFLINE = $(if $(filter 0,$(shell id -u)),unshare --net sh -c 'ip link set lo up && exec "$$0" "$$@"')
E2E_JUNIT := tests/e2e/screenshots/junit.xml
.PHONY: chromium e2e

# Debian's Chromium for the walkthrough (installed as root when missing; never a downloaded browser).
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	else echo "note: /usr/bin/chromium missing and not root: the browser walkthrough will be skipped (sudo apt-get install -y chromium)"; fi

# Each notebook once in JupyterLab in headless Chromium: Run All, no errors, widgets live, kernel <= 1 GB.
e2e: $(STAMP) chromium
	EQCOURSE_E2E=1 EQCOURSE_FAST=1 EQCOURSE_PROGRESS=0 $(OFFLINE) $(BIN)/python -m pytest tests/e2e/test_lab.py -q -rs -p no:cacheprovider --junitxml=$(E2E_JUNIT)
