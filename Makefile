# facevoice: `make repro` runs the pipeline, `make test` runs the tests. Both build .venv first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DVC_NO_ANALYTICS := 1
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: venv repro test bench clean

$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.11 or run make PYTHON=/path/to/python3.11"; exit 2; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -r requirements-nodeps.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

# one stage more than the cores: a stage's DVC bookkeeping and file I/O leave a core idle otherwise
# (docs/DEVELOPING.md, "make repro")
JOBS ?= $(shell echo $$(( $$(nproc 2>/dev/null || echo 2) + 1 )))

# DVC's own stages, JOBS at a time (src/facevoice/repro.py); `dvc repro` runs the same stages one by one
repro: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m facevoice.repro --jobs $(JOBS)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc metrics show

test: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=15 $(PYTEST_ARGS)

bench: $(STAMP)
	for b in audio_features faces_detect; do PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python benchmarks/$$b.py || exit 1; done

clean:
	rm -rf data models plots metrics/*.json reports
