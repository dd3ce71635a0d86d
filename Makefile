# eqcourse: `make lab` opens the course, `make test` checks all of it. Both set up .venv first.
# Every Python the pinned wheels (requirements.txt) exist for; CI tests 3.11. Checked with
# `pip install --dry-run --only-binary=:all: --python-version 3.X -r requirements.txt`: 3.10 has no numpy 2.4.6, 3.15 no torch.
PYTHONS := 3.11 3.12 3.13 3.14
# The first of python3.11, python3.12, ... that runs, else python3; `make PYTHON=/path/to/python3.12` chooses.
PYTHON ?= $(or $(firstword $(foreach v,$(PYTHONS),$(shell python$(v) -c '' 2>/dev/null && echo python$(v)))),python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# JupyterLab refuses to run as root without --allow-root (CI and containers run as root).
ROOT_FLAG := $(shell [ "$$(id -u)" = 0 ] && echo --allow-root)
ARGS ?=
NOTEBOOKS := $(wildcard notebooks/[0-9]*.ipynb)

.PHONY: lab test venv lint unit integration notebooks reproduce reproduce-fast checkpoints evaluate benchmark clean

venv: $(STAMP)

# $(call check_python,python,what to do): a clear error unless `python` runs and is one of $(PYTHONS).
check_python = { $(1) -c '' 2>/dev/null || { echo "error: $(1) not found; the course needs Python $(PYTHONS): $(2)" >&2; exit 1; }; } && \
	$(1) -c 'import sys; v = "%d.%d" % sys.version_info[:2]; sys.exit(None if v in "$(PYTHONS)".split() else \
	"error: $(1) is Python %s; the course needs Python $(PYTHONS) (the pinned wheels exist for these): $(2)" % v)'

$(STAMP): requirements.txt pyproject.toml
	@[ -x $(BIN)/python ] || { $(call check_python,$(PYTHON),install one or choose it with make PYTHON=/path/to/python3.12); }
	[ -x $(BIN)/python ] || $(PYTHON) -m venv $(VENV)
	@$(call check_python,$(BIN)/python,rm -rf $(VENV) and run make again)
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

lab: $(STAMP)
	$(BIN)/jupyter lab $(ROOT_FLAG) notebooks/01_groups.ipynb

lint: $(STAMP)
	$(BIN)/ruff check .
	$(if $(NOTEBOOKS),$(BIN)/nbstripout --verify $(NOTEBOOKS))

# Unit tests: quick, in-process. Integration tests (marked `integration`: nbgrader assignments, the student
# wheel in a fresh venv, repo2docker, notebooks run in kernels, `make` itself) are their own step.
unit: $(STAMP)
	$(BIN)/python -m pytest tests -q -m "not integration"

integration: $(STAMP)
	$(BIN)/python -m pytest tests -q -m integration --ignore=tests/e2e --ignore=tests/classroom --durations=5

notebooks: $(STAMP)
	$(if $(NOTEBOOKS),EQCOURSE_FAST=1 EQCOURSE_PROGRESS=0 MPLBACKEND=Agg $(OFFLINE) $(BIN)/python -m pytest --nbval-lax -q -p no:cacheprovider $(NOTEBOOKS),@echo 'no notebooks yet')

test: lint unit integration notebooks e2e classroom-test

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
	rm -rf $(VENV) .pytest_cache .ruff_cache release submitted autograded feedback source gradebook.db .nbgrader.log \
		dist classroom/node_modules

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

# --- the classroom: JupyterHub + nbgrader's exchange for one course on one machine (see docs/teaching.md) ---
# JupyterHub's proxy comes from npm, pinned by classroom/package-lock.json, into classroom/node_modules.
CHP := classroom/node_modules/.bin/configurable-http-proxy
CLASSROOM_DIR ?= /srv/eqcourse
CLASSROOM_INSTRUCTOR ?= eqc-teacher
CLASSROOM_STUDENTS ?= eqc-student1,eqc-student2
CLASSROOM_PORT ?= 8000
.PHONY: classroom classroom-test classroom-remove sandbox-tools

$(CHP): classroom/package.json classroom/package-lock.json
	@command -v npm >/dev/null || { echo "error: npm not found; install Node.js and npm (as root: apt-get install -y nodejs npm)" >&2; exit 1; }
	npm ci --prefix classroom --no-audit --no-fund --loglevel=error
	touch $@

# The grading sandbox's tools from Debian (installed as root when missing): bubblewrap, sudo, util-linux's prlimit.
sandbox-tools:
	@if [ -x /usr/bin/bwrap ] && [ -x /usr/bin/sudo ] && [ -x /usr/bin/prlimit ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap sudo util-linux; \
	else echo "error: the grading sandbox needs bwrap, sudo and prlimit (as root: apt-get install -y bubblewrap sudo util-linux)" >&2; exit 1; fi

# A hub on http://127.0.0.1:$(CLASSROOM_PORT)/ as root: PAM login with the system passwords, a generated one
# printed once for each account that has none. Creates the users (and $(CLASSROOM_INSTRUCTOR)-grader, which runs
# submissions in the sandbox); `make classroom-remove` deletes them.
classroom: $(STAMP) $(CHP) sandbox-tools
	@[ "$$(id -u)" = 0 ] || { echo "error: the classroom runs each user's server as that user: run as root (sudo make classroom)" >&2; exit 1; }
	env -u PYTHONPATH $(BIN)/python classroom/course.py serve $(CLASSROOM_DIR) --instructor $(CLASSROOM_INSTRUCTOR) \
		--students $(CLASSROOM_STUDENTS) --port $(CLASSROOM_PORT)

classroom-remove:
	$(BIN)/python classroom/course.py remove $(CLASSROOM_DIR) --users $(CLASSROOM_INSTRUCTOR),$(CLASSROOM_STUDENTS),$(CLASSROOM_INSTRUCTOR)-grader

# Five system users play 01_groups through the exchange and try the attacks of issue 18 (tests/classroom/);
# offline like `e2e`. Needs root.
classroom-test: $(STAMP) chromium $(CHP) sandbox-tools
	EQCOURSE_CLASSROOM_TEST=1 $(OFFLINE) env -u PYTHONPATH $(BIN)/python -m pytest tests/classroom -q -rs -p no:cacheprovider \
		--junitxml=$(CLASSROOM_JUNIT)
CLASSROOM_JUNIT := tests/classroom/screenshots/junit.xml
