# One entry point: every target creates or reuses the environment in .venv/.
#   make demo    the main job on bundled data
#   make test    style checks, then the whole test suite
#   make lint    flake8, isort and yapf in check mode (make format fixes)
#   make env     (re)run the set-up; make check-env prints the stack
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.promptpose-ready
SOURCES := promptpose_mm configs tools tests projects setup.py

.PHONY: env demo test lint format check-env clean

$(STAMP): tools/setup_env.sh requirements/stack.txt requirements/tests.txt setup.py
	VENV=$(VENV) bash tools/setup_env.sh
	touch $(STAMP)

env:
	VENV=$(VENV) bash tools/setup_env.sh
	touch $(STAMP)

check-env: $(STAMP)
	$(PY) tools/check_env.py

demo: $(STAMP)
	$(PY) tools/demo.py $(DEMO_ARGS)

lint: $(STAMP)
	$(VENV)/bin/flake8 $(SOURCES)
	$(VENV)/bin/isort --check-only --diff $(SOURCES)
	$(VENV)/bin/yapf --diff --recursive $(SOURCES) --exclude '$(VENV)/*'

format: $(STAMP)
	$(VENV)/bin/isort $(SOURCES)
	$(VENV)/bin/yapf --in-place --recursive $(SOURCES)

test: $(STAMP) lint
	$(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) work_dirs .pytest_cache promptpose_mm/.mim
