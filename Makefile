# One entry point: every target creates or reuses the environment in .venv/.
#   make demo         the main job on bundled data
#   make test         style checks, then the whole test suite
#   make test-fast    the edit loop: no full-size model, no subprocess
#   make lint         flake8, isort and yapf in check mode (make format fixes)
#   make env          (re)run the set-up; make check-env prints the stack
#   make fresh-check  the cold path a new user meets: a throwaway clone with an
#                     empty HOME and cache, then `make test` and `make demo`
# Paths are absolute, so `make -C DIR` and `make -f DIR/Makefile` work from
# any folder, and a relative VENV=... is taken from where make runs.
ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
VENV ?= $(ROOT)/.venv
override VENV := $(abspath $(VENV))
PY := $(VENV)/bin/python
STAMP := $(VENV)/.promptpose-ready
SOURCES := promptpose_mm configs tools tests projects benchmarks setup.py
DEPS := $(addprefix $(ROOT)/,tools/setup_env.sh requirements/stack.txt \
	requirements/tests.txt requirements/readers.txt setup.py)

.PHONY: env demo test test-fast lint format check-env fresh-check clean

$(STAMP): $(DEPS)
	VENV=$(VENV) bash $(ROOT)/tools/setup_env.sh
	touch $(STAMP)

env:
	VENV=$(VENV) bash $(ROOT)/tools/setup_env.sh
	touch $(STAMP)

check-env: $(STAMP)
	$(PY) $(ROOT)/tools/check_env.py

demo: $(STAMP)
	cd $(ROOT) && $(PY) tools/demo.py $(DEMO_ARGS)

lint: $(STAMP)
	cd $(ROOT) && $(VENV)/bin/flake8 $(SOURCES)
	cd $(ROOT) && $(VENV)/bin/isort --check-only --diff $(SOURCES)
	cd $(ROOT) && $(VENV)/bin/yapf --diff --recursive $(SOURCES) \
		--exclude '.venv/*'

format: $(STAMP)
	cd $(ROOT) && $(VENV)/bin/isort $(SOURCES)
	cd $(ROOT) && $(VENV)/bin/yapf --in-place --recursive $(SOURCES)

# two pytest workers (pytest-xdist), each test file in one of them
XDIST ?= -n 2 --dist loadfile

test: $(STAMP) lint
	cd $(ROOT) && $(PY) -m pytest $(XDIST) $(PYTEST_ARGS)

test-fast: $(STAMP)
	cd $(ROOT) && $(PY) -m pytest $(XDIST) -m 'not slow' $(PYTEST_ARGS)

fresh-check:
	bash $(ROOT)/tools/fresh_check.sh

clean:
	rm -rf $(VENV) $(ROOT)/work_dirs $(ROOT)/.pytest_cache \
		$(ROOT)/promptpose_mm/.mim
